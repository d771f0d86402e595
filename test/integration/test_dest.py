# antifraud integration tests of af_check_dest: Debian's kamailio with the
# built module and the dialog module (the sample etc/kamailio.cfg), sipp as
# callers and called party, raw UDP requests, kamcmd.
# SPDX-License-Identifier: GPL-2.0-or-later
import datetime
import os
import time

import pytest

import afharness as h

FR = "+33123456789"        # France, fixed: international from DE
FR2 = "+33123456700"
DE_FIXED = "+493012345678"  # Germany, fixed: national
DE_PREMIUM = "+499001234567"  # Germany, premium rate (+49 900)
FR_RANGE = "+33151234567"    # inside the refused range 3315
FR_EXCEPT = "+33159999123"   # inside the allowed exception 33159999
CU = "+5378123456"           # Cuba: a denied country
SAT = "+881612345678"        # +881 6: Iridium (satellite)


@pytest.fixture
def dest_rules(rules):
    def make(holidays=""):
        with open(os.path.join(h.DATA, "rules-dest.yaml.in")) as f:
            text = f.read()
        return rules(text.replace("@HOLIDAYS@", holidays), name="dest.yaml")
    return make


def dest_servers(server, tmp_path, dest_rules, uas_dest):
    """A start() for server with the dest rules, routing to the sipp UAS
    of uas-dest; yields it, then stops what it started."""
    started = []

    def start(holidays=""):
        k = server(str(tmp_path), dest_rules(holidays),
                   next_hop_port=uas_dest)
        started.append(k)
        return k.start()
    yield start
    for k in started:
        crashed = k.crashed()
        k.stop()
        assert not crashed, "%s crashed: %s" % (k.name, crashed)


@pytest.fixture
def kd(tmp_path, dest_rules, uas_dest):
    """kamailio with the dest rules (dest_servers)."""
    yield from dest_servers(h.Kamailio, tmp_path, dest_rules, uas_dest)


@pytest.fixture
def kd_any(server, tmp_path, dest_rules, uas_dest):
    """The same on each server in turn."""
    yield from dest_servers(server, tmp_path, dest_rules, uas_dest)


def invite(k, number, caller="alice", timeout=2.0):
    """A raw INVITE to number from caller; the final status code."""
    c = h.SipClient()
    try:
        return c.ask("INVITE", "sip:%s@%s:%d" % (number, k.ip, k.port),
                     (k.ip, k.port), from_user=caller, body=h.sdp("127.0.0.1"),
                     timeout=timeout)
    finally:
        c.close()


def call(tmp_path, k, number, caller="alice", calls=1, hold_ms=100,
         scenario="uac-hold.xml", rate=50, timeout=20):
    """Calls through the proxy with sipp; the finished process."""
    return h.Sipp.uac(str(tmp_path), "%s:%d" % (k.ip, k.port),
                      scenario=scenario, caller=caller, callee=number,
                      calls=calls, rate=rate, timeout=timeout,
                      extra=["-d", str(hold_ms), "-l", str(calls)])


def call_bg(tmp_path, k, number, caller="alice", calls=1, hold_ms=4000,
            scenario="uac-hold.xml"):
    """The same, in the background; returns the process."""
    return h.Sipp.uac_bg(str(tmp_path), "%s:%d" % (k.ip, k.port),
                         scenario=scenario, caller=caller, callee=number,
                         calls=calls, rate=100,
                         extra=["-d", str(hold_ms), "-l", str(calls)])


def concurrency(k):
    return h.parse_kamcmd(k.rpc("antifraud.concurrency").stdout)


def wait_total(k, want, timeout=8.0):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = concurrency(k)["total"]
        if got == want:
            return got
        time.sleep(0.1)
    raise AssertionError("concurrency total %r, want %r" % (got, want))


def country_stats(k):
    out = h.parse_kamcmd(k.rpc("antifraud.dest_stats").stdout)
    return {c["country"]: c for c in out["countries"]}


def test_routed_calls_national_and_international(kd_any, tmp_path):
    k = kd_any()
    p = call(tmp_path, k, DE_FIXED)
    assert p.returncode == 0, p.stdout + p.stderr
    p = call(tmp_path, k, FR)
    assert p.returncode == 0, p.stdout + p.stderr
    # national formats of the caller's country are normalized
    p = call(tmp_path, k, "03012345678")
    assert p.returncode == 0, p.stdout + p.stderr
    st = country_stats(k)
    assert st["DE"]["attempts"] == 2 and st["DE"]["allowed"] == 2
    assert st["FR"]["attempts"] == 1 and st["FR"]["allowed"] == 1
    assert wait_total(k, 0) == 0


def test_profile_without_international_is_refused(kd_any, tmp_path):
    k = kd_any()
    assert invite(k, FR, caller="local1") == 403
    assert invite(k, "0033123456789", caller="local1") == 403
    p = call(tmp_path, k, DE_FIXED, caller="local1")
    assert p.returncode == 0, p.stdout + p.stderr
    st = country_stats(k)
    assert st["FR"]["blocked"] == 2
    assert st["FR"]["reasons"]["dest_international"] == 2
    assert st["DE"]["allowed"] == 1
    k.wait_log(r"dest_international.*profile=local|profile=local.*dest_international")


