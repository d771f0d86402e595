# antifraud under valgrind memcheck (make test-valgrind: AF_VALGRIND=1
# python3 -m pytest test/reliability/valgrind_scenarios.py): Debian's
# kamailio with the module runs the scenarios of the integration tests,
# every one of its processes under memcheck, with the soak rules (every
# check on) and their accounts: source checks, bans, fingerprints of the
# attack-tool corpus, registrations and password guessing, calls through
# af_check_dest with the dialog module, reloads good and bad, cluster mode
# with Redis killed and restarted. After kamailio stops, vgcheck reads the
# logs: no invalid read, write or free anywhere, no definite loss and no
# use of uninitialised memory through the module. Timeouts are generous:
# memcheck runs kamailio 10 to 50 times slower.
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ACCOUNTS, h, start_kamailio  # noqa: E402
import vgcheck  # noqa: E402

CORPUS = os.path.join(h.DATA, "corpus")


def vg_verdict(k, name):
    """Stops k and checks its valgrind logs (when it ran under valgrind)."""
    crashed = k.crashed()
    k.stop()
    assert not crashed, "kamailio crashed: %s" % crashed
    if not k.valgrind_logs:
        pytest.fail("AF_VALGRIND is not set: kamailio did not run under "
                    "valgrind (make test-valgrind)")
    fig, fails = vgcheck.check(k.valgrind_logs)
    keep = os.path.join(h.ROOT, "build", "valgrind-%s" % name)
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(k.valgrind_logs, keep)
    with open(keep + ".txt", "w") as f:
        f.write("%s\n" % fig)
        f.write("\n\n".join(fails) + "\n")
    print("valgrind %s: %s" % (name, fig))
    assert fig["processes"] > 5, fig
    assert fig["leak_checked"] >= fig["processes"] - 1, \
        "processes without a leak check (killed?): %s" % fig
    assert not fails, "\n\n".join(fails[:10])


def uac(workdir, k, scenario, src, user, callee="bob", calls=1, rate=5,
        password=None):
    return h.Sipp.uac(workdir, "%s:%d" % (k.ip, k.port), scenario=scenario,
                      src_ip=src, caller=user, callee=callee, calls=calls,
                      rate=rate, timeout=120,
                      extra=["-s", user, "-au", user, "-ap",
                             password or ACCOUNTS.get(user, "x"),
                             "-recv_timeout", "20000", "-nr"])


def traffic(workdir, k):
    """One round of everything the module does."""
    dst = (k.ip, k.port)
    # keepalive from a clean source
    c = h.SipClient("127.0.0.2")
    assert c.ask("OPTIONS", "sip:%s:%d" % dst, dst, timeout=20) == 200
    c.close()
    # a legitimate registration and calls abroad through af_check_dest
    p = uac(workdir, k, "reg-auth.xml", "127.0.0.2", "alice")
    assert p.returncode == 0, p.stdout[-1500:] + p.stderr[-1500:]
    p = uac(workdir, k, "uac-auth.xml", "127.0.0.2", "alice",
            callee="+33123456789", calls=5)
    assert p.returncode == 0, p.stdout[-1500:] + p.stderr[-1500:]
    # toll fraud with a stolen account: satellite refused, burst limited
    p = uac(workdir, k, "uac-auth.xml", "127.0.2.9", "fraud01",
            callee="+881612345678", calls=2)
    assert p.returncode != 0
    uac(workdir, k, "uac-auth.xml", "127.0.2.10", "fraud02",
        callee="+4420794600", calls=8, rate=20)
    # a scanner: INVITEs to users that do not exist, until banned
    c = h.SipClient("127.0.6.9")
    for u in range(8):
        c.request("INVITE", "sip:%d@%s:%d" % (100 + u, k.ip, k.port), dst,
                  body=h.sdp("127.0.6.9"))
    c.close()
    # the attack-tool corpus, each request from its own address
    for i, f in enumerate(sorted(glob.glob(os.path.join(CORPUS, "tools",
                                                        "*.sip")))[:20]):
        c = h.SipClient("127.0.7.%d" % (i + 1))
        with open(f, "rb") as fh:
            c.send_raw(fh.read(), dst)
        c.close()
    # password guessing, svmap, svcrack
    uac(workdir, k, "reg-guess.xml", "127.0.5.9", "bob", calls=7,
        password="wrong")
    subprocess.run(["svmap", "-b", "127.0.3.9", "-p", str(k.port), k.ip],
                   capture_output=True, timeout=120, cwd=workdir)
    subprocess.run(["svcrack", "-b", "127.0.4.9", "-u", "dave", "-r",
                    "1000-1010", "--maximumtime", "5", "-p", str(k.port),
                    k.ip], capture_output=True, timeout=180, cwd=workdir)
    out = k.rpc("antifraud.bans").stdout
    assert "127.0.6.9" in out and "127.0.5.9" in out, out
    # reloads, and a broken rule file refused (the old rules stay)
    for _ in range(5):
        k.rpc("antifraud.reload")
    with open(k.rules) as f:
        good = f.read()
    with open(k.rules, "w") as f:
        f.write(good.replace("version: 1", "version: [1"))
    assert k.rpc("antifraud.reload", check=False).returncode != 0
    with open(k.rules, "w") as f:
        f.write(good)
    k.rpc("antifraud.reload")
    for m in ("antifraud.stats", "antifraud.concurrency",
              "antifraud.dest_stats", "antifraud.accounts"):
        k.rpc(m)
    k.rpc("antifraud.lookup", "127.0.6.9")
    k.rpc("antifraud.dest_explain", "s:+33123456789", "alice")
    # every call has ended: no concurrency left
    time.sleep(3)
    conc = h.parse_kamcmd(k.rpc("antifraud.concurrency").stdout)
    assert conc["total"] == 0, conc


