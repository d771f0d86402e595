# antifraud integration test: hostile operators. Every antifraud.* RPC of
# a running kamailio (system.listMethods) called through kamcmd with
# missing and extra arguments, wrong types (integers, floats, strings
# where the other is expected), negative and huge numbers, empty, 64 KB
# and non-UTF-8 strings, format directives, malformed addresses: each
# call gets a reply or a clear fault (a code and a message), never a
# crash; kamailio keeps every process and answers SIP afterwards.
# Where a command's signature is known, missing arguments, extra
# arguments and values of the wrong type must be faults.
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import random
import re
import subprocess

import afharness as h

# the largest string Kamailio's ctl carries: its stream buffer is 65535
# bytes for the whole request (a 65,536-byte argument is refused by ctl
# itself: "buffer overrun", connection closed; checked below)
BIG = "s:" + "A" * 65000
TOO_BIG = "s:" + "A" * 65536
NON_UTF8 = b"s:\xff\xfe\x80abc\xc3\x28"
# hostile values of every kind, as kamcmd arguments (bytes: non-UTF-8)
HOSTILE = ["0", "-1", "-2147483648", "2147483647", "4294967296",
           "99999999999999999999", "1.5", "-1e308", "nan", "s:", "s:-1",
           "s:0", BIG, NON_UTF8, "s:%s%n%x%p", "s:127.0.0.1/33",
           "s:300.1.2.3", "s::::::::", "s:127.0.0.1\n127.0.0.2",
           "s:\t", "s:all", "s:default", "s:alice@127.0.0.1",
           "s:+", "s:" + "9" * 200]
# the commands' arguments: (name, kind) with kind ip | seconds | str |
# int_opt; optional ones after '|'. Commands not listed here (added
# later) still get every hostile call and must not crash.
SIGNATURES = {
    "antifraud.reload": ([], []),
    "antifraud.bans": ([], []),
    "antifraud.ban": (["ip", "seconds"], ["str"]),
    "antifraud.unban": (["ip"], []),
    "antifraud.accounts": ([], []),
    "antifraud.account": (["account"], []),
    "antifraud.account_release": (["account"], []),
    "antifraud.stats": ([], []),
    "antifraud.lookup": (["ip"], ["str"]),
    "antifraud.dest_stats": ([], ["all"]),
    "antifraud.dest_stats_reset": ([], []),
    "antifraud.concurrency": ([], ["int"]),
    "antifraud.dest_explain": (["number"], ["str", "str"]),
}
VALID = {"ip": "127.0.9.9", "seconds": "60", "str": "s:default",
         "account": "s:alice@127.0.0.1", "number": "s:+33123456789",
         "int": "10", "all": "s:all"}
# values of the wrong type for a kind: must be refused with a fault
WRONG_TYPE = {"ip": ["12", "1.5", "s:not-an-ip", BIG, NON_UTF8],
              "seconds": ["s:abc", "1.5", "-1", "0", "-2147483648", BIG],
              "account": ["12", "1.5"],
              "number": ["1.5"],
              "int": ["s:abc", "1.5", BIG],
              "all": ["s:default", "12", BIG]}


def kamcmd(k, method, args):
    """(ok, fault message or reply text) of one call; raises when kamcmd
    could not talk to kamailio at all."""
    argv = [b"kamcmd", b"-s", ("unix:" + k.ctl).encode(), method.encode()]
    argv += [a if isinstance(a, bytes) else a.encode() for a in args]
    # POSIXLY_CORRECT: kamcmd's getopt must not read "-1" as an option
    p = subprocess.run(argv, capture_output=True, timeout=20,
                       env=dict(os.environ, POSIXLY_CORRECT="1"))
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    if out.startswith("error:"):
        m = re.match(r"error: (\d+) - (.*)", out, re.S)
        assert m and m.group(2).strip(), \
            "%s %s: a fault without code or message: %r" % (
                method, short(args), out[:300])
        return False, out
    assert p.returncode == 0, "%s %s: kamcmd failed: %s %s" % (
        method, short(args), out[:300], err[:300])
    return True, out


def short(args):
    return [a[:20] + (b"..." if isinstance(a, bytes) else "...")
            if len(a) > 24 else a for a in args]


def calls_for(method, rng):
    """(args, expectation) pairs; expectation 'fault' or None (either)."""
    out = [([], None)]
    for v in HOSTILE:
        out.append(([v], None))
    small = [v for v in HOSTILE if v is not BIG]
    for _ in range(60):
        args = [rng.choice(small) for _ in range(rng.randint(2, 6))]
        if rng.random() < 0.3:  # one 64 KB string at most: ctl's buffer
            args[rng.randrange(len(args))] = BIG
        out.append((args, None))
    sig = SIGNATURES.get(method)
    if not sig:
        return out
    req, opt = sig
    valid = [VALID[x] for x in req + opt]
    if req:
        out.append(([], "fault"))  # missing
        out.append((valid[:len(req) - 1], "fault"))
    out.append((valid + ["s:extra"], "fault"))  # one too many
    out.append((valid + ["1", "2", "3"], "fault"))
    for i, kind in enumerate(req + opt):
        for bad in WRONG_TYPE.get(kind, []):
            args = valid[:i] + [bad] + valid[i + 1:]
            out.append((args, "fault"))
        for v in HOSTILE:
            out.append((valid[:i] + [v] + valid[i + 1:], None))
    return out


def test_every_rpc_survives_hostile_arguments(kam, tmp_path):
    k = kam(defines={"AF_RELOAD_MIN_INTERVAL": 0})
    pids0 = set(re.findall(r"pid: (\d+)", k.rpc("pkg.stats").stdout))
    methods = [m for m in k.rpc("system.listMethods").stdout.split()
               if m.startswith("antifraud.")]
    assert "antifraud.ban" in methods and "antifraud.stats" in methods
    rng = random.Random(17)
    wrong = []
    n = 0
    for method in methods:
        for args, expect in calls_for(method, rng):
            ok, text = kamcmd(k, method, args)
            n += 1
            if expect == "fault" and ok:
                wrong.append("%s %s: accepted (%s)" % (
                    method, short(args), text.strip()[:120]))
        assert k.alive(), "kamailio died during %s: %s" % (
            method, k.crashed())
    print("rpc_fuzz: %d calls of %d commands, %d accepted that should be"
          " faults" % (n, len(methods), len(wrong)))
    assert n > 500
    # beyond ctl's buffer: ctl drops the connection, kamailio goes on
    for method in ("antifraud.ban", "antifraud.lookup"):
        p = subprocess.run(["kamcmd", "-s", "unix:" + k.ctl, method, TOO_BIG],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode != 0 or p.stdout.startswith("error:")
    # still whole: the same processes, RPC and SIP answered
    assert set(re.findall(r"pid: (\d+)", k.rpc("pkg.stats").stdout)) == pids0
    k.rpc("antifraud.stats")
    c = h.SipClient("127.0.0.2")
    try:
        assert c.ask("OPTIONS", "sip:%s:%d" % (k.ip, k.port),
                     (k.ip, k.port)) == 200
    finally:
        c.close()
    assert not k.crashed()
    assert not wrong, "%d calls that should be faults were accepted:\n%s" % (
        len(wrong), "\n".join(wrong[:40]))