def test_opensips_variables_in_the_script(tmp_path, dest_rules, uas_dest):
    """$antifraud(...) in OpenSIPS's request route: the sample cfg with a
    log line before its 403 (the event route reads the event's
    parameters, $param: it may run in another process)."""
    with open(h.OPENSIPS_CFG) as f:
        text = f.read()
    refuse = 'sl_send_reply(403, "Forbidden");'
    assert text.count(refuse) == 1
    cfg = tmp_path / "opensips-vars.cfg"
    cfg.write_text(text.replace(refuse, 'xlog("L_NOTICE", "refused'
                                ' [$antifraud(reason)] $antifraud(number)'
                                ' $antifraud(dest_country)'
                                ' $antifraud(international) rc=$antifraud(rc)'
                                ' $antifraud(redis)\\n");\n\t\t\t' + refuse))
    k = h.OpenSIPS(str(tmp_path), dest_rules(), next_hop_port=uas_dest)
    k.cfg = str(cfg)
    k.start()
    try:
        assert invite(k, FR, caller="local1") == 403
        time.sleep(0.2)
        assert "refused [dest_international] +33123456789 FR 1 rc=-2 off" \
            in k.read_log(), k.read_log()[-2000:]
    finally:
        crashed = k.crashed()
        k.stop()
    assert not crashed, crashed


def test_premium_range_in_allowed_country_is_refused(kd_any, tmp_path):
    k = kd_any()
    assert invite(k, DE_PREMIUM) == 403
    assert invite(k, "09001234567") == 403       # the same, dialed nationally
    assert invite(k, FR_RANGE) == 403           # operator's refused range
    assert invite(k, CU) == 403                 # denied country
    assert invite(k, SAT) == 403                # satellite class refused
    p = call(tmp_path, k, FR_EXCEPT)            # exception inside the range
    assert p.returncode == 0, p.stdout + p.stderr
    p = call(tmp_path, k, DE_FIXED)
    assert p.returncode == 0, p.stdout + p.stderr
    st = country_stats(k)
    assert st["DE"]["reasons"]["dest_premium"] == 2
    assert st["DE"]["blocked"] == 2 and st["DE"]["allowed"] == 1
    assert st["FR"]["reasons"]["dest_range"] == 1
    assert st["FR"]["blocked"] == 1 and st["FR"]["allowed"] == 1
    assert st["CU"]["reasons"]["dest_country"] == 1
    assert st["XN"]["reasons"]["dest_class"] == 1
    # a country code that does not exist; emergency numbers always pass
    assert invite(k, "+99912345678") == 403
    assert "+99912345678: no such country code" in k.read_log()
    p = call(tmp_path, k, "112")
    assert p.returncode == 0, p.stdout + p.stderr


def test_sixth_concurrent_international_call_refused(kd_any, tmp_path):
    k = kd_any()
    bg = call_bg(tmp_path, k, FR, calls=5, hold_ms=4000)
    try:
        assert wait_total(k, 5) == 5
        assert invite(k, FR2, caller="bob") == 403
        out = concurrency(k)
        assert out["total"] == 5 and out["limit"] == 5
        # national calls do not count and still pass
        p = call(tmp_path, k, DE_FIXED, caller="bob")
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        out, err = bg.communicate(timeout=30)
    assert bg.returncode == 0, out + err
    # every BYE gave its slot back
    assert wait_total(k, 0) == 0
    p = call(tmp_path, k, FR2, caller="bob")
    assert p.returncode == 0, p.stdout + p.stderr
    st = country_stats(k)
    assert st["FR"]["reasons"]["concurrency_total"] == 1
    assert st["FR"]["allowed"] == 6 and st["FR"]["blocked"] == 1


