#!/usr/bin/python3
"""Records the TLS ClientHello a real client sends, as hex, for the JA4 fixtures.

Listens on 127.0.0.1 (port 0), starts the client against it, reads TLS records until the first
handshake message is complete, then closes the connection (the client fails its handshake, which
is fine: only its first flight is wanted). Loopback only; every wait is bounded.

  capture_hello.py OUT.hex CLIENT [ARG...]   (the string {port} in the arguments is replaced)

Examples (the fixtures in data/ were made with these; see data/README.md):
  capture_hello.py data/curl.hex curl -sk https://localhost:{port}/
  capture_hello.py data/chromium.hex /usr/bin/chromium --headless --no-sandbox --disable-gpu \
      --disable-background-networking --user-data-dir=/tmp/chr https://localhost:{port}/
"""
import socket
import subprocess
import sys
import time


def read_hello(conn, deadline):
    data = b""
    need = None  # length of the handshake message once its header is in
    while time.monotonic() < deadline:
        conn.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        # Walk the records, concatenating handshake fragments.
        pos, body = 0, b""
        while pos + 5 <= len(data) and data[pos] == 0x16:
            n = int.from_bytes(data[pos + 3:pos + 5], "big")
            if pos + 5 + n > len(data):
                break
            body += data[pos + 5:pos + 5 + n]
            pos += 5 + n
        if len(body) >= 4:
            need = 4 + int.from_bytes(body[1:4], "big")
            if len(body) >= need:
                return data[:pos]
    raise SystemExit("capture_hello: no complete ClientHello (got %d bytes)" % len(data))


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out, argv = sys.argv[1], sys.argv[2:]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    client = subprocess.Popen([a.replace("{port}", str(port)) for a in argv],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        srv.settimeout(30)
        conn, _ = srv.accept()
        hello = read_hello(conn, time.monotonic() + 10)
        conn.close()
    finally:
        client.kill()
        client.wait(timeout=10)
        srv.close()
    with open(out, "w") as f:
        f.write(hello.hex() + "\n")
    print("%s: %d bytes" % (out, len(hello)))


if __name__ == "__main__":
    main()
