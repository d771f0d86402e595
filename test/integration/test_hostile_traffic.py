# antifraud integration tests: hostile traffic. Kamailio with the sample
# cfg and the module takes a bounded stream of mutated requests made from
# the test corpora (legitimate and attack captures: the .sip files, the
# sipdump file, the pcaps, the sipp scenarios) over UDP and TCP, from many
# loopback sources; no process may die and an OPTIONS keepalive from a
# clean source must be answered throughout. The mutations are made here
# with a fixed seed (AF_HOSTILE_SEED), so a failure replays.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import random
import re
import socket
import struct
import time

import afharness as h

CORPUS = os.path.join(h.DATA, "corpus")
SEED = int(os.environ.get("AF_HOSTILE_SEED", "20261203"))
UDP_COUNT = int(os.environ.get("AF_HOSTILE_UDP", "10000"))
TCP_COUNT = int(os.environ.get("AF_HOSTILE_TCP", "2000"))
KEEPALIVE_EVERY = 250  # mutated requests between two keepalives

METHODS = (rb"INVITE|REGISTER|OPTIONS|MESSAGE|SUBSCRIBE|NOTIFY|REFER|ACK|"
           rb"BYE|CANCEL|INFO|PRACK|UPDATE|PUBLISH")
REQUEST = re.compile(rb"(?:" + METHODS + rb") \S+ SIP/2\.0\r?\n")

# issue 18 defect 1: this one datagram stopped the proxy
ISSUE18_NO_CL = (
    b"INVITE sip:alice@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bK-nocl1\r\n"
    b"From: <sip:bob@127.0.0.1>;tag=1\r\n"
    b"To: <sip:alice@127.0.0.1>\r\n"
    b"Call-ID: nocl-1@x\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Max-Forwards: 70\r\n"
    b"\r\n")


# ---- the corpus ----

def split_requests(blob):
    """The SIP requests found in blob (a capture's bytes): from each
    request line to the next one or the end of the packet."""
    out = []
    starts = [m.start() for m in REQUEST.finditer(blob)]
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(blob)
        out.append(blob[s:end])
    return out