@pytest.mark.parametrize("scenario", ["uac-busy.xml", "uac-cancel.xml"])
def test_busy_and_cancelled_calls_give_their_slot_back(kd_any, tmp_path,
                                                       scenario):
    k = kd_any()
    bg = call_bg(tmp_path, k, FR, calls=4, hold_ms=5000)
    try:
        assert wait_total(k, 4) == 4
        # the fifth call takes the last slot and fails (486) or is
        # cancelled while ringing: its slot comes back
        p = call(tmp_path, k, FR2, caller="bob", scenario=scenario,
                 hold_ms=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert wait_total(k, 4) == 4
        # so the fifth slot is free again: a call passes, and then the
        # sixth is refused while it lasts
        bg2 = call_bg(tmp_path, k, FR2, caller="carol", calls=1,
                      hold_ms=2000)
        try:
            assert wait_total(k, 5) == 5
            assert invite(k, FR2, caller="dave") == 403
        finally:
            out, err = bg2.communicate(timeout=30)
        assert bg2.returncode == 0, out + err
    finally:
        out, err = bg.communicate(timeout=30)
    assert bg.returncode == 0, out + err
    assert wait_total(k, 0) == 0


def test_concurrency_per_caller(kd, tmp_path):
    k = kd()
    bg = call_bg(tmp_path, k, FR, caller="lim1", calls=2, hold_ms=3000)
    try:
        assert wait_total(k, 2) == 2
        assert invite(k, FR2, caller="lim1") == 403
        out = concurrency(k)
        callers = {c["caller"]: c["calls"] for c in out["callers"]}
        assert callers == {"lim1@127.0.0.1": 2}, out
        # another caller is not limited by lim1's calls
        p = call(tmp_path, k, FR2, caller="bob")
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        out, err = bg.communicate(timeout=30)
    assert bg.returncode == 0, out + err
    assert wait_total(k, 0) == 0
    st = country_stats(k)
    assert st["FR"]["reasons"]["concurrency_caller"] == 1


def test_repetition_threshold_blocks_next_call(kd, tmp_path):
    k = kd()
    # same_number: warn above 2, block above 3 in 60 min
    p = call(tmp_path, k, FR, caller="rep1", calls=3, rate=10)
    assert p.returncode == 0, p.stdout + p.stderr
    assert invite(k, FR, caller="rep1") == 403
    # another number of the same caller still passes...
    p = call(tmp_path, k, "+33123456711", caller="rep1")
    assert p.returncode == 0, p.stdout + p.stderr
    # ...until the caller has called more than 4 numbers under 331234567
    for n in ("+33123456722", "+33123456733"):
        p = call(tmp_path, k, n, caller="rep1")
        assert p.returncode == 0, p.stdout + p.stderr
    assert invite(k, "+33123456744", caller="rep1") == 403
    st = country_stats(k)
    assert st["FR"]["reasons"]["repeat_number"] >= 2  # the warning + block
    log = k.read_log()
    assert "repeat_number 3 in 3600s > 2 (warn)" in log
    assert "repeat_number 4 in 3600s > 3" in log
    assert "repeat_similar 5 in 3600s > 4" in log
    # other callers are not affected
    p = call(tmp_path, k, FR, caller="bob")
    assert p.returncode == 0, p.stdout + p.stderr


def test_holiday_blocks_international_outside_hours(kd, tmp_path):
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    k = kd(holidays='"%s"' % today)
    assert invite(k, FR, caller="night1") == 403
    p = call(tmp_path, k, DE_FIXED, caller="night1")
    assert p.returncode == 0, p.stdout + p.stderr
    st = country_stats(k)
    assert st["FR"]["reasons"]["schedule"] == 1
    assert "on a holiday" in k.read_log()


def test_dest_stats_slots_sample_concurrency(kd, tmp_path):
    k = kd()
    bg = call_bg(tmp_path, k, FR, calls=3, hold_ms=3500)
    try:
        assert wait_total(k, 3) == 3
        time.sleep(2.2)
    finally:
        out, err = bg.communicate(timeout=30)
    assert bg.returncode == 0, out + err
    out = h.parse_kamcmd(k.rpc("antifraud.dest_stats").stdout)
    slots = out["slots"]
    assert slots, out
    assert sum(s["samples"] for s in slots) >= 2
    assert max(s["max"] for s in slots) == 3
    assert any(float(s["mean"]) > 0 for s in slots)
    k.rpc("antifraud.dest_stats_reset")
    out = h.parse_kamcmd(k.rpc("antifraud.dest_stats").stdout)
    assert not out.get("countries")


def test_dest_explain(kd):
    k = kd()
    out = h.parse_kamcmd(k.rpc("antifraud.dest_explain", "0900 1234567",
                               "alice").stdout)
    assert out["profile"] == "default"
    assert out["number"] == "+499001234567"
    assert out["kind"] == "national"
    assert out["country"] == "DE" and out["class"] == "premium"
    assert out["verdict"] == "block" and out["reason"] == "dest_premium"
    out = h.parse_kamcmd(k.rpc("antifraud.dest_explain", "s:0033123456789",
                               "local1").stdout)
    assert out["profile"] == "local" and out["international"] == 1
    assert out["verdict"] == "block"
    assert out["reason"] == "dest_international"
    out = h.parse_kamcmd(k.rpc("antifraud.dest_explain", "s:+33123456789",
                               "bob", "default").stdout)
    assert out["verdict"] == "allow" and out["country"] == "FR"
    assert k.rpc("antifraud.dest_explain", "s:123", "bob", "nosuch",
                 check=False).returncode != 0
    # an integer (kamcmd's reading of 0049...) is refused, not mangled
    p = k.rpc("antifraud.dest_explain", "004930123456", check=False)
    assert p.returncode != 0 and "s:" in p.stdout
    # explaining counts nothing
    out = h.parse_kamcmd(k.rpc("antifraud.dest_stats").stdout)
    assert not out.get("countries")
