// The Gatehouse dashboard: polls the admin API once a second and draws with uPlot.
// Reads: GET /v1/series?seconds=300, /v1/status, /v1/events?limit=50, /v1/top.
// Changes (need the bearer token): POST /v1/signup-mode, POST /v1/bans, DELETE /v1/bans/<cidr>.
'use strict';
(function () {
  const VERDICTS = ['passed', 'rate_limited', 'challenged', 'queued', 'shed', 'banned', 'denied', 'closed'];
  const CLASSES = ['resident', 'verified', 'anonymous', 'suspect'];
  const COLORS = ['#1a7f37', '#bf8700', '#8250df', '#0969da', '#cf222e', '#6e7781', '#953800', '#1b1f24'];
  const SECONDS = 300;
  const TOKEN_KEY = 'gatehouse.adminToken';
  const $ = (id) => document.getElementById(id);
  const state = { updates: 0, charts: {}, lastSeries: null, modeNames: ['open', 'challenge', 'queue', 'closed'] };
  window.__dashboard = state;  // read by the browser tests

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (token()) h['Authorization'] = 'Bearer ' + token();
    return h;
  }
  async function getJson(path) {
    const r = await fetch(path, { headers: headers(), cache: 'no-store' });
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }
  function text(el, s) { el.textContent = s; }
  function cell(row, value, numeric) {
    const td = document.createElement('td');
    td.textContent = value === undefined || value === null ? '–' : String(value);
    if (numeric) td.className = 'n';
    row.appendChild(td);
    return td;
  }
  function showError(message) {
    const e = $('error');
    if (message) { e.hidden = false; text(e, message); } else { e.hidden = true; text(e, ''); }
  }

  // ---- charts ------------------------------------------------------------------------------
  function makeChart(id, series, opts) {
    const el = $(id);
    const o = Object.assign({
      width: Math.max(300, el.clientWidth - 2),
      height: 220,
      scales: { x: { time: true } },
      series: [{}].concat(series),
      axes: [{}, { size: 60 }],
      legend: { live: false },
    }, opts || {});
    const data = [[]].concat(series.map(() => []));
    return new uPlot(o, data, el);
  }
  function line(label, i, extra) {
    return Object.assign({ label: label, stroke: COLORS[i % COLORS.length], width: 1.5 }, extra || {});
  }
  function initCharts() {
    state.charts.verdict = makeChart('chart-verdict', VERDICTS.map((v, i) => line(v, i)));
    state.charts.class = makeChart('chart-class', CLASSES.map((c, i) => line(c, i)));
    state.charts.latency = makeChart('chart-latency', [line('p50 ms', 3), line('p99 ms', 4)]);
    state.charts.queue = makeChart('chart-queue', [line('queue length', 3), line('admitted / s', 0)]);
    state.charts.modes = null;  // made when the routes are known
    window.addEventListener('resize', () => {
      for (const id of Object.keys(state.charts)) {
        const c = state.charts[id];
        if (c) c.setSize({ width: Math.max(300, c.root.parentNode.clientWidth - 2), height: 220 });
      }
    });
  }
  function col(s, name) { return Array.isArray(s[name]) ? s[name] : s.t.map(() => null); }
  function drawSeries(s) {
    if (!s || !Array.isArray(s.t)) return;
    state.lastSeries = s;
    if (Array.isArray(s.mode_names)) state.modeNames = s.mode_names;
    state.charts.verdict.setData([s.t].concat(VERDICTS.map((v) => col(s, v))));
    state.charts.class.setData([s.t].concat(CLASSES.map((c) => col(s, c))));
    state.charts.latency.setData([s.t, col(s, 'latency_p50_ms'), col(s, 'latency_p99_ms')]);
    state.charts.queue.setData([s.t, col(s, 'queue_length'), col(s, 'admitted')]);
    const routes = Object.keys(s.modes || {});
    const key = routes.join('\n');
    if (!state.charts.modes || state.modeRoutes !== key) {
      if (state.charts.modes) state.charts.modes.destroy();
      $('chart-modes').textContent = '';
      state.modeRoutes = key;
      state.charts.modes = makeChart('chart-modes', routes.map((r, i) => line(r, i, { paths: uPlot.paths.stepped({ align: 1 }) })), {
        scales: { x: { time: true }, y: { range: [0, 3] } },
        axes: [{}, { size: 80, splits: () => [0, 1, 2, 3], values: (u, v) => v.map((x) => state.modeNames[x] || '') }],
      });
      const list = $('route-names');
      list.textContent = '';
      for (const r of routes) { const o = document.createElement('option'); o.value = r; list.appendChild(o); }
    }
    state.charts.modes.setData([s.t].concat(routes.map((r) => s.modes[r])));
    drawNow(s);
    drawModes(s);
  }
  function sumLast(arr, n) {
    let t = 0;
    for (let i = Math.max(0, arr.length - n); i < arr.length; i++) t += arr[i] || 0;
    return t;
  }
  function figureRow(body, label, id, last, minute) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = label;
    tr.appendChild(th);
    cell(tr, last, true).id = 'fig-' + id;
    cell(tr, minute, true).id = 'fig60-' + id;
    body.appendChild(tr);
  }
  function drawNow(s) {
    const body = $('now-body');
    body.textContent = '';
    const rows = [['requests', 'requests']].concat(VERDICTS.map((v) => [v, v]), CLASSES.map((c) => [c + ' (class)', c]),
      // What accepted sign-ups paid: a bot's account against a person's is what risk pricing sets.
      [['sign-ups accepted, no challenge', 'signup_accounts_unpaid'],
        ['sign-ups accepted, base price', 'signup_accounts_base'],
        ['sign-ups accepted, risk surcharge', 'signup_accounts_surcharged']]);
    for (const [label, name] of rows) {
      const c = col(s, name);
      figureRow(body, label, name, c.length ? c[c.length - 1] : 0, sumLast(c, 60));
    }
    for (const risk of ['base', 'surcharged']) {
      const perAccount = (n) => {
        const a = sumLast(col(s, 'signup_accounts_' + risk), n);
        return a ? Math.round(sumLast(col(s, 'signup_hashes_' + risk), n) / a) : '–';
      };
      figureRow(body, 'hashes per account, ' + risk, 'hashes-' + risk, perAccount(1), perAccount(60));
    }
  }
  function drawModes(s) {
    const body = $('modes-body');
    body.textContent = '';
    for (const r of Object.keys(s.modes || {})) {
      const v = s.modes[r];
      const last = v.length ? v[v.length - 1] : null;
      const tr = document.createElement('tr');
      cell(tr, r);
      cell(tr, last === null ? 'unknown' : state.modeNames[last]);
      body.appendChild(tr);
    }
  }

  // ---- status, events, top -----------------------------------------------------------------
  function drawStatus(st) {
    const parts = ['version ' + st.version, 'up ' + st.uptime_s + ' s', 'config generation ' + st.generation,
      st.workers + ' workers'];
    if (st.bans) parts.push(st.bans.live + ' bans live');
    text($('status-line'), parts.join(' · ') + ' · updated ' + new Date().toISOString().slice(11, 19) + ' UTC');
    drawFleet(st.fleet);
  }
  // The fleet panel: hidden for a node alone (fleet null); health in words, not colour alone.
  function drawFleet(f) {
    const section = $('fleet-section');
    section.hidden = !f;
    if (!f) return;
    const sum = f.sum || {};
    const num = (v) => (typeof v === 'number' ? v.toFixed(1) : '–');
    text($('fleet-line'), 'Node ' + f.node + ' · Redis ' + (f.up ? 'up' : 'unreachable: fail-static') + ' · ' +
      f.live + ' live, ' + f.gone + ' gone · fleet ' + num(sum.requests_per_s) + ' req/s, ' +
      num(sum.refusals_per_s) + ' refused/s');
    const body = $('fleet-body');
    body.textContent = '';
    for (const n of f.nodes || []) {
      const fig = n.figures || {};
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = n.node + (n.self ? ' (this node)' : '');
      tr.appendChild(th);
      const health = cell(tr, n.state === 'live' ? 'live' : 'gone');
      health.className = n.state === 'live' ? 'ok' : 'bad';
      cell(tr, (n.age_ms / 1000).toFixed(1) + ' s ago', true);
      cell(tr, num(fig.requests_per_s), true);
      cell(tr, num(fig.refusals_per_s), true);
      cell(tr, fig.signups_total, true);
      cell(tr, fig.in_flight, true);
      cell(tr, fig.queued, true);
      body.appendChild(tr);
    }
  }
  function drawEvents(ev) {
    const body = $('events-body');
    body.textContent = '';
    const list = (ev.events || []).slice().reverse();
    for (const e of list) {
      const tr = document.createElement('tr');
      cell(tr, e.time ? e.time.replace('T', ' ').slice(0, 19) : e.at);
      cell(tr, e.kind);
      cell(tr, e.route || '');
      cell(tr, e.message || '');
      body.appendChild(tr);
    }
  }
  const TOP = [['prefixes', 'Client prefixes', true], ['asns', 'Networks (ASN)', false],
    ['user_agents', 'User agents', false], ['accounts', 'Accounts', false]];
  function drawTop(top) {
    const host = $('top-tables');
    host.textContent = '';
    for (const [key, title, bannable] of TOP) {
      const items = top[key] || [];
      const table = document.createElement('table');
      table.className = 'figures';
      table.id = 'top-' + key;
      const cap = document.createElement('caption');
      cap.textContent = title + ' (count is an upper bound; count − error a lower bound)';
      table.appendChild(cap);
      const head = document.createElement('tr');
      for (const h of ['Key', 'Count', 'Error'].concat(bannable ? ['Action'] : [])) {
        const th = document.createElement('th'); th.scope = 'col'; th.textContent = h; head.appendChild(th);
      }
      const thead = document.createElement('thead'); thead.appendChild(head); table.appendChild(thead);
      const tbody = document.createElement('tbody');
      if (!items.length) {
        const tr = document.createElement('tr'); const td = cell(tr, 'none'); td.colSpan = bannable ? 4 : 3; tbody.appendChild(tr);
      }
      for (const it of items.slice(0, 10)) {
        const tr = document.createElement('tr');
        cell(tr, it.key).className = 'key';
        cell(tr, it.count, true);
        cell(tr, it.error, true);
        if (bannable) {
          const td = document.createElement('td');
          const b = document.createElement('button');
          b.type = 'button';
          b.textContent = 'Ban';
          b.setAttribute('aria-label', 'Ban ' + it.key + ' for 1 hour');
          b.addEventListener('click', () => ban(it.key, '1h', 'dashboard: top offender'));
          td.appendChild(b);
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
      table.appendChild(tbody);
      host.appendChild(table);
    }
  }

  async function poll() {
    const [series, status, events, top] = await Promise.allSettled([
      getJson('/v1/series?seconds=' + SECONDS), getJson('/v1/status'),
      getJson('/v1/events?limit=50'), getJson('/v1/top')]);
    const errors = [];
    if (series.status === 'fulfilled') drawSeries(series.value); else errors.push(series.reason.message);
    if (status.status === 'fulfilled') drawStatus(status.value); else errors.push(status.reason.message);
    if (events.status === 'fulfilled') drawEvents(events.value); else errors.push(events.reason.message);
    if (top.status === 'fulfilled') drawTop(top.value); else errors.push(top.reason.message);
    showError(errors.length ? 'Could not read: ' + errors.join('; ') : '');
    state.updates++;
  }

  // ---- changes -----------------------------------------------------------------------------
  function needToken() {
    if (token()) return false;
    text($('action-result'), 'Enter the admin token first.');
    $('token').focus();
    return true;
  }
  async function change(method, path, body) {
    if (needToken()) return null;
    const init = { method: method, headers: headers(body ? { 'Content-Type': 'application/json' } : {}) };
    if (body) init.body = JSON.stringify(body);
    try {
      const r = await fetch(path, init);
      const j = await r.json().catch(() => ({}));
      if (!r.ok) {
        text($('action-result'), 'Refused (HTTP ' + r.status + '): ' + (j.error || r.statusText));
        return null;
      }
      return j;
    } catch (e) {
      text($('action-result'), 'Failed: ' + e.message);
      return null;
    }
  }
  async function ban(key, duration, reason) {
    const j = await change('POST', '/v1/bans', { key: key, duration: duration, reason: reason });
    if (j) text($('action-result'), 'Banned ' + (j.ban ? j.ban.key : key) + '.');
  }
  function wire() {
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('token').value.trim();
      if (v) sessionStorage.setItem(TOKEN_KEY, v);
      $('token').value = '';
      text($('action-result'), v ? 'Token kept for this tab.' : 'No token entered.');
    });
    $('forget-token').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      text($('action-result'), 'Token forgotten.');
    });
    $('mode-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const route = $('mode-route').value.trim();
      const mode = $('mode-select').value;
      const j = await change('POST', '/v1/signup-mode', { route: route, mode: mode });
      if (j) text($('action-result'), 'Sign-up mode of ' + route + ' set to ' + mode + '.');
    });
    $('ban-form').addEventListener('submit', (e) => {
      e.preventDefault();
      ban($('ban-key').value.trim(), $('ban-duration').value.trim(), $('ban-reason').value.trim());
    });
    $('unban-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const key = $('unban-key').value.trim();
      const j = await change('DELETE', '/v1/bans/' + key.split('/').map(encodeURIComponent).join('/'));
      if (j) text($('action-result'), 'Removed the ban on ' + key + '.');
    });
  }

  initCharts();
  wire();
  poll();
  setInterval(poll, 1000);
})();