def test_vgcheck_finds_what_it_must(tmp_path):
    """The checker itself: a definite loss through the module, an invalid
    read anywhere and a process without its leak check are found; a loss
    outside the module is counted, not failed."""
    log = tmp_path / "vg-100.log"
    log.write_text(
        "==100== Invalid read of size 4\n"
        "==100==    at 0x4848: parse_headers (msg_parser.c:300)\n"
        "==100==  Address 0x0 is not stack'd, malloc'd or (recently) free'd\n"
        "==100== \n"
        "==100== 64 bytes in 1 blocks are definitely lost in loss record 2 of 9\n"
        "==100==    at 0x4848: malloc (vg_replace_malloc.c:381)\n"
        "==100==    by 0x5151: af_geo_open (af_geo.c:276)\n"
        "==100== \n"
        "==100== 32 bytes in 1 blocks are definitely lost in loss record 1 of 9\n"
        "==100==    at 0x4848: malloc (vg_replace_malloc.c:381)\n"
        "==100==    by 0x5151: tm_init (t_funcs.c:12)\n"
        "==100== \n"
        "==100== LEAK SUMMARY:\n"
        "==100==    definitely lost: 96 bytes in 2 blocks\n")
    (tmp_path / "vg-101.log").write_text("==101== Memcheck\n==101== \n")
    fig, fails = vgcheck.check(str(tmp_path))
    assert fig["processes"] == 2 and fig["leak_checked"] == 1
    assert fig["invalid"] == 1 and fig["definite_module"] == 1
    assert fig["definite_other"] == 1 and fig["bytes_definite_other"] == 32
    assert len(fails) == 2 and "af_geo_open" in fails[1]


def test_memcheck_shm_mode(tmp_path):
    k, uas = start_kamailio(str(tmp_path), children=2)
    try:
        traffic(str(tmp_path), k)
    finally:
        h.Sipp.stop(uas)
    vg_verdict(k, "shm")


def test_memcheck_cluster_mode_redis_restart(tmp_path):
    r = h.Redis(str(tmp_path)).start()
    k, uas = start_kamailio(str(tmp_path),
                            "redis://127.0.0.1:%d/0" % r.port, children=2)
    try:
        traffic(str(tmp_path), k)
        port = r.port
        r.kill()
        time.sleep(3)
        c = h.SipClient("127.0.0.2")
        dst = (k.ip, k.port)
        assert c.ask("OPTIONS", "sip:%s:%d" % dst, dst, timeout=20) == 200
        c.close()
        p = uac(str(tmp_path), k, "uac-auth.xml", "127.0.0.2", "alice",
                callee="+33123456789", calls=3)
        assert p.returncode == 0, p.stdout[-1500:] + p.stderr[-1500:]
        r = h.Redis(str(tmp_path), port=port).start()
        time.sleep(5)
        traffic(str(tmp_path), k)
    finally:
        h.Sipp.stop(uas)
        r.kill()
    vg_verdict(k, "cluster")
