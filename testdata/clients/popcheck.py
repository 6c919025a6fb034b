#!/usr/bin/env python3
"""popcheck.py: a real POP3 client (Python's poplib) against vmspop.

usage: popcheck.py HOST PORT USER PASSWORD OUTDIR [--apop SECRET] [--stls CAFILE] [--ssl CAFILE] [--dele]

Logs in (USER/PASS, or APOP), checks STAT against LIST, retrieves every
message into OUTDIR/<n>.eml (as poplib returns it: dot-unstuffed, CRLF),
checks that each retrieved size equals the LIST size, writes OUTDIR/uidl.txt
and OUTDIR/from.txt (the From: address of each message as parsed by the
email package), optionally deletes everything, and QUITs. Exit 0 on success.
"""
import email
import email.header
import email.policy
import email.utils
import os
import poplib
import ssl
import sys


def main():
    host, port, user, password, out = sys.argv[1:6]
    opts = sys.argv[6:]
    port = int(port)
    apop = stls = sslca = None
    dele = "--dele" in opts
    if "--apop" in opts:
        apop = opts[opts.index("--apop") + 1]
    if "--stls" in opts:
        stls = opts[opts.index("--stls") + 1]
    if "--ssl" in opts:
        sslca = opts[opts.index("--ssl") + 1]
    if sslca:
        ctx = ssl.create_default_context(cafile=sslca)
        p = poplib.POP3_SSL(host, port, context=ctx, timeout=30)
    else:
        p = poplib.POP3(host, port, timeout=30)
    if stls:
        caps = p.capa()
        assert "STLS" in caps, caps
        p.stls(context=ssl.create_default_context(cafile=stls))
        assert "STLS" not in p.capa()
    if apop:
        p.apop(user, apop)
    else:
        p.user(user)
        p.pass_(password)
    count, total = p.stat()
    resp, listing, _ = p.list()
    sizes = {}
    for line in listing:
        n, size = line.split()
        sizes[int(n)] = int(size)
    assert len(sizes) == count, (count, sizes)
    assert sum(sizes.values()) == total, (total, sizes)
    os.makedirs(out, exist_ok=True)
    froms = []
    subjects = []
    for n in sorted(sizes):
        resp, lines, octets = p.retr(n)
        data = b"".join(line + b"\r\n" for line in lines)
        assert len(data) == sizes[n], (n, len(data), sizes[n])
        with open(os.path.join(out, "%d.eml" % n), "wb") as f:
            f.write(data)
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        froms.append(email.utils.parseaddr(msg.get("From", ""))[1])
        subjects.append(str(email.header.make_header(email.header.decode_header(msg.get("Subject", "")))))
    resp, uidls, _ = p.uidl()
    with open(os.path.join(out, "uidl.txt"), "wb") as f:
        f.write(b"\n".join(uidls) + b"\n")
    with open(os.path.join(out, "from.txt"), "w") as f:
        f.write("\n".join(froms) + "\n")
    with open(os.path.join(out, "subject.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(subjects) + "\n")
    if dele:
        for n in sorted(sizes):
            p.dele(n)
    p.quit()


if __name__ == "__main__":
    try:
        main()
    except poplib.error_proto as e:
        print("error_proto:", e, file=sys.stderr)
        sys.exit(3)
