# antifraud - af-cdr: a month of generated CDRs with injected fraud in
# every format (exactly the expected alerts, none on legitimate callers),
# malformed files, the summary, --suggest, the rate deck, the HTML report
# rendered in headless Chromium, and the proxy and af-cdr agreeing on
# calls through a real kamailio whose acc module wrote the CDRs.
# SPDX-License-Identifier: GPL-2.0-or-later
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import time

import pytest

import afharness as h
import cdrgen

AF_CDR = os.path.join(h.ROOT, "build", "af-cdr")
REPORT = os.path.join(h.ROOT, "utils", "af-cdr-report")

MONTH_RULES = """version: 1
lists:
  customers: {entries: [127.0.0.0/8]}
geoip:
  country_db: @GEO_DB@
  required: true
dest:
  numplan: @ETC@/antifraud-numplan.csv
  overlays: [@ETC@/antifraud-highrisk.csv]
  calendars:
    utc: {timezone: UTC, workdays: [mon, tue, wed, thu, fri],
          hours: {mon-fri: "08:00-18:00"}}
  calendar: utc
  max_duration: 14400
  concurrency:
    workday: {default: 10}
    holiday: {default: 4}
analytics:
  windows: [3600, 86400]
  duration: {international: 7200}
  asr: {below: 20, window: 3600, min_sample: 20, subjects: [caller]}
  minutes: {above: 300, window: 86400, subjects: [caller],
            scope: international}
profiles:
  default:
    domains: [cust.example]
    trusted: [customers]
    routable: '^\\+?[0-9]{3,15}$'
    hopping: {country: 3600, continent: 0, identity: from}
    dest:
      country: DE
      international: true
      premium: false
      rates: {caller_per_minute: 10}
      repeat: {same_number: {60m: {warn: 6, block: 10}}}
    mode: {dest: enforce, rate: enforce, repeat: enforce,
           concurrency: monitor, analytics: monitor, hopping: monitor}
"""


def af_cdr(args, timeout=60):
    p = subprocess.run([AF_CDR] + args, capture_output=True, text=True,
                       timeout=timeout)
    alerts = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return p, alerts


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    d = tmp_path_factory.mktemp("cdr")
    geo = h.build_geo_db(str(d / "geo.mmdb"))
    rules = d / "rules.yaml"
    rules.write_text(MONTH_RULES.replace("@GEO_DB@", geo)
                     .replace("@ETC@", h.ETC))
    calls, fraud = cdrgen.month()
    return d, str(rules), calls, fraud


def by_caller(alerts):
    got = collections.defaultdict(set)
    for a in alerts:
        got[a["caller"].split("@")[0]].update(a["reasons"])
    return got


@pytest.mark.parametrize("fmt", sorted(cdrgen.FORMATS))
def test_month_in_every_format_gives_exactly_the_fraud(month, fmt):
    d, rules, calls, fraud = month
    writer, extra, has_failed, has_src = cdrgen.FORMATS[fmt]
    path = str(d / ("cdr-" + fmt))
    writer(calls, path)
    # detected, and named
    for args in ([], ["--format", fmt]):
        if fmt == "csv" and not args:
            args = []  # --columns names the format
        p, alerts = af_cdr(["-r", rules, "--source-checks"] + extra + args +
                           [path])
        assert p.returncode == 0, p.stderr[-2000:]
        assert "rows skipped: 0" in p.stderr, p.stderr[-2000:]
        want = dict(fraud)
        if not has_failed:
            del want["pbx-wg"]       # acc_cdrs: answered dialogs only
        if not has_src:
            del want["roam-7"]       # no source address: no hopping
        got = by_caller(alerts)
        assert dict(got) == want, (fmt, dict(got))
        # the IRSF burst: each of the 30 premium calls refused
        prem = [a for a in alerts if "dest_premium" in a["reasons"]]
        assert len(prem) == 30
        assert all(a["action"] == "block" and a["rc"] == -2 and
                   a["dest_country"] == "LV" and a["dest_class"] == "premium"
                   for a in prem)
        # 8 calls at once on a holiday with a limit of 4: the 5th to 8th
        conc = [a for a in alerts if "concurrency_total" in a["reasons"]]
        assert [a["conc_total"] for a in conc] == [5, 6, 7, 8]
        dur = [a for a in alerts if "duration" in a["reasons"]]
        assert len(dur) == 1 and dur[0]["check"] == "analytics"
        assert dur[0]["number"] == "+442079460123"
        # every alert names its CDR
        for a in alerts:
            assert a["cdr"]["file"] == path and a["cdr"]["line"] >= 1
            assert a["cdr"]["start"].endswith("Z")
        if fmt not in ("freeswitch", "asterisk", "kamailio-cdrs"):
            hop = [a for a in alerts if "country_hop" in a["reasons"]]
            assert hop and all(a["check"] == "source" for a in hop)
            # the source's country, as in the proxy's alert
            assert {a["country"] for a in hop} <= {"FR", "JP", "DE"}
            assert {a["country"] for a in hop} & {"FR", "JP"}
        if fmt == "csv":
            break


