# antifraud - a month of generated calls with injected fraud, written as
# CDRs in every format af-cdr reads (for test_cdr.py and the bench).
# SPDX-License-Identifier: GPL-2.0-or-later
import calendar
import datetime
import random

DOMAIN = "cust.example"
LEGIT_SRC = "127.0.0.2"      # DE in test/data/geo.map
HOP_SRCS = ["127.0.0.2", "127.0.0.5", "127.0.0.6"]  # DE, FR, JP


def ts(y, mo, d, h=0, mi=0, s=0):
    return calendar.timegm((y, mo, d, h, mi, s))


class Call:
    __slots__ = ("start", "answer", "end", "caller", "callee", "code",
                 "callid", "src", "ftag", "ttag")

    def __init__(self, start, caller, callee, answer, end, code, callid,
                 src):
        self.start = start
        self.caller = caller
        self.callee = callee
        self.answer = answer  # None: not answered
        self.end = end
        self.code = code
        self.callid = callid
        self.src = src
        self.ftag = "f" + callid[-8:]
        self.ttag = "t" + callid[-8:]


def _num(rnd, prefix, digits):
    return prefix + "".join(rnd.choice("0123456789") for _ in range(digits))


def month(seed=13, callers=30, year=2026, mon=1, per_day=(8, 14)):
    """Legitimate traffic of a month and the injected fraud. Returns
    (calls, fraud) where fraud maps a fraudulent caller to what it did."""
    rnd = random.Random(seed)
    calls = []
    n = [0]

    def add(start, caller, callee, answered, ring, talk, code=200,
            src=LEGIT_SRC):
        n[0] += 1
        cid = "%08x-cdr-%d@%s" % (rnd.getrandbits(32), n[0], DOMAIN)
        if answered:
            a = start + ring
            calls.append(Call(start, caller, callee, a, a + talk, 200, cid,
                              src))
        else:
            calls.append(Call(start, caller, callee, None, start + ring,
                              code, cid, src))

    days = calendar.monthrange(year, mon)[1]
    users = ["u%02d" % i for i in range(1, callers + 1)]
    for d in range(1, days + 1):
        wd = datetime.date(year, mon, d).weekday()
        for u in users:
            if wd < 5:
                k = rnd.randint(*per_day)
                lo, hi = 8 * 3600, 18 * 3600
            else:
                k = rnd.randint(0, 3)
                lo, hi = 10 * 3600, 16 * 3600
            for _ in range(k):
                start = ts(year, mon, d) + rnd.randint(lo, hi)
                x = rnd.random()
                if x < 0.45:
                    callee = _num(rnd, "+4930", 7)
                elif x < 0.75:
                    callee = _num(rnd, "+49151", 8)
                elif x < 0.85:
                    callee = _num(rnd, "+331", 8)
                elif x < 0.93:
                    callee = _num(rnd, "+431", 7)
                else:
                    callee = _num(rnd, "+4420", 8)
                if rnd.random() < 0.7:
                    add(start, u, callee, True, rnd.randint(3, 10),
                        rnd.randint(20, 600))
                else:
                    add(start, u, callee, False, rnd.randint(5, 20), 0,
                        code=rnd.choice([486, 480, 487]))
    # weekend IRSF burst (Saturday 10th, 01:00): premium Latvian numbers
    # (refused), then eight long calls at once to Latvian fixed numbers
    sat = ts(year, mon, 10, 1, 0, 0)
    for i in range(30):
        add(sat + i * 20, "pbx-irsf", _num(rnd, "+3719", 7), True, 4,
            rnd.randint(60, 120))
    for i in range(8):
        add(sat + 700 + i * 10, "pbx-irsf", _num(rnd, "+37167", 6), True, 5,
            2400)
    # slow pumping under the rate limits (Tuesday 13th): a 12-minute call
    # to Gambia every 20 minutes, all day
    tue = ts(year, mon, 13)
    for i in range(72):
        add(tue + i * 1200, "pbx-pump", _num(rnd, "+2204", 6), True, 6, 720)
    # a long call (Wednesday 21st): three hours to London
    add(ts(year, mon, 21, 20, 0, 0), "hotel-12", "+442079460123", True, 8,
        3 * 3600)
    # wangiri (Thursday 15th): short unanswered calls to many mobiles
    thu = ts(year, mon, 15, 10, 0, 0)
    for i in range(60):
        add(thu + i * 60, "pbx-wg", _num(rnd, "+2126", 8), False, 3, 0,
            code=487)
    # a caller hopping countries (Monday 19th): its source in DE, FR, JP
    mon19 = ts(year, mon, 19, 9, 0, 0)
    for i in range(6):
        add(mon19 + i * 1200, "roam-7", _num(rnd, "+4930", 7), True, 5, 60,
            src=HOP_SRCS[i % 3])
    calls.sort(key=lambda c: c.start)
    fraud = {"pbx-irsf": {"dest_premium", "concurrency_total", "minutes"},
             "pbx-pump": {"minutes"},
             "hotel-12": {"duration"},
             "pbx-wg": {"asr_low"},
             "roam-7": {"country_hop"}}
    return calls, fraud


