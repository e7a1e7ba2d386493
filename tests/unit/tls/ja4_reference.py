#!/usr/bin/python3
"""An independent JA4 computation, written from the FoxIO specification (technical_details/JA4.md,
BSD-3-Clause) and RFC 8446's ClientHello layout, not from Gatehouse's code: the unit tests compare
Gatehouse's src/tls/ja4 against it on the captured hellos in data/.

  ja4_reference.py FILE.hex   prints four lines: ja4, ja4_r, ja4_o, ja4_ro

The input is the hex of the bytes a client sent (TLS records carrying the ClientHello). Only what
JA4 needs is read; this is a reference, not a validator.
"""
import hashlib
import sys


def grease(v):
    # RFC 8701: 0x0A0A, 0x1A1A, ..., 0xFAFA.
    return (v >> 8) == (v & 0xFF) and (v & 0x0F) == 0x0A


def u16s(b):
    return [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)]


def parse(raw):
    # Concatenate the handshake records' payloads.
    body, pos = b"", 0
    while pos < len(raw):
        assert raw[pos] == 22, "not a handshake record"
        n = int.from_bytes(raw[pos + 3:pos + 5], "big")
        body += raw[pos + 5:pos + 5 + n]
        pos += 5 + n
    assert body[0] == 1, "not a ClientHello"
    n = int.from_bytes(body[1:4], "big")
    h = body[4:4 + n]
    hello = {"version": int.from_bytes(h[0:2], "big"), "ciphers": [], "exts": [], "alpn": [],
             "sigs": [], "versions": []}
    p = 2 + 32
    p += 1 + h[p]                                   # session id
    n = int.from_bytes(h[p:p + 2], "big")
    hello["ciphers"] = u16s(h[p + 2:p + 2 + n])
    p += 2 + n
    p += 1 + h[p]                                   # compression methods
    if p + 2 <= len(h):
        end = p + 2 + int.from_bytes(h[p:p + 2], "big")
        p += 2
        while p < end:
            t = int.from_bytes(h[p:p + 2], "big")
            n = int.from_bytes(h[p + 2:p + 4], "big")
            d = h[p + 4:p + 4 + n]
            p += 4 + n
            hello["exts"].append(t)
            if t == 0x0010:                         # ALPN: u16 list length, u8-prefixed names
                q = 2
                while q < len(d):
                    hello["alpn"].append(d[q + 1:q + 1 + d[q]])
                    q += 1 + d[q]
            elif t == 0x000D:                       # signature_algorithms: u16 length, u16s
                hello["sigs"] = u16s(d[2:])
            elif t == 0x002B:                       # supported_versions (client): u8 length, u16s
                hello["versions"] = u16s(d[1:])
    return hello


VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
            0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def alnum(c):
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def alpn_chars(alpn):
    if not alpn or not alpn[0]:
        return "00"
    v = alpn[0]
    if not alnum(v[0]) or not alnum(v[-1]):
        x = v.hex()
        return x[0] + x[-1]
    return chr(v[0]) + chr(v[-1])


def sha12(s):
    return hashlib.sha256(s.encode()).hexdigest()[:12]


def ja4(hello):
    ciphers = [c for c in hello["ciphers"] if not grease(c)]
    exts = [e for e in hello["exts"] if not grease(e)]
    sigs = [s for s in hello["sigs"] if not grease(s)]
    versions = [v for v in hello["versions"] if not grease(v)]
    version = max(versions) if versions else hello["version"]
    a = "t" + VERSIONS.get(version, "00") + ("d" if 0 in exts else "i")
    a += "%02d%02d" % (min(len(ciphers), 99), min(len(exts), 99)) + alpn_chars(hello["alpn"])
    hx = lambda xs: ",".join("%04x" % x for x in xs)
    out = {}
    for name, cs, es in (("ja4", sorted(ciphers), sorted(e for e in exts if e not in (0, 0x10))),
                         ("ja4_o", ciphers, exts)):
        c_raw = hx(cs)
        e_raw = hx(es) + ("_" + hx(sigs) if sigs else "")
        b = sha12(c_raw) if cs else "000000000000"
        c = sha12(e_raw) if es else "000000000000"
        out[name] = "_".join((a, b, c))
        out[name.replace("ja4", "ja4_r") if name == "ja4" else "ja4_ro"] = "_".join((a, c_raw, e_raw))
    return out


def main():
    raw = bytes.fromhex(open(sys.argv[1]).read().strip())
    f = ja4(parse(raw))
    for k in ("ja4", "ja4_r", "ja4_o", "ja4_ro"):
        print(f[k])


if __name__ == "__main__":
    main()
