# antifraud: the operations commands of the core (af_cmd.def) on both
# servers, Kamailio RPC and OpenSIPS MI: the list files (feeds), forgetting
# a banned source (forget), the call-outcome views (analytics,
# analytics_top, analytics_stats), and their argument checks.
# SPDX-License-Identifier: GPL-2.0-or-later
import afharness as h


def answer(k, *args):
    return h.parse_kamcmd(k.rpc(*args).stdout)


def bans(k):
    out = answer(k, "antifraud.bans")
    out = out if isinstance(out, list) else [out]
    return {b["ip"] for b in out if isinstance(b, dict) and "ip" in b}


def test_ops_commands(srv):
    k = srv()
    # feeds: the test rules' one list with a file, in use, never refused
    feeds = answer(k, "antifraud.feeds")
    feeds = feeds if isinstance(feeds, list) else [feeds]
    assert [f["name"] for f in feeds] == ["blocklist"], feeds
    assert feeds[0]["file"].endswith("blocklist-test.txt")
    assert int(feeds[0]["entries"]) > 0 and int(feeds[0]["refusals"]) == 0

    # forget: the source's ban goes, the other stays
    k.rpc("antifraud.ban", "127.0.0.55", 600, "test")
    k.rpc("antifraud.ban", "127.0.0.56", 600, "test")
    assert {"127.0.0.55", "127.0.0.56"} <= bans(k)
    out = answer(k, "antifraud.forget", "source", "127.0.0.55")
    assert out["kind"] == "source" and int(out["removed"]) >= 1, out
    b = bans(k)
    assert "127.0.0.55" not in b and "127.0.0.56" in b, b
    p = k.rpc("antifraud.forget", "planet", "x", check=False)
    assert p.returncode != 0 and "Unknown subject kind" in p.stdout, p.stdout

    # analytics: the overview, a subject's figures, the views' checks
    out = answer(k, "antifraud.analytics")
    assert "baseline" in out and "enabled" in out, out
    out = answer(k, "antifraud.analytics", "caller", "nobody@127.0.0.1")
    assert out["kind"] == "caller" and out["refused"] == "no", out
    p = k.rpc("antifraud.analytics_top", "loudness", check=False)
    assert p.returncode != 0 and "metric" in p.stdout, p.stdout
    p = k.rpc("antifraud.analytics_stats", "any", check=False)
    assert p.returncode != 0 and "Unknown parameter" in p.stdout, p.stdout
    assert k.alive()
