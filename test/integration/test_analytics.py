# antifraud integration tests of analytics (how calls end): Debian's
# kamailio with the built module and the dialog module (the sample
# etc/kamailio.cfg), sipp callers and called party (answer, busy, ring),
# svwar and a REGISTER flood against a small "PBX" that answers 404, two
# nodes on one Redis, kamcmd.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import socket
import subprocess
import threading
import time

import pytest

import afharness as h

FR = "+33123456789"        # France, fixed: international from DE
DE = "+493012345678"       # Germany, fixed: national


@pytest.fixture
def an_rules(rules):
    def make(mode="monitor", replace=None):
        with open(os.path.join(h.DATA, "rules-analytics.yaml.in")) as f:
            text = f.read().replace("@MODE@", mode)
        for a, b in (replace or {}).items():
            assert a in text, a
            text = text.replace(a, b)
        return rules(text, name="analytics-%s.yaml" % mode)
    return make


@pytest.fixture
def uas_dest(tmp_path):
    port = h.free_port()
    p = h.Sipp.uas(str(tmp_path), port, scenario="uas-dest.xml")
    yield port
    h.Sipp.stop(p)


@pytest.fixture(params=sorted(h.SERVERS))
def an_server(request):
    """The server of a test that runs on both."""
    return h.SERVERS[request.param]


ONLY_KAMAILIO = pytest.mark.parametrize("an_server", ["kamailio"],
                                        indirect=True)


@pytest.fixture
def ka(tmp_path, an_rules, uas_dest, an_server):
    """the server with the analytics rules, routing to sipp's uas-dest."""
    started = []

    def start(mode="monitor", next_hop=None, replace=None, **kw):
        k = an_server(str(tmp_path), an_rules(mode, replace),
                      next_hop_port=next_hop or uas_dest, **kw)
        started.append(k)
        return k.start()
    yield start
    for k in started:
        crashed = k.crashed()
        k.stop()
        assert not crashed, "%s crashed: %s" % (k.name, crashed)


def calls(tmp_path, k, number, caller, scenario, n=1, hold_ms=100, rate=50,
          src_ip="127.0.0.1", timeout=20):
    """n calls through the proxy with sipp; the finished process."""
    return h.Sipp.uac(str(tmp_path), "%s:%d" % (k.ip, k.port),
                      scenario=scenario, caller=caller, callee=number,
                      calls=n, rate=rate, timeout=timeout, src_ip=src_ip,
                      extra=["-d", str(hold_ms), "-l", str(n)])


def alerts(k, reason):
    """The alert lines of analytics with reason in the log."""
    return [line for line in k.read_log().splitlines()
            if "antifraud: analytics" in line and reason in line]