def pcapng_packets(path):
    """The packet data of a pcapng file's enhanced and simple packet
    blocks (either byte order)."""
    data = open(path, "rb").read()
    out, i, endian = [], 0, "<"
    while i + 12 <= len(data):
        btype, blen = struct.unpack(endian + "II", data[i:i + 8])
        if btype == 0x0A0D0D0A:
            endian = "<" if data[i + 8:i + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            blen = struct.unpack(endian + "I", data[i + 4:i + 8])[0]
        if blen < 12 or i + blen > len(data):
            break
        if btype == 6:
            caplen = struct.unpack(endian + "I", data[i + 20:i + 24])[0]
            out.append(data[i + 28:i + 28 + caplen])
        elif btype == 3:
            out.append(data[i + 12:i + blen - 4])
        i += blen
    return out


def scenario_requests(path):
    """The requests a sipp scenario sends, its [keywords] filled in."""
    text = open(path, encoding="latin-1").read()
    fill = {"remote_ip": "127.0.0.1", "local_ip": "127.0.0.1",
            "media_ip": "127.0.0.1", "local_ip_type": "4",
            "media_ip_type": "4", "transport": "UDP", "remote_port": "5060",
            "local_port": "5062", "media_port": "6000", "call_number": "1"}
    out = []
    for body in re.findall(r"<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", text,
                           re.S):
        body = re.sub(r"\[([a-z_]+)[^\]]*\]",
                      lambda m: fill.get(m.group(1), "x%s1" % m.group(1)[:3]),
                      body.strip("\n"))
        msg = body.replace("\r\n", "\n").replace("\n", "\r\n")
        if "\r\n\r\n" not in msg:
            msg += "\r\n\r\n"
        msg = msg.encode("latin-1")
        if REQUEST.match(msg):
            out.append(msg)
    return out


def corpus_requests():
    msgs = []
    for p in sorted(glob.glob(os.path.join(CORPUS, "*", "*.sip"))):
        msgs += split_requests(open(p, "rb").read()) or \
            [open(p, "rb").read()]
    for p in sorted(glob.glob(os.path.join(CORPUS, "sipdump", "*"))):
        msgs += [m.replace(b"\n", b"\r\n") if b"\r\n" not in m else m
                 for m in split_requests(open(p, "rb").read())]
    for p in sorted(glob.glob(os.path.join(CORPUS, "pcap", "*.pcapng"))):
        for pkt in pcapng_packets(p):
            msgs += split_requests(pkt)
    for p in sorted(glob.glob(os.path.join(h.SCENARIOS, "*.xml"))):
        msgs += scenario_requests(p)
    return [m for m in msgs if 20 < len(m) < 8000]


# ---- the mutations ----

COMPACT = {b"Via": b"v", b"From": b"f", b"To": b"t", b"Call-ID": b"i",
           b"Contact": b"m", b"Content-Length": b"l",
           b"Content-Type": b"c", b"Subject": b"s", b"Supported": b"k"}
CL_LINE = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[^\r\n]*\r?\n")


def head_body(msg):
    i = msg.find(b"\r\n\r\n")
    if i < 0:
        return msg, b""
    return msg[:i + 2], msg[i + 4:]


def join(head, body):
    return head + b"\r\n" + body


def m_bitflip(r, msg):
    b = bytearray(msg)
    for _ in range(r.randint(1, 8)):
        i = r.randrange(len(b))
        b[i] ^= 1 << r.randrange(8)
    return bytes(b)


def m_truncate(r, msg):
    return msg[:r.randrange(1, len(msg))]


def m_no_cl(r, msg):
    head, body = head_body(msg)
    return join(CL_LINE.sub(b"", head), body)


def m_lying_cl(r, msg):
    head, body = head_body(msg)
    lie = r.choice([b"0", b"-1", b"%d" % (len(body) + r.randint(1, 5000)),
                    b"%d" % max(0, len(body) - r.randint(1, 50)),
                    b"99999999999999999999", b"abc", b"", b" 12 34",
                    b"0x10", b"4294967296"])
    head = CL_LINE.sub(b"", head) + b"Content-Length: " + lie + b"\r\n"
    return join(head, body)


def m_duplicate(r, msg):
    head, body = head_body(msg)
    lines = head.split(b"\r\n")
    if len(lines) < 3:
        return msg
    i = r.randrange(1, len(lines) - 1)
    lines[i:i] = [lines[i]] * r.randint(1, 60)
    return join(b"\r\n".join(lines), body)


def m_huge(r, msg):
    head, body = head_body(msg)
    name = r.choice([b"Subject", b"Via", b"From", b"User-Agent", b"X-Huge",
                     b"Contact", b"Authorization", b"Call-ID"])
    fill = r.choice([b"A", b"%", b";", b",", b"<", b"\"", b" "])
    value = fill * r.randint(2000, 60000)
    head += name + b": " + value + b"\r\n"
    return join(head, body)[:65000]


def m_compact(r, msg):
    head, body = head_body(msg)
    for full, short in COMPACT.items():
        if r.random() < 0.7:
            head = re.sub(rb"(?im)^" + re.escape(full) + rb"[ \t]*:",
                          short + b":", head)
    return join(head, body)


def m_nul(r, msg):
    b = bytearray(msg)
    for _ in range(r.randint(1, 4)):
        b.insert(r.randrange(len(b) + 1), 0)
    return bytes(b)


def m_non_utf8(r, msg):
    b = bytearray(msg)
    for _ in range(r.randint(1, 10)):
        i = r.randrange(len(b) + 1)
        b[i:i] = bytes(r.randrange(0x80, 0x100)
                       for _ in range(r.randint(1, 4)))
    return bytes(b)


def m_ipv6(r, msg):
    v6 = r.choice([b"[2001:db8::1]", b"[::1]", b"[::ffff:127.0.0.1]",
                   b"[2001:db8::1", b"2001:db8::1", b"[fe80::1%lo]",
                   b"[1:2:3:4:5:6:7:8:9]", b"[::]"])
    out = re.sub(rb"\b(?:\d{1,3}\.){3}\d{1,3}\b",
                 lambda m: v6 if r.random() < 0.6 else m.group(0), msg)
    return out.replace(b"IN IP4", b"IN IP6") if r.random() < 0.5 else out


def m_sdp_no_cl(r, msg):
    """An INVITE or MESSAGE with an SDP body and no Content-Length."""
    head, body = head_body(msg)
    head = re.sub(rb"^\S+", r.choice([b"INVITE", b"MESSAGE", b"FOO"]),
                  CL_LINE.sub(b"", head), count=1)
    if b"application/sdp" not in head.lower():
        head += b"Content-Type: application/sdp\r\n"
    sdp = (b"v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\n"
           b"c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
    return join(head, sdp[:r.randrange(len(sdp) + 1)])


MUTATIONS = [m_bitflip, m_truncate, m_no_cl, m_lying_cl, m_duplicate,
             m_huge, m_compact, m_nul, m_non_utf8, m_ipv6, m_sdp_no_cl]


def mutate(r, msg):
    for _ in range(r.choice([1, 1, 1, 2, 3])):
        msg = r.choice(MUTATIONS)(r, msg) or msg
    return msg


# ---- the checks ----

def keepalive(k, client, tries=3):
    """An OPTIONS from the clean source (127.0.0.1, trusted) answered
    200; the seconds it took."""
    for _ in range(tries):
        t0 = time.time()
        code = client.ask("OPTIONS", "sip:%s:%d" % (k.ip, k.port),
                          (k.ip, k.port), timeout=1.0)
        if code == 200:
            return time.time() - t0
    raise AssertionError("keepalive not answered (code %s); kamailio %s:\n%s"
                         % (code, "alive" if k.alive() else "DEAD",
                            k.read_log()[-3000:]))


def processes(k):
    """The PIDs of the server's processes."""
    return k.pids()


def settled_processes(k, timeout=15.0):
    """The PIDs of the server's processes once start-up has forked them
    all: OpenSIPS answers MI while it still forks its TCP workers (on a
    loaded machine the first list lacked them, and the attack's end then
    found "more" processes). Two lists 0.5 s apart must agree."""
    prev = processes(k)
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        cur = processes(k)
        if cur == prev:
            return cur
        prev = cur
    raise AssertionError("%s's process list still changing after %.0f s"
                         % (k.name, timeout))


def received(k):
    """Requests the server's core received."""
    return k.core_received()


def assert_all_alive(k, before):
    assert k.alive(), "%s exited:\n%s" % (k.name, k.read_log()[-4000:])
    assert processes(k) == before, "a process died or was replaced"
    dead = [p for p in before if not os.path.exists("/proc/%d" % p)]
    assert not dead, "processes gone: %s" % dead


def udp_sockets(n):
    """n UDP sockets bound to distinct loopback sources (127.1.x.y)."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.1.%d.%d" % (i // 200, 1 + i % 200), 0))
        s.setblocking(False)
        socks.append(s)
    return socks


def tcp_send(k, payloads, src):
    """One TCP connection from src carrying payloads back to back; any
    error (refused, reset) is the server's right."""
    try:
        s = socket.create_connection((k.ip, k.port), timeout=1.0,
                                     source_address=(src, 0))
    except OSError:
        return
    try:
        s.sendall(b"".join(payloads))
        s.settimeout(0.01)
        try:
            s.recv(65536)
        except OSError:
            pass
    except OSError:
        pass
    finally:
        s.close()


# ---- the tests ----

def test_issue18_datagram_without_content_length(srv):
    """Issue 18 defect 1: an INVITE without Content-Length over UDP
    crashed a worker, and Kamailio with it (both servers' glues)."""
    k = srv()
    before = settled_processes(k)
    client = h.SipClient()
    try:
        keepalive(k, client)
        attacker = h.SipClient(src_ip="127.0.0.50")
        try:
            attacker.send_raw(ISSUE18_NO_CL, (k.ip, k.port))
            for method in (b"MESSAGE", b"FOO"):
                attacker.send_raw(ISSUE18_NO_CL.replace(b"INVITE", method),
                                  (k.ip, k.port))
            # with an SDP body that runs to the end of the datagram
            attacker.send_raw(ISSUE18_NO_CL[:-2]
                              + b"Content-Type: application/sdp\r\n\r\n"
                              b"v=0\r\nc=IN IP4 198.51.100.7\r\n",
                              (k.ip, k.port))
        finally:
            attacker.close()
        time.sleep(0.5)
        keepalive(k, client)
        assert_all_alive(k, before)
    finally:
        client.close()


def test_mutated_stream_udp_and_tcp(srv):
    """A bounded stream of mutated requests over UDP and TCP: no process
    dies, the keepalive is answered throughout (on each server)."""
    r = random.Random(SEED)
    base = corpus_requests()
    assert len(base) >= 50, "corpus too small: %d requests" % len(base)
    k = srv()
    before = settled_processes(k)
    client = h.SipClient()
    socks = udp_sockets(64)
    waits = []
    t0 = time.time()
    try:
        waits.append(keepalive(k, client))
        sent = 0
        while sent < UDP_COUNT:
            for _ in range(KEEPALIVE_EVERY):
                msg = mutate(r, r.choice(base))
                try:
                    r.choice(socks).sendto(msg, (k.ip, k.port))
                except OSError:
                    pass  # too large for a datagram, or the buffer is full
                sent += 1
                if sent % 50 == 0:
                    time.sleep(0.02)
            waits.append(keepalive(k, client))
            assert k.alive(), "%s exited after %d datagrams:\n%s" % (
                k.name, sent, k.read_log()[-4000:])
        sent = 0
        while sent < TCP_COUNT:
            batch = [mutate(r, r.choice(base)) for _ in range(r.randint(1, 5))]
            tcp_send(k, batch, "127.2.%d.%d" % (r.randrange(50),
                                                r.randrange(1, 250)))
            sent += len(batch)
            if sent % KEEPALIVE_EVERY < len(batch):
                waits.append(keepalive(k, client))
        time.sleep(0.5)
        waits.append(keepalive(k, client))
        assert_all_alive(k, before)
        got, checks = received(k), k.stats()["checks"]
    finally:
        for s in socks:
            s.close()
        client.close()
    elapsed = time.time() - t0
    print("hostile stream: %d UDP + %d TCP requests in %.1f s: %d received "
          "as requests, %d checks; keepalive max %.0f ms" % (
              UDP_COUNT, TCP_COUNT, elapsed, got, checks, 1000 * max(waits)))
    # the stream reached the module, not only the socket buffers
    assert got >= UDP_COUNT // 2 and checks >= UDP_COUNT // 4
    assert elapsed < 90
