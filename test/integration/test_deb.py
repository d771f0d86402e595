# antifraud: the Debian package (make deb) installed into this system.
# SPDX-License-Identifier: GPL-2.0-or-later
import fcntl
import os
import re
import signal
import subprocess
import time

import pytest

import afharness as h

PKG = "kamailio-antifraud"
CONF = "/etc/kamailio/antifraud"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def kamailio_version():
    return run(["dpkg-query", "-W", "-f=${Version}", "kamailio"],
               check=True).stdout.strip()


@pytest.fixture(scope="module")
def deb():
    """Builds the package with `make deb`; the path it printed."""
    p = run(["make", "-s", "--no-print-directory", "deb"], cwd=h.ROOT,
            timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    path = p.stdout.strip().splitlines()[-1]
    assert path.endswith(".deb") and os.path.isfile(path), p.stdout
    return path


@pytest.fixture(scope="module")
def installed(deb):
    """The package installed with dpkg (one test run at a time on this
    machine), purged afterwards."""
    lock = open("/tmp/antifraud-test-deb.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    assert run(["dpkg-query", "-W", PKG]).returncode != 0, \
        "%s is installed already: not touching it" % PKG
    p = run(["dpkg", "-i", deb], timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    try:
        yield deb
    finally:
        if run(["dpkg-query", "-W", PKG]).returncode == 0:
            run(["dpkg", "--purge", PKG], timeout=120)
        lock.close()


def test_control_fields(deb):
    info = run(["dpkg-deb", "-f", deb], check=True).stdout
    fields = dict(re.findall(r"^(\S+): (.*)$", info, re.M))
    assert fields["Package"] == PKG
    # exactly the kamailio this module was built against
    assert "kamailio (= %s)" % kamailio_version() in fields["Depends"]
    assert "libhiredis" in fields["Depends"]
    assert "libmaxminddb" in fields["Depends"]
    conffiles = run(["dpkg-deb", "-I", deb, "conffiles"],
                    check=True).stdout.split()
    assert set(conffiles) == {
        CONF + "/" + f for f in (
            "antifraud.yaml", "antifraud-signatures.yaml",
            "antifraud-numplan.csv", "antifraud-highrisk.csv",
            "antifraud-blocklist.txt")}


def test_lintian_no_errors(deb):
    p = run(["lintian", "--tag-display-limit", "0", deb], timeout=300)
    errors = [line for line in p.stdout.splitlines()
              if line.startswith("E:")]
    assert not errors, p.stdout
    assert p.returncode == 0, p.stdout + p.stderr


def test_installed_layout(installed):
    moddir = os.path.dirname(h.kamailio_mpath().rstrip("/") + "/tm.so")
    so = os.path.join(moddir, "antifraud.so")
    assert os.path.isfile(so)
    files = run(["dpkg", "-L", PKG], check=True).stdout.split()
    assert so in files
    for tool in ("af-fingerprint", "af-rules-check", "af-learn", "af-numplan",
                 "af-feed"):
        assert "/usr/bin/" + tool in files
        assert os.access("/usr/bin/" + tool, os.X_OK)
    assert "/usr/share/doc/%s/copyright" % PKG in files
    assert "/usr/share/doc/%s/changelog.Debian.gz" % PKG in files
    # the tools run from /usr/bin with the installed files
    sip = os.path.join(h.DATA, "corpus", "legit", "bria-5-invite.sip")
    p = run(["/usr/bin/af-fingerprint", "--check",
             CONF + "/antifraud-signatures.yaml", sip], timeout=30)
    assert p.returncode == 0 and "af1-" in p.stdout, p.stdout + p.stderr
    p = run(["/usr/bin/af-rules-check", CONF + "/antifraud.yaml"], timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    p = run(["/usr/bin/af-feed", "--help"], timeout=30)
    assert p.returncode == 0 and "APIBAN" in p.stdout, p.stderr
    p = run(["/usr/bin/af-learn", "--help"], timeout=30)
    assert p.returncode == 0 and "/usr/share/%s/corpus/legit" % PKG \
        not in p.stderr


def write_cfg(path, port, ctl):
    # nothing but the module name: Kamailio's own module directory, the
    # module's default rule file (the installed one)
    with open(path, "w") as f:
        f.write("""#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:127.0.0.1:%d
loadmodule "ctl.so"
loadmodule "sl.so"
loadmodule "antifraud.so"
modparam("ctl", "binrpc", "unix:%s")
request_route {
	if (!af_check_source()) { drop; }
	sl_send_reply("404", "Not here");
}
""" % (port, ctl))


def test_kamailio_loads_installed_module(installed, tmp_path):
    port = h.free_port()
    ctl = str(tmp_path / "ctl")
    cfg = str(tmp_path / "plain.cfg")
    write_cfg(cfg, port, ctl)
    p = run(["kamailio", "-c", "-f", cfg], timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "config file ok" in p.stderr
    # -c does not initialize modules: start it, so that the installed
    # rules, signatures and number plan are loaded and checked
    log = open(str(tmp_path / "kamailio.log"), "w")
    proc = subprocess.Popen(["kamailio", "-f", cfg, "-DD", "-E", "-m", "64",
                             "-Y", str(tmp_path)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 20
        stats = None
        while time.time() < deadline and proc.poll() is None:
            r = run(["kamcmd", "-s", "unix:" + ctl, "antifraud.stats"],
                    timeout=10)
            if r.returncode == 0 and not r.stdout.startswith("error"):
                stats = r.stdout
                break
            time.sleep(0.2)
        assert stats is not None, open(log.name).read()[-3000:]
        r = run(["kamcmd", "-s", "unix:" + ctl, "antifraud.dest_explain",
                 "s:004930123456"], timeout=10)
        assert r.returncode == 0 and "DE" in r.stdout, r.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_purge_removes_everything(installed):
    """Last: the purge leaves no module, tool or conffile behind."""
    files = [f for f in run(["dpkg", "-L", PKG], check=True).stdout.split()
             if os.path.isfile(f)]
    assert any(f.endswith("/antifraud.so") for f in files)
    p = run(["dpkg", "--purge", PKG], timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert [f for f in files if os.path.exists(f)] == []
    assert not os.path.exists(CONF)
