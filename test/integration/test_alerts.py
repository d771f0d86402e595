# antifraud integration: the alert event is bounded (issue: a flood from
# many sources under the ban threshold wrote a log line per request).
# SPDX-License-Identifier: GPL-2.0-or-later
import re
import time

import afharness as h


def alert_lines(k, src=None):
    lines = [ln for ln in k.read_log().splitlines()
             if re.search(r"antifraud: source rc=-?\d+ \[", ln)]
    if src:
        lines = [ln for ln in lines if " from %s:" % src in ln]
    return lines


def scan(k, src, n, user="nobody"):
    """n requests to an unknown user from src, without waiting for
    answers (the sample cfg drops them)."""
    c = h.SipClient(src)
    try:
        for _ in range(n):
            c.request("INVITE", "sip:%s@%s" % (user, k.ip), (k.ip, k.port))
            time.sleep(0.02)
    finally:
        c.close()


def wait_for(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_repeats_of_one_alert_are_suppressed_and_counted(kam):
    k = kam(defines={"AF_ALERT_REPEAT": 1})
    src = "127.0.3.1"
    scan(k, src, 3)  # under the ban threshold (5): three alerts
    assert wait_for(lambda: k.stats()["checks"] >= 3)
    lines = alert_lines(k, src)
    assert len(lines) == 1, lines
    assert "suppressed=0" in lines[0]
    assert k.stats()["alerts_suppressed"] == 2
    # after the repeat interval, the next one is raised with the count
    time.sleep(1.2)
    scan(k, src, 1)
    assert wait_for(lambda: len(alert_lines(k, src)) == 2), alert_lines(k, src)
    assert "suppressed=2" in alert_lines(k, src)[1]
    # the ban is another alert (other reasons): raised at once
    scan(k, src, 1)
    assert wait_for(lambda: any("scanner" in ln
                                for ln in alert_lines(k, src)))
    # counting is untouched: every request is in the reason counters
    assert k.stats()["reasons"]["unknown_user"] == 5


def test_flood_from_many_sources_is_capped_by_the_alert_rate(kam):
    k = kam(defines={"AF_ALERT_RATE": 5, "AF_ALERT_BURST": 5})
    t0 = time.time()
    for i in range(1, 201):
        scan(k, "127.0.4.%d" % i if i < 255 else "127.0.5.1", 1)
    elapsed = time.time() - t0
    assert wait_for(lambda: k.stats()["checks"] >= 200)
    n = len(alert_lines(k))
    # the burst, then 5 a second
    assert n <= 5 + 5 * (elapsed + 1), (n, elapsed)
    assert k.stats()["alerts_suppressed"] >= 200 - n
    assert k.stats()["reasons"]["unknown_user"] == 200
    # what the cap suppressed is said, in one line per 10 s
    assert wait_for(lambda: re.search(
        r"\d+ alerts suppressed by the alert rate limit", k.read_log()),
        timeout=12), k.read_log()[-2000:]
    assert k.alive()
