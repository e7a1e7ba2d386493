#!/usr/bin/python3
"""One request sent to two HTTP/2 servers at the same moment, round after round: a solved
challenge answered on two Gatehouse nodes at once, or a sign-up posted to both with one clearance
(tests/integration/fleet_await_test.cc).

Usage: h2_pair.py PORT_A PORT_B USER_AGENT FORMS_FILE [PATH]
  FORMS_FILE: one urlencoded form per line, each POSTed to PATH (default /.gatehouse/challenge)
  on both servers (h2c, prior knowledge), the two requests' bytes written back to back on two
  connections opened beforehand. A line "COOKIE<tab>FORM" sends COOKIE as its cookie field.
Prints one line per round: "ROUND <status on A> <status on B>". Every read is bounded
(5 s a socket) and so is the number of rounds (the file's lines, at most 1000).
"""
import socket
import sys

import h2.config
import h2.connection
import h2.events


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def prepare(conn, port, agent, form, path):
    sid = conn.get_next_available_stream_id()
    cookie, _, form = form.rpartition("\t")
    body = form.encode()
    fields = [
        (":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1:%d" % port),
        (":path", path), ("user-agent", agent),
        ("accept", "application/json"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("content-length", str(len(body))),
    ]
    if cookie:
        fields.append(("cookie", cookie))
    conn.send_headers(sid, fields)
    conn.send_data(sid, body, end_stream=True)
    return sid, conn.data_to_send()


def status_of(sock, conn, sid):
    status = 0
    for _ in range(1000):  # frames come in a few reads; bounded anyway
        data = sock.recv(65536)
        if not data:
            return status
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                status = int(dict(ev.headers)[b":status"])
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                sock.sendall(conn.data_to_send())
                return status
        sock.sendall(conn.data_to_send())
    return status


def main():
    port_a, port_b, agent, forms_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    path = sys.argv[5] if len(sys.argv) > 5 else "/.gatehouse/challenge"
    with open(forms_file) as f:
        forms = [line.strip("\r\n") for line in f if line.strip()][:1000]
    a, b = connect(port_a), connect(port_b)
    for form in forms:
        sid_a, bytes_a = prepare(a[1], port_a, agent, form, path)
        sid_b, bytes_b = prepare(b[1], port_b, agent, form, path)
        a[0].sendall(bytes_a)
        b[0].sendall(bytes_b)
        print("ROUND %d %d" % (status_of(a[0], a[1], sid_a), status_of(b[0], b[1], sid_b)),
              flush=True)


if __name__ == "__main__":
    main()
