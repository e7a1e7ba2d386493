// The challenge page's script, served at /.gatehouse/challenge.js (see pages.h).
#include "stages/challenge/pages.h"

namespace gh::challenge {

namespace {

// Written for this project (a plain SHA-256 from FIPS 180-4 and the page logic); checked against
// pow_valid by pages_test.cc when node is installed.
constexpr std::string_view kScript = R"JS(
// Gatehouse challenge: find a nonce such that SHA-256(token + nonce) starts with `bits` zero
// bits. The same file runs on the page and, as a Web Worker, does the search. SHA-256 is written
// out here because crypto.subtle exists only in secure contexts and is async per hash.
(function () {
  'use strict';
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var W = new Int32Array(64);

  // One compression of the 64 bytes at bytes[off..] into the state h.
  function block(h, bytes, off) {
    var i, x, y;
    for (i = 0; i < 16; i++, off += 4) {
      W[i] = (bytes[off] << 24) | (bytes[off + 1] << 16) | (bytes[off + 2] << 8) | bytes[off + 3];
    }
    for (i = 16; i < 64; i++) {
      x = W[i - 15];
      y = W[i - 2];
      W[i] = (W[i - 16] + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
              W[i - 7] + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
    }
    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7], t1, t2;
    for (i = 0; i < 64; i++) {
      t1 = (k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
            ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
            ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
  }

  function ascii(s) {
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
    return out;
  }

  // Searcher over nonces start, start + step, ...: the token's whole blocks are hashed once.
  function Searcher(token, bits, start, step) {
    var bytes = ascii(token);
    var whole = bytes.length - (bytes.length % 64);
    var mid = new Int32Array(IV);
    for (var off = 0; off < whole; off += 64) block(mid, bytes, off);
    var tail = bytes.subarray(whole);
    var buf = new Uint8Array(192);  // tail (< 64) + nonce (<= 20) + padding: at most 2 blocks
    buf.set(tail);
    var h = new Int32Array(8);
    var digits = new Uint8Array(20);
    var next = start;
    this.tries = 0;
    // Tries up to `count` nonces; returns the nonce found as a string, or null.
    this.run = function (count) {
      for (var n = 0; n < count; n++, next += step) {
        var v = next, len = 0;
        do { digits[19 - len++] = 48 + (v % 10); v = Math.floor(v / 10); } while (v > 0);
        var pos = tail.length;
        for (var i = 20 - len; i < 20; i++) buf[pos++] = digits[i];
        var msgLen = whole + pos;
        buf[pos++] = 0x80;
        var end = pos + 8 <= 64 ? 64 : 128;
        while (pos < end - 4) buf[pos++] = 0;
        var bitLen = msgLen * 8;  // < 2^32 for any token we send
        buf[end - 4] = bitLen >>> 24; buf[end - 3] = (bitLen >>> 16) & 255;
        buf[end - 2] = (bitLen >>> 8) & 255; buf[end - 1] = bitLen & 255;
        h.set(mid);
        block(h, buf, 0);
        if (end === 128) block(h, buf, 64);
        this.tries++;
        var zeros = 0;
        for (var w = 0; w < 8; w++) {
          var z = Math.clz32(h[w]);
          zeros += z;
          if (z < 32) break;
        }
        if (zeros >= bits) {
          var s = '';
          for (i = 20 - len; i < 20; i++) s += String.fromCharCode(digits[i]);
          return s;
        }
      }
      return null;
    };
  }

  var BATCH = 8192;

  if (typeof document === 'undefined') {
    // Worker: search until found; the page ends the worker once any worker has an answer.
    self.onmessage = function (event) {
      var d = event.data;
      var searcher = new Searcher(String(d.token), d.bits | 0, d.start | 0, d.step | 0 || 1);
      for (;;) {
        var nonce = searcher.run(BATCH);
        if (nonce !== null) {
          self.postMessage({ nonce: nonce, tries: BATCH });
          return;
        }
        self.postMessage({ tries: BATCH });
      }
    };
    return;
  }

  var scriptUrl = document.currentScript ? document.currentScript.src : '/.gatehouse/challenge.js';

  function start() {
    var form = document.getElementById('gh-form');
    if (!form) return;
    var token = form.elements.token.value;
    var bits = parseInt(form.getAttribute('data-bits'), 10) || 0;
    var progress = document.getElementById('gh-progress');
    var status = document.getElementById('gh-status');
    var fallback = document.getElementById('gh-fallback');
    var expected = Math.pow(2, bits);
    var tries = 0, done = false, spoken = Date.now(), workers = [], inline = false;

    function say(text) { if (status) status.textContent = text; }
    // The bar moves with the chance of having found an answer by now; the live region speaks
    // at most every 4 seconds so screen readers are not flooded.
    function report(n) {
      tries += n;
      var percent = Math.min(99, Math.floor(100 * (1 - Math.exp(-tries / expected))));
      if (progress) progress.value = percent;
      var now = Date.now();
      if (now - spoken >= 4000) {
        spoken = now;
        say('Still working: about ' + percent + '% done.');
      }
    }
    function stopWorkers() {
      for (var i = 0; i < workers.length; i++) workers[i].terminate();
      workers = [];
    }
    function found(nonce) {
      if (done) return;
      done = true;
      stopWorkers();
      if (progress) progress.value = 100;
      say('Done. Continuing\u2026');
      form.elements.nonce.value = nonce;
      form.submit();
    }
    function failed() {
      if (done) return;
      done = true;
      stopWorkers();
      say('Your browser could not finish the check.');
      if (fallback) fallback.hidden = false;
    }
    // Without workers (blocked by a policy, very old browser): search on the page in slices.
    function runInline() {
      if (inline || done) return;
      inline = true;
      stopWorkers();
      var searcher = new Searcher(token, bits, 0, 1);
      (function slice() {
        if (done) return;
        var nonce;
        try { nonce = searcher.run(2048); } catch (e) { failed(); return; }
        if (nonce !== null) { found(nonce); return; }
        report(2048);
        setTimeout(slice, 0);
      })();
    }

    say('Working\u2026');
    var count = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2));
    try {
      if (typeof Worker === 'undefined') throw new Error('no workers');
      for (var i = 0; i < count; i++) {
        var w = new Worker(scriptUrl);
        w.onmessage = function (event) {
          if (done || inline) return;
          if (event.data.nonce !== undefined) found(String(event.data.nonce));
          else report(event.data.tries | 0);
        };
        w.onerror = function () { runInline(); };
        w.postMessage({ token: token, bits: bits, start: i, step: count });
        workers.push(w);
      }
    } catch (e) {
      runInline();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
)JS";

}  // namespace

std::string_view challenge_script() {
  return kScript.substr(1);
}

}  // namespace gh::challenge