def wait_for(pred, timeout=8.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def figures(k, kind, name):
    return h.parse_kamcmd(k.rpc("antifraud.analytics", kind, name).stdout)


def concurrency(k):
    return h.parse_kamcmd(k.rpc("antifraud.concurrency").stdout)["total"]


def test_low_asr_pumping_alerts(ka, tmp_path):
    """A caller whose calls are almost never answered: asr_low once the
    minimum sample (8) is reached, not before; its figures read back."""
    k = ka()
    p = calls(tmp_path, k, DE, "pump", "uac-busy.xml", n=7)
    assert p.returncode == 0, p.stdout + p.stderr
    time.sleep(0.3)
    assert not alerts(k, "asr_low"), "alerted under the minimum sample"
    p = calls(tmp_path, k, DE, "pump", "uac-busy.xml", n=3)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = wait_for(lambda: alerts(k, "asr_low"), what="asr_low")
    assert "asr_low caller pump@127.0.0.1" in lines[0], lines
    f = figures(k, "caller", "pump@127.0.0.1")
    win = {x["window"]: x for x in f["figures"]}
    assert win[60]["attempts"] == 10 and win[60]["answered"] == 0, f
    assert win[300]["attempts"] == 10
    assert f["refused"] == "no"
    st = k.stats()
    assert st["reasons"]["asr_low"] >= 1, st
    assert st["calls_followed"] == 10 and st["calls_ended"] == 10, st
    top = h.parse_kamcmd(
        k.rpc("antifraud.analytics_top", "attempts", "caller", 5).stdout)
    top = top if isinstance(top, list) else [top]
    assert top[0]["name"] == "pump@127.0.0.1" and top[0]["attempts"] == 10


def test_burst_of_one_second_calls_alerts_short_calls(ka, tmp_path):
    k = ka()
    p = calls(tmp_path, k, DE, "wang", "uac-hold.xml", n=8, hold_ms=1000,
              rate=20)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = wait_for(lambda: alerts(k, "short_calls"), what="short_calls")
    assert "short_calls caller wang@127.0.0.1: 100% of 8" in lines[0], lines
    f = figures(k, "caller", "wang@127.0.0.1")
    win = {x["window"]: x for x in f["figures"]}
    assert win[60]["answered"] == 8 and win[60]["short"] == 8, f
    assert not alerts(k, "asr_low")


def test_long_call_alerts_while_up(ka, tmp_path):
    """Monitor: an international call past its 2 s limit alerts while it
    is still up; it is not ended."""
    k = ka()
    p = h.Sipp.uac_bg(str(tmp_path), "%s:%d" % (k.ip, k.port),
                      scenario="uac-hold.xml", caller="longtalk", callee=FR,
                      extra=["-d", "5000", "-l", "1"])
    try:
        lines = wait_for(lambda: alerts(k, "duration"), timeout=5,
                         what="duration alert")
        assert p.poll() is None, "the call ended before the alert"
        assert "limit 2s" in lines[0] and "longtalk@127.0.0.1" in lines[0]
        assert "rc=-1" in lines[0]
        out, err = p.communicate(timeout=15)
        assert p.returncode == 0, out + err   # hung up by the caller
    finally:
        h.Sipp.stop(p)
    assert k.stats()["reasons"]["duration"] == 1


def test_long_call_ended_in_enforce_mode(ka, tmp_path):
    """Enforce: the guard ends the call (BYE to both sipp sides: the UAC
    waits for it), logged, and the concurrency slot is back at once."""
    k = ka("enforce")
    p = h.Sipp.uac_bg(str(tmp_path), "%s:%d" % (k.ip, k.port),
                      scenario="uac-long.xml", caller="longtalk", callee=FR,
                      extra=["-l", "1"])
    try:
        wait_for(lambda: concurrency(k) == 1, what="the call up")
        out, err = p.communicate(timeout=15)
        assert p.returncode == 0, out + err   # the UAC got the BYE
    finally:
        h.Sipp.stop(p)
    assert concurrency(k) == 0
    lines = alerts(k, "duration")
    assert lines and "rc=-2" in lines[0], lines
    assert "analytics: ending the call of longtalk@127.0.0.1" in k.read_log()
    # counted once the dialog module has sent the BYEs (the UAC may have
    # got its BYE a moment before). Kamailio's dialog module (5.6 to 5.8,
    # its issues 4169 and 4268) sometimes sends only the caller's BYE:
    # when the caller answers it before the callee's is built, the
    # dialog is deleted first. The module then says it could not end the
    # call and does not count it.
    log_race = "terminating non-confirmed dialogs not supported"
    wait_for(lambda: k.stats()["calls_terminated"] == 1
             or (k.name == "kamailio" and log_race in k.read_log()
                 and "could not end the call of longtalk" in k.read_log()),
             timeout=3, what="calls_terminated 1")
    if k.stats()["calls_terminated"] == 0:
        return  # the upstream race, reported as such (above)
    # the called side answered the BYE too: no error left in its log
    assert not re.search(r"Aborted|unexpected", " ".join(
        open(os.path.join(str(tmp_path), f)).read()
        for f in os.listdir(str(tmp_path)) if f.startswith("uas-")
        and f.endswith(".err")))


def test_enforce_refuses_the_caller_while_cooling(ka, tmp_path):
    k = ka("enforce")
    p = calls(tmp_path, k, DE, "pump2", "uac-busy.xml", n=8)
    assert p.returncode == 0, p.stdout + p.stderr
    wait_for(lambda: alerts(k, "asr_low"), what="asr_low")
    # the next call of that caller is refused (403) with the reason
    p = calls(tmp_path, k, DE, "pump2", "uac-hold.xml", n=1)
    assert p.returncode != 0
    k.wait_log(r"antifraud: dest rc=-2 \[asr_low\].*refused for")
    f = figures(k, "caller", "pump2@127.0.0.1")
    assert f["refused"] == "asr_low" and 0 < f["refused_for"] <= 30, f
    # another caller is not concerned
    p = calls(tmp_path, k, DE, "someone", "uac-hold.xml", n=1)
    assert p.returncode == 0, p.stdout + p.stderr


def test_legitimate_mix_raises_nothing(ka, tmp_path):
    """Several callers, about 60 % answered (calls of 4 s), some busy,
    some ringing and cancelled: no analytics alert."""
    k = ka("enforce")
    procs = []
    for i in range(4):
        caller = "user%d" % i
        procs.append(h.Sipp.uac_bg(
            str(tmp_path), "%s:%d" % (k.ip, k.port), scenario="uac-hold.xml",
            caller=caller, callee=DE.replace("678", "67%d" % i), calls=3, rate=5, extra=["-d", "4000", "-l", "3"]))
        procs.append(h.Sipp.uac_bg(
            str(tmp_path), "%s:%d" % (k.ip, k.port), scenario="uac-busy.xml",
            caller=caller, callee=DE, calls=1, rate=5, extra=["-l", "1"]))
        procs.append(h.Sipp.uac_bg(
            str(tmp_path), "%s:%d" % (k.ip, k.port),
            scenario="uac-cancel.xml", caller=caller, callee=DE, calls=1,
            rate=5, extra=["-d", "1500", "-l", "1"]))
    for p in procs:
        out, err = p.communicate(timeout=40)
        assert p.returncode == 0, out + err
    time.sleep(0.5)
    log = k.read_log()
    assert "antifraud: analytics" not in log, log[-3000:]
    assert "antifraud: dest" not in log, log[-3000:]
    f = figures(k, "caller", "user1@127.0.0.1")
    win = {x["window"]: x for x in f["figures"]}
    assert win[60]["attempts"] == 5 and win[60]["answered"] == 3, f
    assert win[60]["short"] == 0
    prof = figures(k, "profile", "default")
    assert {x["window"]: x for x in prof["figures"]}[60]["attempts"] == 20
    assert concurrency(k) == 0


class Pbx:
    """A PBX behind the proxy on a loopback port: INVITEs to numbers
    ('+' and digits) are answered 200 (and their BYE), anything else
    gets 404 (an extension that does not exist, as svwar finds out)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def reply(self, msg, code, reason, addr):
        head, _, _ = msg.partition("\r\n\r\n")
        lines = head.split("\r\n")
        keep = [x for x in lines[1:] if x.split(":", 1)[0].strip().lower() in
                ("via", "v", "from", "f", "call-id", "i", "cseq",
                 "record-route")]
        to = [x for x in lines[1:]
              if x.split(":", 1)[0].strip().lower() in ("to", "t")]
        if to and ";tag=" not in to[0]:
            to = [to[0] + ";tag=pbx%d" % (hash(msg) & 0xffff)]
        out = ["SIP/2.0 %d %s" % (code, reason)] + keep + to + [
            "Contact: <sip:pbx@127.0.0.1:%d>" % self.port,
            "Content-Length: 0", "", ""]
        self.sock.sendto("\r\n".join(out).encode(), addr)

    def run(self):
        while not self.stop_ev.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            msg = data.decode(errors="replace")
            first = msg.split("\r\n", 1)[0]
            method = first.split(" ", 1)[0]
            if method == "ACK" or first.startswith("SIP/2.0"):
                continue
            user = re.match(r"\S+ sip:([^@;>]*)@", first)
            if method == "INVITE" and user and re.fullmatch(
                    r"\+?[0-9]{6,15}", user.group(1)):
                self.reply(msg, 200, "OK", addr)
            elif method in ("BYE", "CANCEL"):
                self.reply(msg, 200, "OK", addr)
            else:
                self.reply(msg, 404, "Not Found", addr)

    def stop(self):
        self.stop_ev.set()
        self.t.join(timeout=2)
        self.sock.close()


def test_signal_mix_svwar_and_register_flood(ka, tmp_path):
    """The mix of answered calls is learned (two windows of 2 s); svwar's
    404 storm (svwar sends from 127.0.0.1, after the calls' last window)
    and a REGISTER flood from another address diverge from it:
    signal_mix names them and what contributes most."""
    pbx = Pbx()
    try:
        k = ka(next_hop=pbx.port)
        p = calls(tmp_path, k, DE, "legit", "uac-hold.xml", n=60, rate=12,
                  hold_ms=200, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        time.sleep(2.5)  # the last window closes and teaches
        st = h.parse_kamcmd(k.rpc("antifraud.analytics_stats").stdout)
        st = st if isinstance(st, list) else [st]
        assert sum(x["mix_windows"] for x in st) >= 2, st
        assert not alerts(k, "signal_mix")
        out = subprocess.run(
            ["svwar", "-e", "100-199", "-m", "OPTIONS", "--force",
             "--maximumtime", "4", "127.0.0.1", "-p", str(k.port)],
            capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
        lines = wait_for(lambda: alerts(k, "signal_mix"), timeout=6,
                         what="svwar's signal_mix")
        assert re.search(r"signal_mix source 127\.0\.0\.1: .* 404 [1-9]",
                         lines[0]), (lines, out.stdout[-500:])
        assert "OPTIONS" in lines[0]
        # a REGISTER flood from another address
        c = h.SipClient(src_ip="127.0.0.61")
        try:
            for i in range(40):
                c.request("REGISTER", "sip:127.0.0.1:%d" % k.port,
                          (k.ip, k.port), from_user="u%d" % i,
                          to_user="u%d" % i)
                c.recv(timeout=0.05)
        finally:
            c.close()
        lines = wait_for(lambda: [x for x in alerts(k, "signal_mix")
                                  if "127.0.0.61" in x], timeout=6,
                         what="the flood's signal_mix")
        assert "REGISTER" in lines[0], lines
        assert k.stats()["reasons"]["signal_mix"] >= 2
    finally:
        pbx.stop()


def test_two_nodes_share_figures_and_refusals(tmp_path, an_rules, uas_dest):
    """Two nodes on one Redis, a Kamailio and an OpenSIPS: the caller's
    calls through both count in one figure, the alert fires on the node
    that crosses the sample (OpenSIPS), and its enforcement mark refuses
    the caller on the other node (Kamailio) too."""
    r = h.Redis(str(tmp_path)).start()
    nodes = []
    try:
        url = '"redis://127.0.0.1:%d/0"' % r.port
        for cls in (h.Kamailio, h.OpenSIPS):
            k = cls(str(tmp_path), an_rules("enforce"),
                    next_hop_port=uas_dest,
                    defines={"AF_REDIS": url,
                             "AF_REDIS_FALLBACK": '"closed"'})
            nodes.append(k.start())
        a, b = nodes
        p = calls(tmp_path, a, DE, "pumpc", "uac-busy.xml", n=4)
        assert p.returncode == 0, p.stdout + p.stderr
        p = calls(tmp_path, b, DE, "pumpc", "uac-busy.xml", n=4)
        assert p.returncode == 0, p.stdout + p.stderr
        wait_for(lambda: alerts(b, "asr_low"), what="asr_low on node b")
        assert not alerts(a, "asr_low")
        for k in nodes:
            f = figures(k, "caller", "pumpc@127.0.0.1")
            win = {x["window"]: x for x in f["figures"]}
            assert win[60]["attempts"] == 8, f
        # refused on node a by the mark node b set
        p = calls(tmp_path, a, DE, "pumpc", "uac-hold.xml", n=1)
        assert p.returncode != 0
        a.wait_log(r"antifraud: dest rc=-2 \[asr_low\]")
        # the figures are Redis keys with a TTL, one per subject (every
        # window in it)
        keys = r.cli("--scan", "--pattern", "af:v2:fm:*").stdout.split()
        assert keys
        assert "af:v2:fm:{of|c|pumpc@127.0.0.1}" in keys, keys
        assert not r.cli("--scan", "--pattern", "af:v2:fig:*").stdout.split()
        assert all(0 < int(r.cli("PTTL", x).stdout) <= 300000
                   for x in keys[:20])
    finally:
        for k in nodes:
            crashed = k.crashed()
            k.stop()
            assert not crashed, crashed
        r.kill()


def test_call_ends_batched_in_redis_mode(tmp_path, an_rules, uas_dest,
                                        an_server):
    """In Redis mode the calls' ends go in batches from one process
    (end_batch_interval: 100 ms by default): 20 failed international
    calls make fewer store batches than calls, every call counts in the
    figures, the alert comes from a batch and the slots come back; with
    end_batch_interval 0 each end is its own batch (none queued)."""
    r = h.Redis(str(tmp_path)).start()
    k = None
    try:
        url = '"redis://127.0.0.1:%d/0"' % r.port
        for batch in (None, 0):
            defines = {"AF_REDIS": url, "AF_REDIS_FALLBACK": '"closed"'}
            if batch is not None:
                defines["AF_END_BATCH"] = batch
            k = an_server(str(tmp_path), an_rules("monitor"),
                          next_hop_port=uas_dest, defines=defines).start()
            caller = "batchy%s" % batch
            p = calls(tmp_path, k, FR, caller, "uac-busy.xml", n=20,
                      rate=200)
            assert p.returncode == 0, p.stdout + p.stderr
            lines = wait_for(lambda: alerts(k, "asr_low caller " + caller),
                             what="asr_low")
            assert "asr_low caller %s@127.0.0.1" % caller in lines[0], lines
            wait_for(lambda: k.stats()["calls_ended"] == 20,
                     what="20 calls ended")
            st = k.stats()
            if batch is None:
                assert st["call_ends_queued"] == 20, st
                assert 1 <= st["call_end_batches"] <= 10, st
            else:
                assert st["call_ends_queued"] == 0, st
                assert st["call_end_batches"] == 0, st
            assert st["call_ends_unqueued"] == 0, st
            f = figures(k, "caller", "%s@127.0.0.1" % caller)
            win = {x["window"]: x for x in f["figures"]}
            assert win[60]["attempts"] == 20 and win[60]["answered"] == 0, f
            wait_for(lambda: concurrency(k) == 0, timeout=3,
                     what="the slots back")
            crashed = k.crashed()
            k.stop()
            k = None
            assert not crashed, crashed
        # ends still queued at a clean stop are ended then: their slots
        # come back (a long interval, the server stopped at once)
        k = an_server(str(tmp_path), an_rules("monitor"),
                      next_hop_port=uas_dest,
                      defines={"AF_REDIS": url, "AF_END_BATCH": 1000,
                               "AF_REDIS_FALLBACK": '"closed"'}).start()
        p = calls(tmp_path, k, FR, "laststop", "uac-busy.xml", n=3,
                  rate=100)
        assert p.returncode == 0, p.stdout + p.stderr
        st = k.stats()
        assert st["call_ends_queued"] == 3 and st["calls_ended"] == 0, st
        assert int(r.cli("ZCARD", "af:v2:conc:{ct|intl}").stdout) == 3
        crashed = k.crashed()
        k.stop()
        k = None
        assert not crashed, crashed
        assert int(r.cli("ZCARD", "af:v2:conc:{ct|intl}").stdout) == 0
        assert "af:v2:fm:{of|c|laststop@127.0.0.1}" in r.cli(
            "--scan", "--pattern", "af:v2:fm:*").stdout.split()
    finally:
        if k:
            k.stop()
        r.kill()


@ONLY_KAMAILIO
def test_bad_analytics_rules_are_refused(ka, an_rules):
    k = ka()
    # the same file, rewritten with a bad value
    bad = an_rules("monitor", {"asr: {below: 30,": "asr: {below: 130,"})
    assert bad == k.rules
    with open(bad) as f:
        line = next(i for i, x in enumerate(f, 1) if "below: 130" in x)
    time.sleep(1.1)  # reload_min_interval
    p = k.rpc("antifraud.reload", check=False)
    assert p.returncode != 0
    assert "%s:%d:" % (k.rules, line) in p.stdout, p.stdout
    assert "out of range" in p.stdout
    # the rules in force stay: calls are still followed
    assert k.stats()["reload_errors"] == 1
    # RPC arguments are checked: a control character, an unknown kind
    p = k.rpc("antifraud.analytics", "caller", "x\x07y", check=False)
    assert p.returncode != 0 and "control characters" in p.stdout, p.stdout
    p = k.rpc("antifraud.analytics", "planet", "x", check=False)
    assert p.returncode != 0 and "kind: caller" in p.stdout, p.stdout
    p = k.rpc("antifraud.analytics_top", "loudness", check=False)
    assert p.returncode != 0 and "metric" in p.stdout, p.stdout


def test_follow_all_counts_unchecked_calls_once(tmp_path, an_rules, uas_dest,
                                                an_server):
    """'follow: all': an INVITE af_check_dest does not check (caller
    nocheck) is followed from its dialog's creation; one whose dialog is
    created before the check (caller early) is counted once, with what
    the check found; the others as usual."""
    k = an_server(str(tmp_path), an_rules("monitor", {
        "  signal_mix: {window: 2": "  follow: all\n  signal_mix: {window: 2"}),
        next_hop_port=uas_dest)
    with open(k.cfg) as f:
        text = f.read()
    check = "af_check_dest();"
    create = "create_dialog();" if k.name == "opensips" else "dlg_manage();"
    assert text.count(check) == 1 and text.count("\t\t" + create) == 1
    # early: its dialog made before the check, and only then
    text = text.replace("\t\t" + create, '\t\tif ($fU != "early") {\n'
                        '\t\t\t%s\n\t\t}' % create)
    text = text.replace(check, 'if ($fU == "early") {\n\t\t\t%s\n\t\t}\n\t\t'
                        'if ($fU != "nocheck") {\n\t\t\t%s\n\t\t}'
                        % (create, check))
    cfg = tmp_path / ("follow-all-%s.cfg" % k.name)
    cfg.write_text(text)
    k.cfg = str(cfg)
    k.start()
    try:
        for caller in ("nocheck", "early", "checked"):
            p = calls(tmp_path, k, FR, caller, "uac-busy.xml", n=2)
            assert p.returncode == 0, p.stdout + p.stderr
        time.sleep(0.3)
        for caller in ("nocheck", "early", "checked"):
            f = figures(k, "caller", caller + "@127.0.0.1")
            win = {x["window"]: x for x in f["figures"]}
            assert win[60]["attempts"] == 2 and win[60]["answered"] == 0, \
                (caller, f)
        # the international calls of the checked callers were counted by
        # the check and released at their end; the unchecked took none
        assert concurrency(k) == 0
        st = k.stats()
        assert st["calls_followed"] == 6 and st["calls_ended"] == 6, st
    finally:
        crashed = k.crashed()
        k.stop()
    assert not crashed, crashed