def _dt(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _acc_events(calls):
    """Kamailio acc's records of the calls in the order they are logged:
    (time, method, call, code, reason)."""
    ev = []
    for c in calls:
        if c.answer is not None:
            ev.append((c.answer, 0, "INVITE", c, 200, "OK"))
            ev.append((c.end, 1, "BYE", c, 200, "OK"))
        else:
            reason = {486: "Busy Here", 480: "Temporarily Unavailable",
                      487: "Request Terminated"}.get(c.code, "Error")
            ev.append((c.end, 0, "INVITE", c, c.code, reason))
    ev.sort(key=lambda e: (e[0], e[1]))
    return ev


def write_kamailio_log(calls, path):
    with open(path, "w") as f:
        for t, _, m, c, code, reason in _acc_events(calls):
            what = "transaction answered" if code < 300 else "call missed"
            stamp = datetime.datetime.fromtimestamp(
                t, datetime.timezone.utc).strftime("%b %d %H:%M:%S")
            f.write("%s sip1 /usr/sbin/kamailio[2107]: NOTICE: acc "
                    "[acc.c:281]: ACC: %s: timestamp=%d;method=%s;"
                    "from_tag=%s;to_tag=%s;call_id=%s;code=%d;reason=%s;"
                    "src_user=%s;src_domain=%s;src_ip=%s;dst_ouser=%s;"
                    "dst_user=%s;dst_domain=%s\n" % (
                        stamp, what, t, m, c.ftag,
                        c.ttag if code < 300 else "", c.callid, code, reason,
                        c.caller, DOMAIN, c.src, c.callee, c.callee, DOMAIN))
            if code < 300 and m == "INVITE" and c.callid.endswith("7@" + DOMAIN):
                f.write("%s sip1 /usr/sbin/kamailio[2107]: INFO: <script>: "
                        "routed to the gateway\n" % stamp)


def write_kamailio_flatstore(calls, path):
    with open(path, "w") as f:
        for t, _, m, c, code, reason in _acc_events(calls):
            f.write("|".join([m, c.ftag, c.ttag if code < 300 else "",
                              c.callid, str(code), reason, str(t), c.caller,
                              DOMAIN, c.src, c.callee, c.callee, DOMAIN])
                    + "\n")


def write_kamailio_cdrs(calls, path):
    """acc_cdrs: dialogs that were answered only."""
    with open(path, "w") as f:
        for c in calls:
            if c.answer is None:
                continue
            f.write("Jan 01 00:00:00 sip1 kamailio[2107]: NOTICE: acc "
                    "[acc_cdr.c:395]: start_time=%d.000; end_time=%d.000; "
                    "duration=%d.000; src_user=%s; src_domain=%s; "
                    "dst_user=%s; callid=%s; src_ip=%s\n" % (
                        c.answer, c.end, c.end - c.answer, c.caller, DOMAIN,
                        c.callee, c.callid, c.src))


def write_opensips(calls, path):
    with open(path, "w") as f:
        f.write("id,method,from_tag,to_tag,callid,sip_code,sip_reason,time,"
                "duration,ms_duration,setuptime,created,src_user,src_domain,"
                "src_ip,dst_user\n")
        for i, c in enumerate(calls, 1):
            if c.answer is not None:
                row = [i, "INVITE", c.ftag, c.ttag, c.callid, 200, "OK",
                       _dt(c.answer), c.end - c.answer,
                       (c.end - c.answer) * 1000, c.answer - c.start,
                       _dt(c.start)]
            else:
                row = [i, "INVITE", c.ftag, "", c.callid, c.code, "Failed",
                       _dt(c.end), 0, 0, c.end - c.start, _dt(c.start)]
            row += [c.caller, DOMAIN, c.src, c.callee]
            f.write(",".join(str(x) for x in row) + "\n")


FS_CAUSE = {486: "USER_BUSY", 480: "NO_ANSWER", 487: "ORIGINATOR_CANCEL"}


def write_freeswitch(calls, path):
    with open(path, "w") as f:
        for c in calls:
            ans = _dt(c.answer) if c.answer is not None else ""
            bill = c.end - c.answer if c.answer is not None else 0
            cause = "NORMAL_CLEARING" if c.answer is not None else \
                FS_CAUSE.get(c.code, "CALL_REJECTED")
            row = ['Extension %s' % c.caller, c.caller, c.callee, "default",
                   _dt(c.start), ans, _dt(c.end), str(c.end - c.start),
                   str(bill), cause, c.callid, "", "", "PCMA", "PCMA"]
            f.write(",".join('"%s"' % x.replace('"', '""') for x in row)
                    + "\n")


AST_DISP = {486: "BUSY", 480: "NO ANSWER", 487: "NO ANSWER"}


def write_asterisk(calls, path):
    with open(path, "w") as f:
        for c in calls:
            ans = _dt(c.answer) if c.answer is not None else ""
            bill = c.end - c.answer if c.answer is not None else 0
            disp = "ANSWERED" if c.answer is not None else \
                AST_DISP.get(c.code, "FAILED")
            row = ['"%s"' % x for x in
                   ["", c.caller, c.callee, "from-internal",
                    '""%s"" <%s>' % (c.caller, c.caller),
                    "PJSIP/%s-0001" % c.caller, "PJSIP/trunk-0002", "Dial",
                    "PJSIP/trunk", _dt(c.start), ans, _dt(c.end)]]
            row += [str(c.end - c.start), str(bill), '"%s"' % disp,
                    '"DOCUMENTATION"', '"%s"' % c.callid]
            f.write(",".join(row) + "\n")


CSV_COLUMNS = ("start=call_start,caller=from,callee=to,answer=answered_at,"
               "end=ended_at,disposition=status,callid=id,source=ip,"
               "domain=realm")


def write_csv(calls, path):
    with open(path, "w") as f:
        f.write("id,call_start,from,realm,ip,to,answered_at,ended_at,status\n")
        for c in calls:
            f.write("%s,%sZ,%s,%s,%s,%s,%s,%s,%d\n" % (
                c.callid, _dt(c.start).replace(" ", "T"), c.caller, DOMAIN,
                c.src, c.callee,
                _dt(c.answer) if c.answer is not None else "", _dt(c.end),
                c.code))


# format -> (writer, extra af-cdr arguments, has failed attempts, has the
# source address)
FORMATS = {
    "kamailio-log": (write_kamailio_log, [], True, True),
    "kamailio-flatstore": (write_kamailio_flatstore, [], True, True),
    "kamailio-cdrs": (write_kamailio_cdrs, [], False, True),
    "opensips": (write_opensips, [], True, True),
    "freeswitch": (write_freeswitch, ["--domain", DOMAIN], True, False),
    "asterisk": (write_asterisk, ["--domain", DOMAIN], True, False),
    "csv": (write_csv, ["--columns", CSV_COLUMNS], True, True),
}
