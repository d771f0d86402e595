# antifraud: antifraud.check (OpenSIPS: MI af_check), the dry run, on
# both servers. Every check's verdict for a request given as text, file
# or parts, parsed by the server's own parser, read from the real state, and
# nothing counted: statistics, store, bans, concurrency and per-country
# figures are the same before and after.
# SPDX-License-Identifier: GPL-2.0-or-later
import afharness as h
from test_dest import (FR, call, dest_rules, invite, kd_any)  # noqa: F401

SCANNER_UA = "friendly-scanner"


def check(k, *args, ok=True):
    p = k.rpc("antifraud.check", *args, check=ok)
    return h.parse_kamcmd(p.stdout) if ok else p


def snapshot(k):
    """Everything a check could count or write."""
    return {
        "stats": k.rpc("antifraud.stats").stdout,
        "kstats": k.server_stats(),
        "bans": k.rpc("antifraud.bans").stdout,
        "accounts": k.rpc("antifraud.accounts").stdout,
        "conc": k.rpc("antifraud.concurrency").stdout,
        "dest_stats": k.rpc("antifraud.dest_stats").stdout,
    }


def keepalive(k, src_ip):
    c = h.SipClient(src_ip)
    try:
        return c.ask("OPTIONS", "sip:%s:%d" % (k.ip, k.port), (k.ip, k.port),
                     to_user="", timeout=1.0)
    finally:
        c.close()


