# antifraud integration tests of the cluster mode: three (or four) Debian
# kamailio instances with the built module on their own loopback ports,
# sharing one real redis-server (and, for failover, a replica and a
# redis-sentinel); sipp as callers and called party; kamcmd.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import subprocess
import re
import signal
import socket
import threading
import time

import pytest

import afharness as h

FR = "+33123456789"
DE = "+493012345678"


@pytest.fixture
def redis(tmp_path):
    r = h.Redis(str(tmp_path)).start()
    yield r
    r.kill()


def cluster_nodes(kinds, tmp_path, rules, uas_dest):
    """A start(n, url): n nodes in cluster mode on url, of the server
    classes kinds in turn; yields it, then stops every node."""
    nodes = []
    with open(os.path.join(h.DATA, "rules-dest.yaml.in")) as f:
        text = f.read().replace("@HOLIDAYS@", "")
    path = rules(text, name="cluster.yaml")

    def start(n, url, fallback="local"):
        out = []
        for _ in range(n):
            d = tmp_path / ("node%d" % len(nodes))
            d.mkdir()
            kind = kinds[len(nodes) % len(kinds)]
            k = kind(str(d), path, next_hop_port=uas_dest, defines={
                "AF_REDIS": '"%s"' % url,
                "AF_REDIS_FALLBACK": '"%s"' % fallback})
            nodes.append(k)
            out.append(k.start())
        return out
    yield start
    for k in nodes:
        crashed = k.crashed()
        k.stop()
        assert not crashed, "%s crashed: %s" % (k.name, crashed)


@pytest.fixture
def cluster(tmp_path, rules, uas_dest):
    """Kamailio nodes (cluster_nodes)."""
    yield from cluster_nodes([h.Kamailio], tmp_path, rules, uas_dest)


@pytest.fixture
def cluster_any(server, tmp_path, rules, uas_dest):
    """Nodes of one server, each server in turn."""
    yield from cluster_nodes([server], tmp_path, rules, uas_dest)


@pytest.fixture(params=["kamailio", "mixed"])
def cluster_mix(request, tmp_path, rules, uas_dest):
    """Kamailio nodes, then a mixed cluster: Kamailio and OpenSIPS nodes
    in turn on one Redis (the same keys and scripts)."""
    kinds = [h.Kamailio] if request.param == "kamailio" else \
        [h.Kamailio, h.OpenSIPS]
    yield from cluster_nodes(kinds, tmp_path, rules, uas_dest)


def invite(k, number, caller="alice", src="127.0.0.1", timeout=2.0):
    c = h.SipClient(src)
    try:
        return c.ask("INVITE", "sip:%s@%s:%d" % (number, k.ip, k.port),
                     (k.ip, k.port), from_user=caller,
                     body=h.sdp("127.0.0.1"), timeout=timeout)
    finally:
        c.close()


def options(k, src, timeout=1.0):
    c = h.SipClient(src)
    try:
        return c.ask("OPTIONS", "sip:%s:%d" % (k.ip, k.port), (k.ip, k.port),
                     from_user="alice", timeout=timeout)
    finally:
        c.close()


def call(tmp_path, k, number, caller="alice", hold_ms=100):
    return h.Sipp.uac(str(tmp_path), "%s:%d" % (k.ip, k.port),
                      scenario="uac-hold.xml", caller=caller, callee=number,
                      calls=1, rate=10, timeout=15, extra=["-d", str(hold_ms)])


def call_bg(tmp_path, k, number, caller="alice", calls=1, hold_ms=4000):
    return h.Sipp.uac_bg(str(tmp_path), "%s:%d" % (k.ip, k.port),
                         scenario="uac-hold.xml", caller=caller,
                         callee=number, calls=calls, rate=100,
                         extra=["-d", str(hold_ms), "-l", str(calls)])


def total(k):
    return h.parse_kamcmd(k.rpc("antifraud.concurrency").stdout)["total"]