def test_summary_rates_and_suggest(month):
    d, rules, calls, fraud = month
    path = str(d / "month.csv")
    cdrgen.write_csv(calls, path)
    deck = d / "rates.csv"
    deck.write_text("prefix,rate_per_minute\n49,0.01\n4930,0.005\n33,0.05\n"
                    "43,0.04\n44,0.03\n371,0.5\n3719,2.0\n220,0.4\n212,0.3\n")
    summ = d / "summary.txt"
    p, alerts = af_cdr(["-r", rules, "--columns", cdrgen.CSV_COLUMNS,
                        "--rates", str(deck), "--suggest", "-s", str(summ),
                        path])
    assert p.returncode == 0, p.stderr
    text = summ.read_text()
    answered = [c for c in calls if c.answer is not None]
    minutes = sum(c.end - c.answer for c in answered) / 60.0
    m = re.search(r"answered: (\d+) of (\d+) \(ASR [\d.]+%\), ([\d.]+) "
                  r"minutes, cost ([\d.]+)", text)
    assert m, text
    assert int(m.group(1)) == len(answered) and int(m.group(2)) == len(calls)
    assert abs(float(m.group(3)) - minutes) < 0.1

    def rate(n):
        for k in range(len(n), 0, -1):
            r = {"49": 0.01, "4930": 0.005, "33": 0.05, "43": 0.04,
                 "44": 0.03, "371": 0.5, "3719": 2.0, "220": 0.4,
                 "212": 0.3}.get(n[1:k + 1])
            if r is not None:
                return r
        return 0
    cost = sum((c.end - c.answer) / 60.0 * rate(c.callee) for c in answered)
    assert abs(float(m.group(4)) - cost) < 0.05, (m.group(4), cost)
    # the premium calls the rules refuse: their cost is what was saved
    prem = sum((c.end - c.answer) / 60.0 * 2.0 for c in answered
               if c.callee.startswith("+3719"))
    m2 = re.search(r"refused by the rules: 30 calls, [\d.]+ minutes, cost "
                   r"([\d.]+)", text)
    assert m2 and abs(float(m2.group(1)) - prem) < 0.05, text
    assert re.search(r"dest_premium\s+0\s+30", text)
    assert re.search(r"pbx-irsf@cust.example\s+38\s+38", text)
    assert re.search(r"\n  LV\s+38\s+38", text)
    # --suggest: a YAML fragment the rule parser accepts
    frag = text[text.index("# af-cdr --suggest"):]
    import yaml
    y = yaml.safe_load(frag)
    slots = y["dest"]["concurrency"]["holiday"]
    assert slots["01:00-02:00"] >= 8   # the burst is in the history
    assert y["profiles"]["default"]["dest"]["rates"]["caller_per_minute"] >= 1
    assert y["analytics"]["minutes"]["above"] > 0
    # pasted into the rule file, the module's loader accepts it
    r = yaml.safe_load(open(rules).read())
    r["dest"]["concurrency"] = y["dest"]["concurrency"]
    r["profiles"]["default"]["dest"]["rates"].update(
        y["profiles"]["default"]["dest"]["rates"])
    r["analytics"]["minutes"] = y["analytics"]["minutes"]
    merged = d / "suggested.yaml"
    merged.write_text(yaml.safe_dump(r))
    p = subprocess.run([os.path.join(h.ROOT, "build", "af-rules-check"),
                        str(merged)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_malformed_files_give_clear_errors(month, tmp_path):
    d, rules, calls, fraud = month
    good = ("start,caller,callee,answer,end,disposition\n"
            "2026-01-05 10:00:00,u01,+493012345,2026-01-05 10:00:05,"
            "2026-01-05 10:01:00,ANSWERED\n")
    path = tmp_path / "bad.csv"
    with open(path, "wb") as f:
        f.write(good.encode())
        f.write(b"2026-01-05 10:02:00,u02,+493012346\n")              # 3
        f.write(b"2026-02-30 10:02:00,u02,+493012346,,"
                b"2026-01-05 10:03:00,BUSY\n")                          # 4
        f.write(b"2026-01-05 10:02:00,u\xff\xfe2,+49301,,"
                b"2026-01-05 10:03:00,BUSY\n")                          # 5
        f.write(b"2026-01-05 10:04:00,u03," + b"9" * (3 << 20) + b"\n")  # 6
        f.write(b'2026-01-05 10:05:00,"u04,+49301,,x,BUSY\n')          # 7
        f.write(b"2026-01-05 10:06:00,u05,+493099,,"
                b"2026-01-05 10:05:00,BUSY\n")                          # 8
        f.write(b"\x1b[31mred\x1b[0m,u06,+49,,x,y\n")                   # 9
        f.write(good.splitlines()[1].encode() + b"\n")                  # 10
        f.write(b"2026-01-05 10:07:00,u07,+4930")                       # 11
    cols = "start=start,caller=caller,callee=callee,answer=answer,end=end," \
           "disposition=disposition"
    p, alerts = af_cdr(["-r", rules, "--columns", cols, "--domain",
                        "cust.example", str(path)])
    assert p.returncode == 0, p.stderr
    err = p.stderr
    assert "bad.csv:3: 3 fields, expected 6" in err
    assert "bad.csv:4: bad start time '2026-02-30 10:02:00'" in err
    assert "bad.csv:5: not UTF-8: byte 0xff at column 22" in err
    assert "bad.csv:6: line longer than 65536 bytes (skipped)" in err
    assert "bad.csv:7: bad quoting" in err
    assert "bad.csv:8: times out of order" in err
    assert "bad.csv:9: bad start time '\\x1b[31mred\\x1b[0m'" in err
    assert "bad.csv:11: 3 fields, expected 6" in err
    assert "the file may be truncated" in err
    assert "rows skipped: 8 " in err
    assert "records: 2 calls" in err
    # nothing raw comes back: no escape byte, no megabyte line
    assert "\x1b" not in err and len(err) < 8000
    # a flatstore row with the wrong column count, a log line of garbage
    flat = tmp_path / "acc_1.log"
    flat.write_bytes(b"INVITE|a|b|c1|200|OK|1767607200|u01|cust.example|"
                     b"127.0.0.2|+4930|+4930|cust.example\n"
                     b"INVITE|a|b|c2|200|OK\n"
                     b"BYE|a|b|c1|200|OK|1767607260|u01|cust.example|"
                     b"127.0.0.2|+4930|+4930|cust.example\n"
                     b"INVITE|a|b|c3|200|OK|yesterday|u01|cust.example|"
                     b"127.0.0.2|+4930|+4930|cust.example\n")
    p, _ = af_cdr(["-r", rules, str(flat)])
    assert p.returncode == 0, p.stderr
    assert "acc_1.log:2: 6 fields, expected 13" in p.stderr
    assert "acc_1.log:4: bad timestamp 'yesterday'" in p.stderr
    assert "records: 1 calls" in p.stderr
    # an unknown format, a missing file: exit 1 with the reason
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n" * 30)
    p, _ = af_cdr(["-r", rules, str(junk), str(tmp_path / "missing")])
    assert p.returncode == 1
    assert "junk.txt: format not recognized" in p.stderr
    assert "missing: cannot open" in p.stderr
    # a bad --columns
    p, _ = af_cdr(["-r", rules, "--columns", "start=1,who=2", str(path)])
    assert p.returncode == 1 and "unknown key 'who'" in p.stderr
    # memory bounded: rows past --max-records are counted, not held
    p, _ = af_cdr(["-r", rules, "--columns", cols, "--domain",
                   "cust.example", "--max-records", "1", str(path)])
    assert p.returncode == 0, p.stderr
    assert "bad.csv:10: more records than --max-records" in p.stderr
    assert "records: 1 calls" in p.stderr
    assert "over the record limit 1)" in p.stderr


def test_dbtext_and_hostile_fields_in_json(month, tmp_path):
    """Kamailio acc through db_text (the header names the columns); callers
    with quotes, backslashes and control bytes come out as valid JSON."""
    d, rules, calls, fraud = month
    t = 1767607200  # Mon 2026-01-05 10:00 UTC
    db = tmp_path / "acc"
    rows = ["id(int,auto) method(string) from_tag(string) to_tag(string) "
            "callid(string) sip_code(string) sip_reason(string) time(int) "
            "src_user(string) src_domain(string) dst_user(string)"]
    evil = r'ev"il\\x\tq'   # db_text escapes the backslash and the tab
    rows.append("1:INVITE:f1:t1:c1\\:x:200:OK:%d:%s:cust.example:"
                "+37191234567" % (t, evil))
    rows.append("2:BYE:f1:t1:c1\\:x:200:OK:%d:%s:cust.example:"
                "+37191234567" % (t + 60, evil))
    rows.append("3:INVITE:f2:t2:c2:486:Busy:%d:alice:cust.example:"
                "+493012345678" % (t + 5))
    rows.append("4:INVITE:f3:t3:c3:200:OK:%d:bob:cust.example:"
                "+493012345679" % (t + 6))
    db.write_text("\n".join(rows) + "\n")
    p, alerts = af_cdr(["-r", rules, str(db)])
    assert p.returncode == 0, p.stderr
    assert "records: 3 calls" in p.stderr
    assert "1 answered INVITE without BYE" in p.stderr
    assert len(alerts) == 1
    a = alerts[0]
    assert a["caller"] == 'ev"il\\x\tq@cust.example', a["caller"]
    assert a["reasons"] == ["dest_premium"] and a["cdr"]["call_id"] == "c1:x"
    # a control byte in a CSV field: escaped in the JSON line
    csvf = tmp_path / "ctl.csv"
    csvf.write_bytes(b"start,caller,callee\n"
                     b"2026-01-05 10:00:00,x\x01\x7fy,+37191234567\n")
    p = subprocess.run([AF_CDR, "-r", rules, "--columns",
                        "start=start,caller=caller,callee=callee",
                        str(csvf)], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert b"x\\u0001\\u007fy@" in p.stdout
    assert json.loads(p.stdout)["caller"] == "x\x01\x7fy@"
    p = subprocess.run([AF_CDR, "-r", rules, "--format", "csv", str(csvf)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "--format csv needs --columns" in p.stderr


def test_ring_column_feeds_the_post_dial_delay(tmp_path):
    """A CSV with the first 18x's time: the replay's calls ring, and the
    average post-dial delay is judged as on the proxy."""
    rules = tmp_path / "pdd.yaml"
    rules.write_text(
        "version: 1\n"
        "dest:\n  numplan: %s/antifraud-numplan.csv\n"
        "analytics:\n  windows: [3600]\n"
        "  pdd: {above: 5, window: 3600, min_sample: 3, subjects: [caller]}\n"
        "profiles:\n  default:\n    routable: '^\\+?[0-9]{3,15}$'\n"
        "    dest: {country: DE, international: true}\n"
        "    mode: {analytics: monitor}\n" % h.ETC)
    rows = ["start,ring,answer,end,caller,callee"]
    t = 1767607200
    for i in range(4):
        for who, delay in (("slow", 12), ("quick", 1)):
            s0 = t + i * 300 + (0 if who == "slow" else 100)
            rows.append("%d,%d,%d,%d,%s,+4930123456%d" % (
                s0, s0 + delay, s0 + delay + 3, s0 + delay + 60, who, i))
    f = tmp_path / "pdd.csv"
    f.write_text("\n".join(rows) + "\n")
    p, alerts = af_cdr(["-r", str(rules), "--domain", "cust.example",
                        "--columns", "start=start,ring=ring,answer=answer,"
                        "end=end,caller=caller,callee=callee", str(f)])
    assert p.returncode == 0, p.stderr
    got = by_caller(alerts)
    assert dict(got) == {"slow": {"pdd"}}, alerts
    # the 3rd call reaches the minimum sample, the 4th alerts again
    assert len(alerts) == 2 and "pdd" in alerts[0]["detail"]


def test_html_report_renders_with_plots(month, tmp_path):
    d, rules, calls, fraud = month
    path = str(tmp_path / "month.csv")
    cdrgen.write_csv(calls, path)
    html = tmp_path / "report.html"
    p, alerts = af_cdr(["-r", rules, "--columns", cdrgen.CSV_COLUMNS,
                        "--html", str(html), path], timeout=120)
    assert p.returncode == 0, p.stderr
    text = html.read_text()
    # self-contained: inline SVG, nothing fetched
    assert text.count("<svg") == 4
    assert not re.search(r"(src|href)=[\"']https?:", text)
    assert "dest_premium" in text and "concurrency_total" in text
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (utils/deps.sh)"
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--user-data-dir=%s" % (tmp_path / "chrome"),
                    "--screenshot=%s" % shot, "--window-size=1200,3000",
                    "file://%s" % html], capture_output=True, timeout=60)
    assert shot.exists()
    from PIL import Image
    img = Image.open(shot).convert("RGB").resize((300, 750))
    px = list(img.getdata())
    nonwhite = sum(1 for r, g, b in px if r + g + b < 720)
    colours = {(r // 32, g // 32, b // 32) for r, g, b in px
               if max(r, g, b) - min(r, g, b) > 60}
    # plots, not a blank page or a page of text: a good share of the page
    # is drawn, in several distinct colours (bars, bands, markers)
    assert nonwhite > 0.08 * len(px), nonwhite
    assert len(colours) >= 6, colours


# ---- the proxy and af-cdr agree

AGREE_RULES = """version: 1
lists:
  trusted: {entries: [127.0.0.1/32]}
dest:
  numplan: @ETC@/antifraud-numplan.csv
  overlays: [@ETC@/antifraud-highrisk.csv]
  max_duration: 600
  concurrency:
    workday: {default: 3}
    holiday: {default: 3}
analytics:
  windows: [3600]
  asr: {below: 50, window: 3600, min_sample: 3, subjects: [caller]}
  duration: {international: 1}
profiles:
  default:
    domains: [127.0.0.1, localhost]
    trusted: [trusted]
    routable: '^\\+?[0-9]{3,15}$'
    dest:
      country: DE
      international: true
      premium: false
      rates: {caller_per_minute: 4}
      repeat: {same_number: {60m: {warn: 2, block: 4}}}
    mode: {dest: enforce, rate: enforce, repeat: monitor,
           concurrency: enforce, analytics: monitor}
"""

ALERT_RE = re.compile(r"antifraud: (\w+) rc=(-?\d+) \[([^\]]*)\] \S+ from "
                      r"\S+ .*? number=(\S*) .*? suppressed=(\d+)")


def proxy_alerts(log):
    out = []
    for m in ALERT_RE.finditer(log):
        out.append((m.group(1), int(m.group(2)),
                    tuple(sorted(x for x in m.group(3).split(",") if x)),
                    m.group(4) if m.group(1) == "dest" else "",
                    int(m.group(5))))
    return out


def cdr_alerts(alerts):
    return [(a["check"], a["rc"], tuple(sorted(a["reasons"])),
             a["number"] if a["check"] == "dest" else "", a["suppressed"])
            for a in alerts]


def test_proxy_and_af_cdr_agree(tmp_path, uas_dest):
    rules = tmp_path / "agree.yaml"
    rules.write_text(AGREE_RULES.replace("@ETC@", h.ETC))
    accdir = tmp_path / "acc"
    accdir.mkdir()
    k = h.Kamailio(str(tmp_path), str(rules), next_hop_port=uas_dest,
                   defines={"AF_ACC": None,
                            "AF_ACC_DB": '"flatstore:%s"' % accdir})
    k.start()
    try:
        def call(caller, number, calls=1, scenario="uac-hold.xml",
                 hold_ms=100, bg=False):
            args = dict(scenario=scenario, caller=caller, callee=number,
                        calls=calls)
            extra = ["-d", str(hold_ms), "-l", str(calls)]
            if bg:
                return h.Sipp.uac_bg(str(tmp_path), "%s:%d" % (k.ip, k.port),
                                     rate=100, extra=extra, **args)
            return h.Sipp.uac(str(tmp_path), "%s:%d" % (k.ip, k.port),
                              rate=20, timeout=30, extra=extra, **args)
        # premium refused; national and international calls pass
        call("alice", "+493012345678")
        call("alice", "+37191234567")
        call("alice", "+33123456789")
        # repetition: the same number again and again (monitor)
        call("rep", "+33123456700", calls=3)
        # the caller's rate: 6 calls within a minute, limit 4
        for i in range(6):
            call("fast", "+4930555000%d" % i)
        # busy calls: ASR below 50% after 3 (analytics, at the call ends)
        call("busy", "+4930777000", calls=4, scenario="uac-busy.xml")
        # concurrency: 3 long international calls up, a 4th refused
        bg = call("conc", "+33144440000", calls=3, hold_ms=3000, bg=True)
        deadline = time.time() + 8
        while time.time() < deadline:
            out = h.parse_kamcmd(k.rpc("antifraud.concurrency").stdout)
            if out["total"] == 3:
                break
            time.sleep(0.1)
        call("conc2", "+33144449999")
        bg.communicate(timeout=30)
        time.sleep(1.5)
    finally:
        k.stop()
    log = k.read_log()
    want = proxy_alerts(log)
    reasons = {r for _, _, rs, _, _ in want for r in rs}
    # the proxy's alert_repeat_interval (60 s): the second asr_low of the
    # same caller and number is suppressed, and so in the replay
    assert sum(1 for w in want if w[2] == ("asr_low",)) == 1, want
    assert {"dest_premium", "repeat_number", "rate_caller", "asr_low",
            "concurrency_total", "duration"} <= reasons, want
    # the duration guard fired for the 3 long international calls of one
    # caller to one number: raised once, the repeats suppressed
    assert sum(1 for w in want if w[2] == ("duration",)) == 1, want
    # the acc records: syslog lines in the log, and flatstore files
    logfile = tmp_path / "acc-log.txt"
    logfile.write_text("".join(x for x in log.splitlines(True)
                               if "ACC: " in x))
    flat = sorted(glob.glob(str(accdir / "*.log")))
    assert flat, os.listdir(accdir)
    for src in ([str(logfile)], flat):
        p, alerts = af_cdr(["-r", str(rules), "--alert-repeat", "60"] + src)
        assert p.returncode == 0, p.stderr
        assert "rows skipped: 0" in p.stderr, p.stderr
        got = cdr_alerts(alerts)
        assert collections.Counter(got) == collections.Counter(want), (
            src, sorted(got), sorted(want))
