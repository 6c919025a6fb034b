#!/usr/bin/env python3
"""Write or read an mbox folder with Python's mailbox module (mboxo).

  mboxtool.py write PATH   stdin: JSON list of {"from": str, "text": base64}
  mboxtool.py read PATH    stdout: JSON list of {"from": str, "text": base64}

The vmspop tests use it to check that folders Python writes are served
as Python stored them, and that folders vmspop writes read back in Python
as vmspop reads them.
"""
import base64
import json
import mailbox
import sys


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "write":
        box = mailbox.mbox(path, create=True)
        box.lock()
        for m in json.load(sys.stdin):
            text = base64.b64decode(m["text"])
            # A bytes message starting "From " would be taken as the From_
            # line: give the From_ line explicitly.
            box.add(b"From " + m["from"].encode("ascii") + b"\n" + text)
        box.flush()
        box.unlock()
        box.close()
    elif cmd == "read":
        box = mailbox.mbox(path, create=False)
        out = []
        for key in box.keys():
            msg = box.get_message(key)
            out.append({"from": msg.get_from(),
                        "text": base64.b64encode(box.get_bytes(key)).decode("ascii")})
        json.dump(out, sys.stdout)
    else:
        sys.exit("usage: mboxtool.py write|read PATH")


if __name__ == "__main__":
    main()