def wait_for(pred, timeout=8.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


def redis_state(k):
    return h.parse_kamcmd(k.rpc("antifraud.stats").stdout)["redis"]["state"]


def test_rate_limit_is_exact_across_nodes(cluster_mix, redis, tmp_path):
    nodes = cluster_mix(3, "redis://127.0.0.1:%d/0" % redis.port)
    # caller_per_minute 5 for rate1: 8 calls round-robin over the nodes
    passed = 0
    for i in range(8):
        p = call(tmp_path, nodes[i % 3], DE, caller="rate1")
        passed += p.returncode == 0
    assert passed == 5
    # every node refuses now, whichever got the calls
    for k in nodes:
        assert invite(k, DE, caller="rate1") == 403
    # the counters are in Redis, with a TTL
    keys = redis.cli("--scan", "--pattern", "af:*").stdout.split()
    assert keys
    for key in keys:
        assert int(redis.cli("PTTL", key).stdout) > 0, key


def test_concurrency_is_exact_across_nodes(cluster_mix, redis, tmp_path):
    nodes = cluster_mix(3, "redis://127.0.0.1:%d/0" % redis.port)
    bgs = [call_bg(tmp_path, nodes[0], FR, caller="a", calls=2),
           call_bg(tmp_path, nodes[1], FR, caller="b", calls=2),
           call_bg(tmp_path, nodes[2], FR, caller="c", calls=1)]
    try:
        wait_for(lambda: total(nodes[0]) == 5, what="5 calls")
        assert total(nodes[1]) == 5 and total(nodes[2]) == 5
        for k in nodes:
            assert invite(k, FR, caller="d") == 403
    finally:
        for bg in bgs:
            out, err = bg.communicate(timeout=30)
            assert bg.returncode == 0, out + err
    wait_for(lambda: total(nodes[2]) == 0, what="all slots back")
    p = call(tmp_path, nodes[1], FR, caller="d")
    assert p.returncode == 0, p.stdout + p.stderr


def test_repetition_is_exact_across_nodes(cluster_mix, redis, tmp_path):
    nodes = cluster_mix(3, "redis://127.0.0.1:%d/0" % redis.port)
    # rep1: same_number blocks above 3 in 60 min
    passed = sum(call(tmp_path, nodes[i % 3], FR, caller="rep1").returncode
                 == 0 for i in range(6))
    assert passed == 3


def test_ban_on_one_node_applies_everywhere(cluster_mix, redis):
    url = "redis://127.0.0.1:%d/0" % redis.port
    nodes = cluster_mix(3, url)
    for k in nodes:
        assert options(k, "127.0.0.9") == 200
    nodes[0].rpc("antifraud.ban", "127.0.0.9", 600, "from node 1")
    # within a second (a worker that found the source clear a moment ago
    # trusts that for up to a second)
    time.sleep(1.1)
    for k in nodes:
        assert options(k, "127.0.0.9") is None
    bans = h.parse_kamcmd(nodes[2].rpc("antifraud.bans").stdout)
    assert bans["ip"] == "127.0.0.9" and bans["reason"] == "from node 1"
    # a node started later sees the bans kept in Redis
    late = cluster_mix(1, url)[0]
    assert options(late, "127.0.0.9") is None
    # and every node's fallback store got it through pub/sub: with Redis
    # gone, the ban still holds on each node
    time.sleep(1.0)
    redis.kill()
    for k in nodes + [late]:
        assert options(k, "127.0.0.9", timeout=1.0) is None
        assert options(k, "127.0.0.8", timeout=1.0) == 200
    # Redis back (empty: no persistence here): ban again, then an unban on
    # another node lifts it in Redis and in every node's fallback store
    redis.start()
    for k in nodes:
        wait_for(lambda: redis_state(k) == "up", what="redis up")
    nodes[0].rpc("antifraud.ban", "127.0.0.9", 600, "again")
    time.sleep(1.0)
    nodes[1].rpc("antifraud.unban", "127.0.0.9")
    time.sleep(1.0)
    for k in nodes:
        assert options(k, "127.0.0.9") == 200
    redis.kill()
    for k in nodes:
        assert options(k, "127.0.0.9", timeout=1.0) == 200


def monitor(redis):
    """redis-cli MONITOR of redis into a file: (process, path)"""
    path = os.path.join(redis.dir, "monitor.%d" % time.monotonic_ns())
    p = subprocess.Popen(["redis-cli", "-p", str(redis.port), "monitor"],
                         stdout=open(path, "w"), stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.getsize(path) > 0, what="MONITOR")
    return p, path


def lookups(path, src):
    """the ban lookups of src in a MONITOR's output"""
    with open(path) as f:
        return sum(1 for line in f
                   if "ban:{%s}" % src in line and '"GET"' in line)


def test_clear_sources_remembered_while_subscribed(cluster_mix, redis):
    """A source found not banned needs no lookup for a minute while the
    node's subscriber hears the cluster's bans (not only for a second),
    and a ban made on another node applies at once all the same."""
    url = "redis://127.0.0.1:%d/0" % redis.port
    nodes = cluster_mix(2, url)
    src = "127.0.0.11"
    for k in nodes:
        # the subscriber is up once its own node's events come back
        wait_for(lambda: options(k, src) == 200, what="first OPTIONS")
    mon, path = monitor(redis)
    try:
        # past the second an answer holds without a subscriber
        time.sleep(1.5)
        for _ in range(3):
            for k in nodes:
                assert options(k, src) == 200
        assert options(nodes[0], "127.0.0.12") == 200
        time.sleep(0.3)
        # a source not seen yet is looked up: the MONITOR works
        assert lookups(path, "127.0.0.12") == 1
        assert lookups(path, src) == 0
        # a ban on node 1: node 2 (which remembers the source as clear)
        # drops it at once, well within the second of before
        t0 = time.time()
        nodes[0].rpc("antifraud.ban", src, 600, "from node 1")
        wait_for(lambda: options(nodes[1], src, timeout=0.2) is None,
                 timeout=0.8, what="the ban on node 2")
        assert time.time() - t0 < 0.8
        assert options(nodes[0], src) is None
    finally:
        mon.terminate()
        mon.wait()


def test_reload_reaches_all_nodes(cluster, redis):
    nodes = cluster(3, "redis://127.0.0.1:%d/0" % redis.port)
    out = nodes[0].rpc("antifraud.reload").stdout
    assert "all nodes told" in out
    for k in nodes[1:]:
        wait_for(lambda: "rules reloaded" in k.read_log(), timeout=3,
                 what="reload on another node")
    # the node that published does not reload a second time
    time.sleep(1.0)
    assert nodes[0].read_log().count("rules reloaded") == 1


def test_redis_killed_mid_run_then_back(cluster_any, redis, tmp_path):
    nodes = cluster_any(2, "redis://127.0.0.1:%d/0" % redis.port)
    bg = h.Sipp.uac_bg(str(tmp_path), "%s:%d" % (nodes[0].ip, nodes[0].port),
                       scenario="uac-hold.xml", caller="alice", callee=DE,
                       calls=200, rate=40, extra=["-d", "100", "-l", "50"])
    time.sleep(1.5)
    redis.kill()
    # every request still answered fast: the breaker is node-wide
    worst = 0.0
    for i in range(20):
        t0 = time.time()
        assert options(nodes[i % 2], "127.0.0.1", timeout=1.0) == 200
        worst = max(worst, time.time() - t0)
    assert worst < 0.5, worst
    out, err = bg.communicate(timeout=60)
    assert bg.returncode == 0, out[-2000:] + err[-2000:]
    for k in nodes:
        wait_for(lambda: redis_state(k) == "down", what="breaker open")
        st = h.parse_kamcmd(k.rpc("antifraud.stats").stdout)
        assert st["redis"]["down_events"] >= 1
    assert "antifraud: redis down" in nodes[0].read_log()
    # back: the nodes reconnect by themselves and counting resumes in Redis
    redis.start()
    for k in nodes:
        wait_for(lambda: redis_state(k) == "up", timeout=5, what="redis up")
    assert "antifraud: redis up" in nodes[0].read_log()
    passed = sum(call(tmp_path, nodes[i % 2], DE, caller="rate1").returncode
                 == 0 for i in range(7))
    assert passed == 5
    assert redis.cli("--scan", "--pattern", "af:*").stdout.strip()


def test_slots_released_after_redis_pause(cluster_any, redis, tmp_path):
    """Calls admitted in Redis that end while Redis is paused (SIGSTOP:
    the breaker opens, their releases go to the fallback and the release
    queue) give their slots back in Redis once it answers again: the
    total is 0 within seconds and new calls are admitted (before the
    queue, the slots stayed until dest.max_duration and the total limit
    of 5 refused every new call)."""
    k = cluster_any(1, "redis://127.0.0.1:%d/0" % redis.port)[0]
    bg = call_bg(tmp_path, k, FR, caller="a", calls=5, hold_ms=3000)
    try:
        wait_for(lambda: total(k) == 5, what="5 calls up")
        assert invite(k, FR, caller="b") == 403
        os.kill(redis.proc.pid, signal.SIGSTOP)
        out, err = bg.communicate(timeout=30)  # the BYEs, Redis paused
        assert bg.returncode == 0, out[-2000:] + err[-2000:]
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
        if bg.poll() is None:
            bg.kill()
    wait_for(lambda: redis_state(k) == "down", what="breaker open")
    t0 = time.time()
    wait_for(lambda: redis_state(k) == "up", timeout=10, what="redis up")
    wait_for(lambda: total(k) == 0, timeout=5, what="slots back in Redis")
    took = time.time() - t0
    assert redis.cli("--scan", "--pattern", "af:conc:*").stdout.strip() == ""
    st = h.parse_kamcmd(k.rpc("antifraud.stats").stdout)["redis"]
    # the first BYE met the timeout (it may still have run in Redis); the
    # others went to the fallback and were queued
    assert st["releases_queued"] >= 4, st
    assert st["releases_replayed"] == st["releases_queued"], st
    assert st["releases_dropped"] == 0 and st["releases_pending"] == 0, st
    ss = k.server_stats()  # the server's own statistics say the same
    assert ss["redis_releases_replayed"] == st["releases_replayed"], ss
    assert ss["redis_releases_dropped"] == 0, ss
    for i in range(5):
        p = call(tmp_path, k, FR, caller="c%d" % i)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    print("slots back in Redis %.1f s after it resumed; %d releases "
          "replayed" % (took, st["releases_replayed"]))


def test_fallback_closed_refuses(cluster, redis, tmp_path):
    nodes = cluster(1, "redis://127.0.0.1:%d/0" % redis.port,
                    fallback="closed")
    p = call(tmp_path, nodes[0], DE)
    assert p.returncode == 0, p.stdout + p.stderr
    redis.kill()
    # once the second a worker trusts a "not banned" answer is over, the
    # source check cannot read bans: 500, no call routed
    time.sleep(1.1)
    assert invite(nodes[0], DE) == 500


def test_sentinel_failover_keeps_service(cluster, tmp_path):
    master = h.Redis(str(tmp_path)).start()
    replica = h.Redis(str(tmp_path), replica_of=master.port).start()
    sentinel = h.Sentinel(str(tmp_path), master.port).start()
    try:
        wait_for(lambda: "connected_slaves:1" in master.cli(
            "INFO", "replication").stdout, what="replica in sync")
        k = cluster(1, "sentinel://127.0.0.1:%d/mymaster" % sentinel.port)[0]
        p = call(tmp_path, k, DE, caller="rate1")
        assert p.returncode == 0, p.stdout + p.stderr
        assert redis_state(k) == "up"
        master.kill()
        wait_for(lambda: sentinel.master_port_now() == replica.port,
                 timeout=20, what="failover to the replica")
        # service all along (each call passes), and the state goes to
        # Redis again, now the new master
        found = False
        for _ in range(5):  # rate2 may call 5 times a minute
            p = call(tmp_path, k, DE, caller="rate2")
            assert p.returncode == 0, p.stdout + p.stderr
            if replica.cli("--scan", "--pattern",
                           "af:v2:*rate2*").stdout.strip():
                found = True
                break
            time.sleep(1.0)
        assert found, "no state in the new master"
        # a process whose connection still pointed at the old master may
        # open the breaker once more when it first uses it; the timer's
        # probe (every second) closes it again
        wait_for(lambda: redis_state(k) == "up", timeout=5,
                 what="the breaker closed on the new master")
    finally:
        sentinel.stop()
        replica.kill()
        master.kill()


class Registrar:
    """The downstream registrar the proxies relay REGISTERs to (the
    sample cfg without local authentication: an SBC in front of a PBX):
    answers 200 when the credentials' response is "good", else 401."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            text = data.decode(errors="replace")
            if not text.startswith("REGISTER"):
                continue
            keep = [ln for ln in text.split("\r\n") if re.match(
                r"(?i)(via|from|to|call-id|cseq):", ln)]
            if 'response="good"' in text:
                first, extra = "SIP/2.0 200 OK", ["Expires: 60"]
            else:
                first, extra = "SIP/2.0 401 Unauthorized", [
                    'WWW-Authenticate: Digest realm="127.0.0.1", '
                    'nonce="%s"' % h.rand_token(12)]
            reply = "\r\n".join([first] + keep + extra +
                                ["Content-Length: 0", "", ""])
            self.sock.sendto(reply.encode(), addr)

    def close(self):
        self.sock.close()


def register(k, src, user, good):
    """A REGISTER with credentials for user from src; the final code."""
    c = h.SipClient(src)
    creds = ['Authorization: Digest username="%s", realm="127.0.0.1", '
             'nonce="1", uri="sip:127.0.0.1", response="%s"' % (
                 user, "good" if good else "bad")]
    try:
        return c.ask("REGISTER", "sip:127.0.0.1", (k.ip, k.port),
                     from_user=user, to_user=user, from_host="127.0.0.1",
                     headers=creds, timeout=1.0)
    finally:
        c.close()


def test_account_protection_is_shared_across_nodes(rules, redis, tmp_path):
    """Failed authentications learned from the replies of a downstream
    registrar count cluster-wide: a source that fails on two nodes is
    banned at the threshold (5) of the sum; an account that fails from
    three addresses spread over the nodes is under attack on every node,
    where its known good source still registers and a new one does not."""
    reg = Registrar()
    url = "redis://127.0.0.1:%d/0" % redis.port
    with open(os.path.join(h.DATA, "rules-dest.yaml.in")) as f:
        path = rules(f.read().replace("@HOLIDAYS@", ""), name="acc.yaml")
    nodes = []
    try:
        for i in range(2):
            d = tmp_path / ("node%d" % i)
            d.mkdir()
            nodes.append(h.Kamailio(str(d), path, next_hop_port=reg.port,
                                    defines={"AF_REDIS": '"%s"' % url}
                                    ).start())
        a, b = nodes
        # bob's phone registers from 127.0.0.20: a known good source
        assert register(a, "127.0.0.20", "bob", True) == 200
        # 127.0.0.7 guesses: 2 failures on a, 2 on b, the 5th on a bans
        for k in (a, b, a, b, a):
            assert register(k, "127.0.0.7", "alice", False) == 401
        time.sleep(1.1)  # the 1 s "not banned" memory of each worker
        assert register(b, "127.0.0.7", "alice", True) is None
        bans = h.parse_kamcmd(b.rpc("antifraud.bans").stdout)
        assert bans["ip"] == "127.0.0.7"
        assert bans["reason"].startswith("auth_failures")
        # three addresses, one failure each, on both nodes: bob is under
        # attack everywhere
        for k, src in ((a, "127.0.0.11"), (b, "127.0.0.12"),
                       (a, "127.0.0.13")):
            assert register(k, src, "bob", False) == 401
        for k in nodes:
            acc = h.parse_kamcmd(k.rpc("antifraud.accounts").stdout)
            assert acc["account"] == "bob@127.0.0.1"
            assert acc["reason"].startswith("account_attack")
        info = h.parse_kamcmd(b.rpc("antifraud.account",
                                    "bob@127.0.0.1").stdout)
        assert info["under_attack"] == 1 and info["failing_sources"] == 3
        # the right password from a new address: refused on both nodes;
        # from the known good source: accepted
        for k in nodes:
            assert register(k, "127.0.0.14", "bob", True) is None
            assert register(k, "127.0.0.20", "bob", True) == 200
        # released on one node: released everywhere
        a.rpc("antifraud.account_release", "bob@127.0.0.1")
        assert register(b, "127.0.0.14", "bob", True) == 200
        st = h.parse_kamcmd(a.rpc("antifraud.stats").stdout)
        st_b = h.parse_kamcmd(b.rpc("antifraud.stats").stdout)
        assert st["auth_failed"] + st_b["auth_failed"] == 8
        assert st["account_attacks"] + st_b["account_attacks"] == 1
    finally:
        for k in nodes:
            crashed = k.crashed()
            k.stop()
            assert not crashed, "kamailio crashed: %s" % crashed
        reg.close()
