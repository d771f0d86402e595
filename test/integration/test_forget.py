# antifraud: antifraud.forget on a running kamailio, with its state in
# shared memory and in Redis: a caller blocked for repetition, a number,
# a banned source are forgotten, and calls pass again; nothing else moves.
# SPDX-License-Identifier: GPL-2.0-or-later
import afharness as h
import pytest
from test_cluster import cluster, redis  # noqa: F401 (fixtures)
from test_dest import (FR, call, dest_rules, invite, kd)  # noqa: F401


def forget(k, kind, subject, check=True):
    p = k.rpc("antifraud.forget", kind, subject, check=check)
    return p if not check else h.parse_kamcmd(p.stdout)


def bans(k):
    out = h.parse_kamcmd(k.rpc("antifraud.bans").stdout)
    out = out if isinstance(out, list) else [out]
    return {b["ip"]: b for b in out if isinstance(b, dict) and "ip" in b}


@pytest.fixture(params=["shm", "redis"])
def node(request, kd, cluster, redis):  # noqa: F811
    if request.param == "shm":
        return kd()
    return cluster(1, "redis://127.0.0.1:%d/0" % redis.port)[0]


def test_forget_number_caller_source(node, tmp_path, redis):  # noqa: F811
    k = node
    # same_number of the 'repeat' profile: block above 3 in 60 min
    p = call(tmp_path, k, FR, caller="rep1", calls=3, rate=10)
    assert p.returncode == 0, p.stdout + p.stderr
    assert invite(k, FR, caller="rep1") == 403
    out = forget(k, "number", "s:" + FR)
    assert out["kind"] == "number" and out["removed"] >= 1
    # counted from zero again: three more calls pass, the fourth not
    p = call(tmp_path, k, FR, caller="rep1", calls=3, rate=10)
    assert p.returncode == 0, p.stdout + p.stderr
    assert invite(k, FR, caller="rep1") == 403
    # forgetting the caller clears its pairs too
    out = forget(k, "caller", "rep1@127.0.0.1")
    assert out["removed"] >= 1
    p = call(tmp_path, k, FR, caller="rep1")
    assert p.returncode == 0, p.stdout + p.stderr

    # a source: its ban goes
    k.rpc("antifraud.ban", "127.0.0.55", 600, "test")
    k.rpc("antifraud.ban", "127.0.0.56", 600, "test")
    assert "127.0.0.55" in bans(k)
    out = forget(k, "source", "127.0.0.55")
    assert out["removed"] >= 1
    b = bans(k)
    assert "127.0.0.55" not in b and "127.0.0.56" in b
    if k.defines.get("AF_REDIS"):
        keys = redis.cli("--scan", "--pattern", "*127.0.0.55*").stdout
        assert keys.strip() == "", keys
        keys = redis.cli("--scan", "--pattern", "*127.0.0.56*").stdout
        assert "ban:{127.0.0.56}" in keys

    # bad input: a fault, nothing forgotten
    p = forget(k, "caller", "rep1", check=False)
    assert p.returncode != 0 and "user@host" in p.stdout + p.stderr
    p = forget(k, "nobody", "x", check=False)
    assert p.returncode != 0 and "Unknown subject" in p.stdout + p.stderr
    p = forget(k, "source", "not-an-ip", check=False)
    assert p.returncode != 0 and "not an IP" in p.stdout + p.stderr
    assert "127.0.0.56" in bans(k)
