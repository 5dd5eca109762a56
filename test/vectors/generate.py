#!/usr/bin/env python3
"""Generates the golden vectors both codecs (C++ and TypeScript) are tested against.

A third, independent implementation: AES-128-CBC comes from the `openssl enc`
command line, HMAC-SHA256 from Python's hmac module. Run it again only when
adding vectors; the output files are committed.

  secure.tsv   name key iv macKey body secured          (hex; secured = secure(body))
  packets.tsv  name kind ver cmd status payload encoded (kind: request|response; status '-' for requests)
  requests.tsv name ver cmd sid key iv macKey body encoded  (a whole encrypted request packet)
"""
import hashlib, hmac, os, subprocess, random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261125)

def rb(n):
    return bytes(rng.getrandbits(8) for _ in range(n))

def aes_cbc(key, iv, data):
    out = subprocess.run(
        ["openssl", "enc", "-aes-128-cbc", "-nopad", "-K", key.hex(), "-iv", iv.hex()],
        input=data, capture_output=True, check=True)
    return out.stdout

def secure(key, iv, mac, body):
    pad = 16 - (len(body) % 16)  # 1..16 zero bytes
    c = aes_cbc(key, iv, body + b"\0" * pad)
    tag = hmac.new(mac, c, hashlib.sha256).digest()
    return len(body).to_bytes(4, "big") + tag + c

def request(ver, cmd, payload):
    return b"\xfe\xbe\xde\xef" + bytes([ver]) + len(payload).to_bytes(3, "big") + cmd.to_bytes(2, "big") + payload

def response(ver, cmd, status, payload):
    return b"\xfe\xbe\xde\xef" + bytes([ver]) + len(payload).to_bytes(3, "big") + cmd.to_bytes(2, "big") + bytes([status]) + payload

def h(b):
    return b.hex() if b else "-"

def main():
    with open(os.path.join(HERE, "secure.tsv"), "w") as f:
        f.write("# name\tkey\tiv\tmacKey\tbody\tsecured   (hex; '-' = empty)\n")
        for name, n in [("empty", 0), ("one", 1), ("fifteen", 15), ("sixteen", 16), ("seventeen", 17),
                        ("sixty-four", 64), ("kilobyte", 1024), ("odd-1300", 1300)]:
            key, iv, mac, body = rb(16), rb(16), rb(16), rb(n)
            f.write("\t".join([name, h(key), h(iv), h(mac), h(body), h(secure(key, iv, mac, body))]) + "\n")
    with open(os.path.join(HERE, "packets.tsv"), "w") as f:
        f.write("# name\tkind\tver\tcmd\tstatus\tpayload\tencoded   (hex; '-' = empty or n/a)\n")
        cases = [("req-empty", "request", 2, 1, None, b""),
                 ("req-small", "request", 2, 1, None, rb(20)),
                 ("req-ver0", "request", 0, 1, None, rb(24)),
                 ("req-cmd-max", "request", 255, 65535, None, rb(3)),
                 ("req-big", "request", 7, 258, None, rb(70000)),
                 ("res-ok", "response", 2, 1, 1, rb(10)),
                 ("res-bad", "response", 2, 4, 4, b""),
                 ("res-err", "response", 3, 300, 5, rb(33)),
                 ("push", "response", 2, 3, 0xFF, rb(48)),
                 ("push-notification", "response", 0, 400, 0xFF, rb(5))]
        for name, kind, ver, cmd, status, payload in cases:
            enc = request(ver, cmd, payload) if kind == "request" else response(ver, cmd, status, payload)
            f.write("\t".join([name, kind, str(ver), str(cmd), "-" if status is None else str(status),
                               h(payload), h(enc)]) + "\n")
    with open(os.path.join(HERE, "requests.tsv"), "w") as f:
        f.write("# name\tver\tcmd\tsid\tkey\tiv\tmacKey\tbody\tencoded   (hex; encoded = header || sid || secure(body))\n")
        for name, ver, cmd, n in [("heartbeat-like", 0, 1, 8), ("echo-64", 2, 1, 64), ("empty-body", 0, 2, 0)]:
            sid, key, iv, mac, body = rb(16), rb(16), rb(16), rb(16), rb(n)
            enc = request(ver, cmd, sid + secure(key, iv, mac, body))
            f.write("\t".join([name, str(ver), str(cmd), h(sid), h(key), h(iv), h(mac), h(body), h(enc)]) + "\n")

if __name__ == "__main__":
    main()