def test_dry_run_source_and_fingerprint(srv, tmp_path):
    k = srv()
    # some state first: 4 flagged requests of a scanner (threshold 5)
    c = h.SipClient("127.0.0.41")
    for ext in ("900", "901", "902", "903"):
        assert c.ask("INVITE", "sip:%s@127.0.0.1" % ext, (k.ip, k.port),
                     from_user=ext, timeout=0.5) is None
    c.close()
    before = snapshot(k)

    # parts: its next request would reach the threshold and ban it
    for _ in range(2):
        out = check(k, "127.0.0.41", "INVITE", "sip:904@127.0.0.1",
                    "sip:904@127.0.0.1", "Zoiper rev.1")
        src = out["source"]
        assert src["rc"] == -2
        assert src["reason"] == "unknown_user,scanner"
        assert src["score"] == 5 and src["banned"] == 1
        assert "no user 904" in src["detail"]
    # a banned-looking tool from a denied country: every reason of both
    out = check(k, "127.0.0.3", "OPTIONS", "sip:100@127.0.0.1",
                "sip:100@127.0.0.1", SCANNER_UA)
    assert out["source"]["country"] == "KP"
    assert "geo_country" in out["source"]["reason"]
    assert out["fingerprint"]["rc"] == -2
    assert "sipvicious" in out["fingerprint"]["signature"]
    assert out["fingerprint"]["fingerprint"].startswith("af1-")
    assert out["dest"]["rc"] == 2  # not an INVITE; no dest rules

    # a file (a phone calling a local user): acceptable
    legit = str(tmp_path / "call.sip")
    with open(legit, "w") as f:
        f.write("INVITE sip:alice@127.0.0.1 SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK776asdhds\r\n"
                "Max-Forwards: 70\r\n"
                "To: <sip:alice@127.0.0.1>\r\n"
                "From: \"Bob\" <sip:bob@127.0.0.1>;tag=1928301774\r\n"
                "Call-ID: a84b4c76e66710@127.0.0.2\r\n"
                "CSeq: 314159 INVITE\r\n"
                "Contact: <sip:bob@127.0.0.2>\r\n"
                "User-Agent: Bria 5 release 5.5.2\r\n"
                "Content-Length: 0\r\n\r\n")
    out = check(k, legit, "127.0.0.2")
    assert out["source"]["rc"] in (1, 2), out
    assert out["fingerprint"]["rc"] in (1, 2), out
    assert out["fingerprint"]["signature"] == ""
    # raw text with bare LF line ends, the source from its top Via
    raw = ("REGISTER sip:127.0.0.1 SIP/2.0\n"
           "Via: SIP/2.0/UDP 127.0.0.42:5060;branch=z9hG4bK-1\n"
           "From: <sip:mallory@127.0.0.1>;tag=1\n"
           "To: <sip:mallory@127.0.0.1>\n"
           "Call-ID: 1@127.0.0.42\nCSeq: 1 REGISTER\n"
           "User-Agent: %s\nContent-Length: 0\n\n" % SCANNER_UA)
    out = check(k, raw)
    assert out["source_ip"] == "127.0.0.42"
    assert "unknown_user" in out["source"]["reason"]
    assert out["fingerprint"]["rc"] == -2

    # bad input: faults, never a crash
    for args, why in ((("garbage",), "Not a SIP request"),
                      (("/nonexistent/x.sip", "127.0.0.2"), "No such file"),
                      (("/etc", "127.0.0.2"), "not a regular file"),
                      (("not-an-ip", "INVITE", "sip:a@b", "sip:c@d", "x",
                        "default"), "Expected"),
                      (("127.0.0.1", "INVITE", "sip:a@b\r\nX: y", "sip:c@d"),
                       "line break"),
                      (("127.0.0.1", "INVITE", "sip:a@b", "sip:c@d", "x" *
                        2000), "at most 1024 bytes"),
                      ((legit, "not-an-ip"), "Not an IP"),
                      (("127.0.0.2", "INVITE", "sip:a@127.0.0.1",
                        "sip:b@127.0.0.1", "ua", "nosuchprofile"), None)):
        p = check(k, *args, ok=False)
        if why:
            assert p.returncode != 0 and why in p.stdout + p.stderr, \
                (args, p.stdout, p.stderr)
        else:
            out = h.parse_kamcmd(p.stdout)
            assert out["source"]["rc"] == -3

    # seven arguments: refused (the server's own fault on OpenSIPS: no MI
    # recipe takes seven)
    p = check(k, "127.0.0.2", "INVITE", "sip:a@b", "sip:c@d", "x", "default",
              "extra", ok=False)
    assert p.returncode != 0, p.stdout
    # nothing was counted or written
    after = snapshot(k)
    assert after == before
    assert "127.0.0.41" not in after["bans"]
    # the real fifth request still bans at 5 (the dry runs added nothing)
    c = h.SipClient("127.0.0.41")
    assert c.ask("INVITE", "sip:905@127.0.0.1", (k.ip, k.port),
                 timeout=0.5) is None
    c.close()
    assert "127.0.0.41" in k.rpc("antifraud.bans").stdout
    assert keepalive(k, "127.0.0.2") == 200
    assert not k.crashed()


def test_dry_run_dest(kd_any, tmp_path):
    k = kd_any()
    # same_number of the 'repeat' profile: block above 3 in 60 min
    p = call(tmp_path, k, FR, caller="rep1", calls=3, rate=10)
    assert p.returncode == 0, p.stdout + p.stderr
    before = snapshot(k)
    for _ in range(2):
        out = check(k, "127.0.0.1", "INVITE", "sip:rep1@127.0.0.1",
                    "sip:%s@127.0.0.1" % FR)
        d = out["dest"]
        assert d["rc"] == -2, out
        assert "repeat_number" in d["reason"]
        assert "repeat_number 4 in 3600s > 3" in d["detail"]
        assert d["number"] == FR and d["dest_country"] == "FR"
        assert d["international"] == 1
    # another caller: admitted, and would take a concurrency slot
    out = check(k, "127.0.0.1", "INVITE", "sip:bob@127.0.0.1",
                "sip:%s@127.0.0.1" % FR)
    assert out["dest"]["rc"] == 1, out
    assert out["dest"]["concurrent"] == 1
    assert snapshot(k) == before
    # the real fourth call is the first blocked: nothing was counted
    assert invite(k, FR, caller="rep1") == 403
    k.wait_log(r"repeat_number 4 in 3600s > 3")
