#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 antifraud authors
"""
A minimal SIP responder on 127.0.0.1 used to capture what scanners send.

It answers just enough for SIPVicious to go on: OPTIONS -> 200 with a
Server header (svmap needs an answer), REGISTER/INVITE for extension
"100" or "101" -> 401 with a digest challenge, other extensions -> 404
(svwar enumerates), any request with an Authorization header -> 403
(svcrack keeps guessing). ACK is not answered. Loopback only.

usage: listener.py PORT [LOGDIR]
"""
import os
import socket
import sys

KNOWN = {"100", "101"}


def header(msg, names):
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        if name.strip().lower() in names:
            return value.strip()
    return ""


def reply(msg, code, reason, extra=""):
    vias = []
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        n = line.split(":", 1)[0].strip().lower()
        if n in ("via", "v"):
            vias.append("Via: " + line.split(":", 1)[1].strip())
    to = header(msg, ("to", "t"))
    if ";tag=" not in to:
        to += ";tag=as5f3e1c7a"
    out = "SIP/2.0 %d %s\r\n" % (code, reason)
    out += "\r\n".join(vias) + "\r\n"
    out += "From: %s\r\n" % header(msg, ("from", "f"))
    out += "To: %s\r\n" % to
    out += "Call-ID: %s\r\n" % header(msg, ("call-id", "i"))
    out += "CSeq: %s\r\n" % header(msg, ("cseq",))
    out += "Server: af-capture-listener\r\n"
    out += extra
    out += "Content-Length: 0\r\n\r\n"
    return out.encode()


def main():
    port = int(sys.argv[1])
    logdir = sys.argv[2] if len(sys.argv) > 2 else None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    n = 0
    while True:
        data, addr = s.recvfrom(65535)
        n += 1
        if logdir:
            with open(os.path.join(logdir, "req-%05d.sip" % n), "wb") as f:
                f.write(data)
        msg = data.decode("utf-8", "replace")
        first = msg.split("\r\n", 1)[0].split(" ")
        if len(first) < 3 or first[2] != "SIP/2.0":
            continue
        method, uri = first[0], first[1]
        if method == "ACK":
            continue
        user = ""
        if method == "REGISTER":
            to = header(msg, ("to", "t"))
            if "sip:" in to and "@" in to:
                user = to.split("sip:", 1)[1].split("@", 1)[0]
        elif "@" in uri:
            user = uri.split(":", 1)[1].split("@", 1)[0]
        else:
            # request to the server itself (svcrack INVITE): the To user
            to = header(msg, ("to", "t"))
            if method == "INVITE" and "sip:" in to and "@" in to:
                user = to.split("sip:", 1)[1].split("@", 1)[0]
        if header(msg, ("authorization", "proxy-authorization")):
            resp = reply(msg, 403, "Forbidden")
        elif method == "OPTIONS" and not user:
            resp = reply(msg, 200, "OK",
                         "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REGISTER\r\n")
        elif method in ("REGISTER", "INVITE", "OPTIONS") and user in KNOWN:
            resp = reply(msg, 401, "Unauthorized",
                         'WWW-Authenticate: Digest realm="127.0.0.1", '
                         'nonce="5f1c2a7b00000000c0ffee", algorithm=MD5\r\n')
        else:
            resp = reply(msg, 404, "Not Found")
        s.sendto(resp, addr)


if __name__ == "__main__":
    main()
