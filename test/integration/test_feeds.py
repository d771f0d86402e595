# antifraud: live list files. A list file that changes on disk is swapped
# in by the timer without a reload; a bad new version keeps the list in
# use, and the log, the statistic feed_errors and antifraud.feeds say why.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import time

import afharness as h


def keepalive(k, src_ip):
    c = h.SipClient(src_ip)
    try:
        return c.ask("OPTIONS", "sip:%s:%d" % (k.ip, k.port), (k.ip, k.port),
                     to_user="", timeout=1.0)
    finally:
        c.close()


def write_feed(path, text):
    """As a feed writer does: a new file renamed over the old one."""
    with open(path + ".new", "w") as f:
        f.write(text)
    os.rename(path + ".new", path)


def listed(k, ip):
    look = h.parse_kamcmd(k.rpc("antifraud.lookup", ip).stdout)
    return look["list"] == "blocklist"


def stat(k, name):
    out = k.rpc("stats.get_statistics", "antifraud:").stdout
    for line in out.splitlines():
        key, _, val = line.partition(" = ")
        if key.strip() == "antifraud:" + name:
            return int(val)
    raise AssertionError("no statistic %s in %r" % (name, out))


def feeds(k):
    out = h.parse_kamcmd(k.rpc("antifraud.feeds").stdout)
    return out if isinstance(out, list) else [out]


def wait_for(cond, timeout=6.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def test_feed_swapped_in_and_bad_version_refused(kam, rules, tmp_path):
    feed = str(tmp_path / "honeypot.txt")
    write_feed(feed, "# honeypot feed\n127.0.0.70\n")
    with open(os.path.join(h.DATA, "rules-test.yaml.in")) as f:
        text = f.read().replace("@DATA@/blocklist-test.txt", feed)
    k = kam(rules(text), defines={"AF_FEED_INTERVAL": 1})
    assert listed(k, "127.0.0.70")
    assert keepalive(k, "127.0.0.71") == 200
    reloads = stat(k, "reloads")

    # a new version: swapped in by the timer, not by a reload
    write_feed(feed, "127.0.0.71\n127.0.9.0/24\n")
    assert wait_for(lambda: listed(k, "127.0.0.71")), k.read_log()[-2000:]
    assert not listed(k, "127.0.0.70")
    assert listed(k, "127.0.9.200")
    assert keepalive(k, "127.0.0.71") is None   # refused now (ip_deny)
    assert stat(k, "feed_reloads") == 1
    assert stat(k, "reloads") == reloads
    f = [x for x in feeds(k) if x["name"] == "blocklist"][0]
    assert f["file"] == feed and f["entries"] == 2 and f["swaps"] == 1
    assert f["error"] == ""
    assert "new version of %s swapped in" % feed in k.read_log()

    # a bad version: refused, the list in use stays, and it says why
    write_feed(feed, "127.0.0.72\nnot-an-ip\n")
    assert wait_for(lambda: stat(k, "feed_errors") == 1)
    assert listed(k, "127.0.0.71") and not listed(k, "127.0.0.72")
    f = [x for x in feeds(k) if x["name"] == "blocklist"][0]
    assert "%s:2:" % feed in f["error"] and "not-an-ip" in f["error"]
    assert "the list in use stays" in f["error"]
    assert "new version refused: %s:2:" % feed in k.read_log()
    # said once, not every second
    time.sleep(2.5)
    assert stat(k, "feed_errors") == 1

    # a truncated download (no entries) is refused too
    write_feed(feed, "")
    assert wait_for(lambda: stat(k, "feed_errors") == 2)
    assert listed(k, "127.0.0.71")

    # the next good version loads
    write_feed(feed, "127.0.0.73\n")
    assert wait_for(lambda: listed(k, "127.0.0.73"))
    assert not listed(k, "127.0.0.71")
    f = [x for x in feeds(k) if x["name"] == "blocklist"][0]
    assert f["error"] == "" and f["swaps"] == 2 and f["refusals"] == 2
    assert stat(k, "feed_reloads") == 2
    # a reload starts from the file as it is
    k.rpc("antifraud.reload")
    f = [x for x in feeds(k) if x["name"] == "blocklist"][0]
    assert f["swaps"] == 0 and f["entries"] == 1
    assert listed(k, "127.0.0.73")


def test_feed_interval_zero_never_looks(kam, rules, tmp_path):
    feed = str(tmp_path / "honeypot.txt")
    write_feed(feed, "127.0.0.70\n")
    with open(os.path.join(h.DATA, "rules-test.yaml.in")) as f:
        text = f.read().replace("@DATA@/blocklist-test.txt", feed)
    k = kam(rules(text), defines={"AF_FEED_INTERVAL": 0})
    write_feed(feed, "127.0.0.71\n")
    time.sleep(2.5)
    assert listed(k, "127.0.0.70") and not listed(k, "127.0.0.71")
    assert stat(k, "feed_reloads") == 0
