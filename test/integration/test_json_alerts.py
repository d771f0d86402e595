# antifraud: $antifraud(json). The sample cfg writes each alert as one
# JSON line; hostile bytes in the request come out escaped and valid
# UTF-8; repeats are suppressed and the next alert says how many.
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import time

import afharness as h


def json_alerts(k):
    out = []
    for line in k.read_log().splitlines():
        i = line.find('{"time"')
        if i >= 0:
            out.append(json.loads(line[i:]))  # strict: fails on bad JSON
    return out


def raw_invite(src, k, user, ua):
    """An INVITE with a hostile User-Agent (bytes, not text)."""
    msg = (b"INVITE sip:" + user + b"@127.0.0.1 SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP " + src.encode() + b":5060;branch=z9hG4bK-j1\r\n"
           b"Max-Forwards: 70\r\n"
           b"From: \"a\\\"b\" <sip:x@127.0.0.1>;tag=1\r\n"
           b"To: <sip:" + user + b"@127.0.0.1>\r\n"
           b"Call-ID: json-" + user + b"\r\nCSeq: 1 INVITE\r\n"
           b"User-Agent: " + ua + b"\r\nContent-Length: 0\r\n\r\n")
    c = h.SipClient(src)
    try:
        c.send_raw(msg, (k.ip, k.port))
        time.sleep(0.2)
    finally:
        c.close()


def wait_alerts(k, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        a = json_alerts(k)
        if len(a) >= n:
            return a
        time.sleep(0.1)
    return json_alerts(k)


def test_alert_json_lines(kam):
    k = kam(defines={"AF_ALERT_REPEAT": 1})
    ua = b'evil"ua\\ \x01\x7f caf\xc3\xa9 \xff end'
    raw_invite("127.0.0.61", k, b"nobody1", ua)
    alerts = wait_alerts(k, 1)
    assert len(alerts) == 1, k.read_log()[-3000:]
    a = alerts[0]
    assert a["check"] == "source" and a["rc"] == -2
    assert a["action"] == "block"
    assert a["reasons"] == ["unknown_user"]
    assert a["blocking"] == ["unknown_user"]
    assert a["source"]["ip"] == "127.0.0.61"
    assert a["source"]["proto"] == "udp"
    assert a["request"]["method"] == "INVITE"
    assert a["request"]["ruri_user"] == "nobody1"
    assert a["request"]["user_agent"] == \
        'evil"ua\\ \x01\x7f caf\u00e9 \ufffd end'
    assert a["request"]["call_id"] == "json-nobody1"
    assert a["suppressed"] == 0
    assert a["time"].endswith("Z")
    assert isinstance(a["banned"], bool)

    # the same alert again at once: suppressed, no line
    raw_invite("127.0.0.61", k, b"nobody2", b"x")
    time.sleep(0.5)
    assert len(json_alerts(k)) == 1
    # after the repeat interval: raised, with the count
    time.sleep(1.2)
    raw_invite("127.0.0.61", k, b"nobody3", b"x")
    alerts = wait_alerts(k, 2)
    assert len(alerts) == 2
    assert alerts[1]["suppressed"] == 1
    assert alerts[1]["request"]["ruri_user"] == "nobody3"

    # a fingerprint alert carries its signatures
    raw_invite("127.0.0.62", k, b"alice", b"friendly-scanner")
    alerts = wait_alerts(k, 3)
    fp = [a for a in alerts if a["check"] == "fingerprint"]
    assert fp and fp[0]["signatures"], alerts
    assert fp[0]["fingerprint"].startswith("af1-")
