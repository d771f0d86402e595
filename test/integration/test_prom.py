# antifraud: metrics for Prometheus through xhttp_prom (the sample cfg
# with -A AF_PROM). A scrape with curl is parsed as the text exposition
# format: every antifraud statistic is there with its value, the labelled
# series agree with the module's own counts and have bounded labels, and
# every query of the Grafana dashboard (etc/antifraud-grafana.json) names
# an exported metric.
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import re
import subprocess
import time

import afharness as h

DASHBOARD = os.path.join(h.ETC, "antifraud-grafana.json")
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_exposition(text):
    """[(name, {label: value}, float)]; fails on a line that is not one."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, "not an exposition line: %r" % line
        labels = {}
        if m.group(2):
            rest = m.group(2)
            while rest.strip():
                lm = LABEL.match(rest)
                assert lm, "bad labels in %r" % line
                labels[lm.group(1)] = lm.group(2)
                rest = rest[lm.end():]
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def scrape(port, path="/metrics"):
    p = subprocess.run(["curl", "-s", "-S", "-m", "5", "-o", "-", "-w",
                        "\n%{http_code}", "http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


def kstats(k):
    out = {}
    for line in k.rpc("stats.get_statistics", "antifraud:").stdout.splitlines():
        key, _, val = line.partition(" = ")
        if key.strip().startswith("antifraud:"):
            out[key.strip()[len("antifraud:"):]] = int(val)
    return out


def start(kam):
    port = h.free_port()
    k = kam(defines={"AF_PROM": None, "AF_PROM_PORT": port,
                     "AF_PROM_INTERVAL": 1})
    return k, port


def traffic(k):
    c = h.SipClient("127.0.0.71")
    c.ask("INVITE", "sip:nobody@127.0.0.1", (k.ip, k.port), timeout=0.3)
    c.close()
    c = h.SipClient("127.0.0.72")
    c.ask("OPTIONS", "sip:alice@127.0.0.1", (k.ip, k.port), timeout=0.3,
          user_agent="friendly-scanner")
    c.close()
    c = h.SipClient("127.0.0.3")   # KP: geo_country
    c.ask("OPTIONS", "sip:127.0.0.1", (k.ip, k.port), to_user="",
          timeout=0.3)
    c.close()
    k.rpc("antifraud.ban", "127.0.0.73", 600, "manual")


def test_scrape_statistics_and_labelled_series(kam):
    k, port = start(kam)
    traffic(k)
    time.sleep(2.5)   # two pushes
    code, body = scrape(port)
    assert code == 200, body
    series = parse_exposition(body)
    plain = {n: v for n, lb, v in series if not lb}

    # every statistic, with its value
    st = kstats(k)
    assert len(st) >= 20
    for name, val in st.items():
        assert plain.get("kamailio_antifraud_" + name) == val, name
    assert st["blocked"] >= 2

    # alerts and blocks by check and reason: the module's reason counts
    reasons = h.parse_kamcmd(k.rpc("antifraud.stats").stdout)["reasons"]
    verdicts = [(lb, v) for n, lb, v in series
                if n == "kamailio_antifraud_verdicts_total"]
    assert verdicts
    for lb, v in verdicts:
        assert set(lb) == {"check", "action", "reason"}
        assert lb["check"] in ("source", "fingerprint", "dest", "auth")
        assert lb["action"] in ("alert", "block")
        assert lb["reason"] in reasons
    for reason, count in reasons.items():
        total = sum(v for lb, v in verdicts if lb["reason"] == reason)
        assert total == count, (reason, total, count)
    assert any(lb["check"] == "fingerprint" and lb["reason"] == "signature"
               for lb, v in verdicts)

    # gauges: bans now, accounts, concurrency, Redis state, list sizes
    bans = h.parse_kamcmd(k.rpc("antifraud.bans").stdout)
    bans = bans if isinstance(bans, list) else [bans]
    assert plain["kamailio_antifraud_bans_active"] == len(
        [b for b in bans if isinstance(b, dict) and "ip" in b])
    assert plain["kamailio_antifraud_accounts_under_attack"] == 0
    assert plain["kamailio_antifraud_concurrent_calls"] == 0
    assert plain["kamailio_antifraud_concurrent_limit"] == -1
    redis = {lb["state"]: v for n, lb, v in series
             if n == "kamailio_antifraud_redis"}
    assert redis == {"up": 0, "down": 0, "off": 1}
    feeds = {lb["list"]: v for n, lb, v in series
             if n == "kamailio_antifraud_feed_entries"}
    assert feeds == {"blocklist": 3}

    # nothing else is served
    code, _ = scrape(port, "/other")
    assert code == 404
    code, _ = scrape(k.port, "/metrics")   # the SIP port
    assert code == 403


def dashboard_queries():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            exprs.append(t["expr"])
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            exprs.append(v["query"])
    return exprs


def test_dashboard_names_exported_metrics(kam):
    k, port = start(kam)
    traffic(k)
    time.sleep(2.5)
    code, body = scrape(port)
    assert code == 200
    names = {n for n, lb, v in parse_exposition(body)}
    exprs = dashboard_queries()
    assert len(exprs) >= 10
    used = set()
    for e in exprs:
        metrics = set(re.findall(r"\bkamailio_[a-z0-9_]+\b", e))
        assert metrics, "no metric in %r" % e
        missing = metrics - names
        assert not missing, (e, missing)
        used |= metrics
    # the dashboard shows the labelled series
    assert "kamailio_antifraud_verdicts_total" in used
    assert "kamailio_antifraud_bans_active" in used
