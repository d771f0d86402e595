# antifraud integration harness: real kamailio, sipp, sipvicious and
# redis-server processes on loopback ports chosen at run time.
# SPDX-License-Identifier: GPL-2.0-or-later
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import string
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE = os.path.join(ROOT, "modules", "antifraud", "antifraud.so")
SAMPLE_CFG = os.path.join(ROOT, "etc", "kamailio.cfg")
DATA = os.path.join(ROOT, "test", "data")
ETC = os.path.join(ROOT, "etc")
SCENARIOS = os.path.join(ROOT, "test", "integration", "scenarios")
# OpenSIPS: the release tree built by `make opensips` (or OPENSIPS_SRC)
OPENSIPS_SRC = os.environ.get("OPENSIPS_SRC") or os.path.join(
    ROOT, "build", "opensips-3.6.8")
OPENSIPS_MODULE = os.path.join(ROOT, "build", "opensips-module",
                               "antifraud.so")
OPENSIPS_CFG = os.path.join(ROOT, "etc", "opensips.cfg")


def kamailio_mpath():
    out = subprocess.run(["dpkg", "-L", "kamailio"], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        if line.endswith("/modules/tm.so"):
            return os.path.dirname(line) + "/"
    raise RuntimeError("kamailio modules not found")


def free_port(host="127.0.0.1", taken=None):
    """A port free for both UDP and TCP on host; with taken (a set), also
    not in it, and added to it: ports picked before any is bound (a
    cluster's nodes and buses) stay distinct."""
    for _ in range(200):
        port = random.randint(20000, 60000)
        if taken is not None and port in taken:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind((host, port))
                t.bind((host, port))
            if taken is not None:
                taken.add(port)
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def build_geo_db(path, mapfile=None):
    mapfile = mapfile or os.path.join(DATA, "geo.map")
    subprocess.run(["perl", os.path.join(DATA, "mkgeo.pl"), path, mapfile],
                   check=True, capture_output=True)
    return path


def render(template_path, out_path, **subst):
    with open(template_path) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("@%s@" % k, str(v))
    with open(out_path, "w") as f:
        f.write(text)
    return out_path


def md5hex(text):
    return hashlib.md5(text.encode()).hexdigest()


def dbtext_escape(value):
    """A db_text field: ':', newlines, tabs and backslashes escaped."""
    return (str(value).replace("\\", "\\\\").replace(":", "\\:")
            .replace("\n", "\\n").replace("\r", "\\r")
            .replace("\t", "\\t"))


def write_auth_db(path, accounts, domain="127.0.0.1", version=7):
    """A db_text database for auth_db in the directory path: the 'version'
    table (the subscriber table version the server checks: Kamailio 5.6 7,
    OpenSIPS 3.6 8) and the
    'subscriber' table with accounts {user: password} in plain text (the
    cfg computes HA1: calculate_ha1), ha1/ha1b filled in as well. Returns
    the db_url ("text:///path")."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "version"), "w") as f:
        f.write("id(int,auto) table_name(string) table_version(int) \n"
                "0:version:1\n"
                "0:subscriber:%d\n" % version)
    with open(os.path.join(path, "subscriber"), "w") as f:
        f.write("id(int,auto) username(string) domain(string) "
                "password(string) ha1(string) ha1b(string) \n")
        for i, (user, pw) in enumerate(sorted(accounts.items()), 1):
            ha1 = md5hex("%s:%s:%s" % (user, domain, pw))
            ha1b = md5hex("%s@%s:%s:%s" % (user, domain, domain, pw))
            f.write(":".join(dbtext_escape(v) for v in
                             (i, user, domain, pw, ha1, ha1b)) + "\n")
    return "text://" + os.path.abspath(path)


class Server:
    """A SIP server running its sample configuration (etc/NAME.cfg) with
    the built module, on its own port and run directory; the subclasses
    say how to start it and reach its management interface. With accounts
    ({user: password}) it runs the cfg's AF_AUTH block: registrar and
    digest authentication against a db_text subscriber table written in
    workdir; nonce_expire sets the auth module's nonce lifetime (s).
    defines are the cfg's AF_* settings (None: defined without a value).
    rpc() takes Kamailio's command names (antifraud.bans ...) and answers
    as kamcmd prints, whatever the server."""

    name = None
    subscriber_version = 7

    def __init__(self, workdir, rules, next_hop_port=None, children=2,
                 ip="127.0.0.1", defines=None, accounts=None,
                 nonce_expire=None):
        self.workdir = workdir
        self.ip = ip
        self.port = free_port(ip)
        self.rules = rules
        self.log_path = os.path.join(workdir, "%s-%d.log" % (self.name,
                                                             self.port))
        self.next_hop_port = next_hop_port or free_port()
        self.children = children
        self.defines = dict(defines or {})
        self.accounts = accounts
        if accounts is not None:
            db = write_auth_db(os.path.join(workdir, "dbtext-%d" % self.port),
                               accounts, domain=ip,
                               version=self.subscriber_version)
            self.defines["AF_AUTH"] = None
            self.defines["AF_AUTH_DB"] = '"%s"' % db
            if nonce_expire is not None:
                self.defines["AF_NONCE_EXPIRE"] = int(nonce_expire)
        self.proc = None
        self.wrapper = []  # e.g. valgrind
        # AF_VALGRIND=1 (make test-valgrind): every server process under
        # valgrind memcheck, one log per process (vgcheck.py reads them)
        self.valgrind_logs = None
        if os.environ.get("AF_VALGRIND"):
            self.valgrind_logs = os.path.join(
                workdir, "valgrind-%d" % self.port)
            os.makedirs(self.valgrind_logs, exist_ok=True)
            self.wrapper = valgrind_args(self.valgrind_logs)
        self.extra_args = []  # more server options

    def settings(self):
        """The cfg's AF_* settings for this instance."""
        d = {"AF_IP": self.ip, "AF_PORT": self.port,
             "AF_NEXT_HOP": '"sip:127.0.0.1:%d"' % self.next_hop_port,
             "AF_RULES": '"%s"' % self.rules,
             "AF_CHILDREN": self.children}
        d.update(self.defines)
        return d

    def command(self):
        raise NotImplementedError

    def ready(self):
        """True once the management interface answers."""
        raise NotImplementedError

    def start(self, expect_fail=False, timeout=15):
        if self.valgrind_logs:
            timeout *= 8  # memcheck runs the server 10-50 times slower
        args = self.command()
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.wrapper + args, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if expect_fail:
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stop()
                raise AssertionError("%s started with a bad config" %
                                     self.name)
            return rc
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited (%s):\n%s" % (
                    self.name, self.proc.returncode, self.read_log()[-4000:]))
            if self.ready():
                return self
            time.sleep(0.1)
        raise AssertionError("%s did not start:\n%s" % (
            self.name, self.read_log()[-4000:]))

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=5.0):
        """The log once the regular expression pattern is found in it:
        OpenSIPS runs event routes (the sample cfg's alert lines) in
        another process, after the reply may have gone."""
        deadline = time.time() + timeout
        while True:
            log = self.read_log()
            if re.search(pattern, log):
                return log
            if time.time() >= deadline:
                raise AssertionError("%s: %r not in the log:\n%s" % (
                    self.name, pattern, log[-3000:]))
            time.sleep(0.05)

    def stats(self):
        """antifraud.stats parsed into a dict (nested for sub-structs)."""
        return parse_kamcmd(self.rpc("antifraud.stats").stdout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def crashed(self):
        log = self.read_log()
        return re.findall(r"(?:exited by a signal|signal 11|Segmentation|"
                          r"ASSERT|core dumped)[^\n]*", log)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=120 if self.valgrind_logs else 10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()


class Kamailio(Server):
    """Debian's kamailio with etc/kamailio.cfg; kamcmd over its ctl
    socket."""

    name = "kamailio"

    def __init__(self, workdir, rules, **kw):
        super().__init__(workdir, rules, **kw)
        self.ctl = os.path.join(workdir, "kamailio_ctl")
        self.cfg = SAMPLE_CFG
        self.log_stderr = True  # False: the cfg's syslog (no crash check)

    def command(self):
        args = ["kamailio", "-f", self.cfg, "-DD"] + \
            (["-E"] if self.log_stderr else []) + ["-m", "128",
                                                   "-Y", self.workdir]
        d = self.settings()
        d.update({"AF_MODULE": '"%s"' % MODULE,
                  "AF_CTL": '"unix:%s"' % self.ctl,
                  "AF_MPATH": '"%s"' % kamailio_mpath()})
        for k, v in d.items():
            args += ["-A", k if v is None else "%s=%s" % (k, v)]
        return args + self.extra_args

    def ready(self):
        if not os.path.exists(self.ctl):
            return False
        try:
            self.rpc("core.version")
            return True
        except (AssertionError, subprocess.TimeoutExpired):
            # still starting (slow under callgrind): asked again
            return False

    def server_stats(self):
        """The module's statistics as Kamailio's counters show them
        (stats.get_statistics antifraud:), {name: value}."""
        out = self.rpc("stats.get_statistics", "antifraud:").stdout
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r"antifraud:(\w+) = (\d+)", out)}

    def pids(self):
        """The PIDs of its processes (core.psx), sorted."""
        text = self.rpc("core.psx").stdout
        return sorted(int(p) for p in re.findall(r"PID:\s*(\d+)", text))

    def core_received(self):
        """Requests its core received (kex statistics)."""
        text = self.rpc("stats.get_statistics", "core:").stdout
        return int(re.search(r"core:rcv_requests\s*=\s*(\d+)", text).group(1))

    def rpc(self, *args, check=True):
        p = subprocess.run(["kamcmd", "-s", "unix:" + self.ctl] +
                           [str(a) for a in args],
                           capture_output=True, text=True,
                           timeout=90 if self.valgrind_logs else 10)
        if p.returncode == 0 and p.stdout.startswith("error:"):
            p.returncode = 1  # kamcmd exits 0 on an RPC fault
        if check and p.returncode != 0:
            raise AssertionError("kamcmd %s failed: %s %s" % (
                " ".join(map(str, args)), p.stdout, p.stderr))
        return p


VALGRIND_SUPP = os.path.join(ROOT, "test", "reliability", "valgrind.supp")


def valgrind_args(logdir):
    """valgrind memcheck in front of the server: children followed
    (fork), one log per process, full leak check at exit."""
    return ["valgrind", "--tool=memcheck", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite", "--track-origins=no",
            "--num-callers=30", "--child-silent-after-fork=no",
            "--trace-children=yes", "--suppressions=" + VALGRIND_SUPP,
            "--log-file=" + os.path.join(logdir, "vg-%p.log")]


def mi_fifo(fifo, method, params=None, timeout=10.0):
    """One MI command over OpenSIPS's mi_fifo (JSON-RPC: the request line
    ":reply:{...}" in the server's FIFO, the answer in /tmp/reply, the
    module's default reply_dir). Returns the decoded answer (a dict with
    "result" or "error")."""
    name = "af_mi_%d_%s" % (os.getpid(), rand_token(10))
    path = os.path.join("/tmp", name)
    os.mkfifo(path, 0o600)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        req = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params:
            req["params"] = params
        w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(w, (":%s:%s\n" % (name, json.dumps(req))).encode())
        finally:
            os.close(w)
        data = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.05)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                time.sleep(0.01)
                continue
            data += chunk
            try:
                return json.loads(data)
            except ValueError:
                continue
        raise AssertionError("no MI answer to %s: %r" % (method, data))
    finally:
        os.close(fd)
        os.unlink(path)


def kamcmd_text(value, indent=0):
    """value (an MI result) as kamcmd prints an RPC answer, so that
    parse_kamcmd reads both servers' answers alike."""
    pad = "\t" * indent
    if isinstance(value, dict):
        out = [pad + "{"]
        for k, v in value.items():
            if isinstance(v, dict):
                out.append("%s\t%s: {" % (pad, k))
                out += kamcmd_text(v, indent + 1).splitlines()[1:-1]
                out.append(pad + "\t}")
            elif isinstance(v, list):
                out.append("%s\t%s: {" % (pad, k))
                for item in v:
                    out.append(kamcmd_text(item, indent + 2))
                out.append(pad + "\t}")
            else:
                out.append("%s\t%s: %s" % (pad, k, v))
        out.append(pad + "}")
        return "\n".join(out)
    if isinstance(value, list):
        return "\n".join(kamcmd_text(v, indent) for v in value)
    return pad + str(value)


class OpenSIPS(Server):
    """OpenSIPS 3.6 built from the release tarball (make opensips) with
    etc/opensips.cfg through cpp; MI over mi_fifo (no opensips-cli)."""

    name = "opensips"
    subscriber_version = 8

    def __init__(self, workdir, rules, **kw):
        super().__init__(workdir, rules, **kw)
        self.fifo = os.path.join(workdir, "opensips_fifo_%d" % self.port)
        self.cfg = OPENSIPS_CFG

    def command(self):
        d = self.settings()
        d.update({"AF_MODULE": '"%s"' % OPENSIPS_MODULE,
                  "AF_FIFO": '"%s"' % self.fifo,
                  "AF_MPATH": '"%s/modules/"' % OPENSIPS_SRC,
                  "AF_LOG_STDERR": None})
        pp = ["cpp", "-P", "-undef"]
        for k, v in d.items():
            v = "" if v is None else "=%s" % v
            assert " " not in v, "OpenSIPS splits -p at spaces: %r" % v
            pp.append("-D%s%s" % (k, v))
        return [
            os.path.join(OPENSIPS_SRC, "opensips"), "-F", "-m", "128",
            "-w", self.workdir, "-f", self.cfg, "-p", " ".join(pp)] + \
            self.extra_args

    def ready(self):
        if not os.path.exists(self.fifo):
            return False
        try:
            return "result" in mi_fifo(self.fifo, "uptime", timeout=1.0)
        except (AssertionError, OSError):
            return False

    def mi(self, method, *params):
        return mi_fifo(self.fifo, method, list(params))

    def pids(self):
        """The PIDs of its processes (MI ps), sorted."""
        res = self.mi("ps")["result"]
        return sorted(int(p["PID"]) for p in res["Processes"])

    def core_received(self):
        """Requests its core received (statistic rcv_requests)."""
        res = self.mi("get_statistics", ["rcv_requests"])["result"]
        return int(res["core:rcv_requests"])

    def server_stats(self):
        """The module's statistics as OpenSIPS shows them (MI
        get_statistics antifraud:), {name: value}."""
        res = self.mi("get_statistics", ["antifraud:"])["result"]
        return {k.split(":", 1)[1]: int(v) for k, v in res.items()}

    def rpc(self, *args, check=True):
        """Kamailio's RPC names on OpenSIPS's MI: antifraud.X is af_X;
        kamcmd's "s:" prefix (a string) is dropped, an all-digit argument
        is a number. Answers as kamcmd prints them."""
        name = args[0]
        assert name.startswith("antifraud."), name
        params = []
        for a in args[1:]:
            a = str(a)
            if a.startswith("s:"):
                params.append(a[2:])
            elif re.fullmatch(r"-?\d+", a):
                params.append(int(a))
            else:
                params.append(a)
        ans = self.mi("af_" + name[len("antifraud."):], *params)
        if "error" in ans:
            out = "error: %s - %s\n" % (ans["error"].get("code"),
                                        ans["error"].get("message"))
            rc = 1
        else:
            out = kamcmd_text(ans["result"]) + "\n"
            rc = 0
        p = subprocess.CompletedProcess(args, rc, out, "")
        if check and rc != 0:
            raise AssertionError("MI %s failed: %s" % (" ".join(map(
                str, args)), out))
        return p


SERVERS = {"kamailio": Kamailio, "opensips": OpenSIPS}


def parse_kamcmd(text):
    """Parses kamcmd's output ("{", "key: value", "key: {", "}") into a
    dict, or a list of dicts when it prints several. A "key: {" whose
    items are "{ ... }" blocks (an RPC array of structs) becomes a list;
    an empty "key: {" "}" an empty dict."""
    top = []
    stack = []  # [container, parent, key]
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "{":
            obj = {}
            if not stack:
                stack.append([obj, None, None])
                top.append(obj)
                continue
            cur = stack[-1]
            if isinstance(cur[0], dict):
                if cur[0] or cur[1] is None:
                    raise ValueError("unexpected '{' in %r" % text)
                # an array of structs: the empty dict becomes a list
                lst = []
                cur[1][cur[2]] = lst
                cur[0] = lst
            cur[0].append(obj)
            stack.append([obj, None, None])
        elif line == "}":
            stack.pop()
        elif ":" in line and stack:
            key, val = line.split(":", 1)
            val = val.strip()
            if val == "{":
                obj = {}
                stack[-1][0][key] = obj
                stack.append([obj, stack[-1][0], key])
            else:
                stack[-1][0][key] = int(val) if re.fullmatch(r"-?\d+", val) \
                    else val
        else:
            top.append(line)
    return top[0] if len(top) == 1 else top


def rand_token(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits)
                   for _ in range(n))


class SipClient:
    """Raw SIP over UDP from a chosen loopback source address."""

    def __init__(self, src_ip="127.0.0.1", src_port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((src_ip, src_port))
        self.ip, self.port = self.sock.getsockname()

    def close(self):
        self.sock.close()

    def request(self, method, ruri, dst, from_user="caller", to_user=None,
                from_host=None, headers=None, body=b"", call_id=None,
                to_tag=None, user_agent="Test/1.0", content_length=None):
        to_user = to_user if to_user is not None else \
            (re.match(r"sips?:([^@]*)@", ruri) or [None, ""])[1]
        from_host = from_host or dst[0]
        call_id = call_id or rand_token(16)
        lines = [
            "%s %s SIP/2.0" % (method, ruri),
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport" % (
                self.ip, self.port, rand_token()),
            "Max-Forwards: 70",
            "From: <sip:%s@%s>;tag=%s" % (from_user, from_host, rand_token(8)),
            "To: <sip:%s%s>%s" % (to_user + "@" if to_user else "", dst[0],
                                  ";tag=" + to_tag if to_tag else ""),
            "Call-ID: %s" % call_id,
            "CSeq: 1 %s" % method,
            "Contact: <sip:%s@%s:%d>" % (from_user, self.ip, self.port),
            "User-Agent: %s" % user_agent,
        ]
        lines += headers or []
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % (
            len(body) if content_length is None else content_length))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.send_raw(data, dst)
        return call_id

    def send_raw(self, data, dst):
        self.sock.sendto(data, dst)

    def recv(self, timeout=1.0):
        """The status code of the next reply, or None when none comes."""
        return self.recv_msg(timeout)[0]

    def recv_msg(self, timeout=1.0):
        """(status code, text) of the next reply; (None, None) when none
        comes, -1 for something that is not a reply."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            return None, None
        m = re.match(rb"SIP/2.0 (\d{3})", data)
        return (int(m.group(1)) if m else -1), data.decode(errors="replace")

    def ask(self, method, ruri, dst, timeout=1.0, **kw):
        """Sends a request and returns the final status (None: silence)."""
        return self.ask_msg(method, ruri, dst, timeout, **kw)[0]

    def ask_msg(self, method, ruri, dst, timeout=1.0, **kw):
        """Sends a request; (final status, its text), (None, None) on
        silence."""
        self.request(method, ruri, dst, **kw)
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None, None
            code, text = self.recv_msg(left)
            if code is None or code >= 200 or code < 0:
                return code, text


def keepalive(k, src_ip):
    """An OPTIONS from src_ip to kamailio k: the reply code, None when
    there is no answer within a second."""
    c = SipClient(src_ip)
    try:
        return c.ask("OPTIONS", "sip:%s:%d" % (k.ip, k.port), (k.ip, k.port),
                     to_user="", timeout=1.0)
    finally:
        c.close()


def parse_challenge(reply):
    """The digest challenge of a 401/407 reply text: a dict of its
    parameters (lower-case names, quotes removed) plus "header": the
    header that answers it (Authorization or Proxy-Authorization)."""
    m = re.search(r"^(WWW|Proxy)-Authenticate:\s*Digest\s+(.*)$", reply,
                  re.M | re.I)
    if not m:
        raise AssertionError("no digest challenge in %r" % reply)
    params = {k.lower(): v1 if v1 else v2 for k, v1, v2 in re.findall(
        r'([\w-]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', m.group(2))}
    params["header"] = "Authorization" if m.group(1).lower() == "www" \
        else "Proxy-Authorization"
    return params


def digest_header(challenge, method, uri, user, password, nc=1):
    """The header line answering challenge (parse_challenge) for method
    and uri with MD5 (RFC 2617; qop=auth when the challenge offers it)."""
    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = md5hex("%s:%s:%s" % (user, realm, password))
    ha2 = md5hex("%s:%s" % (method, uri))
    fields = ['username="%s"' % user, 'realm="%s"' % realm,
              'nonce="%s"' % nonce, 'uri="%s"' % uri]
    qops = [q.strip() for q in challenge.get("qop", "").split(",")]
    if "auth" in qops:
        cnonce, ncs = rand_token(12), "%08x" % nc
        resp = md5hex("%s:%s:%s:%s:auth:%s" % (ha1, nonce, ncs, cnonce, ha2))
        fields += ["qop=auth", 'cnonce="%s"' % cnonce, "nc=%s" % ncs]
    else:
        resp = md5hex("%s:%s:%s" % (ha1, nonce, ha2))
    fields += ['response="%s"' % resp, "algorithm=MD5"]
    if "opaque" in challenge:
        fields.append('opaque="%s"' % challenge["opaque"])
    return "%s: Digest %s" % (challenge["header"], ", ".join(fields))


def sdp(ip, o_ip=None):
    o_ip = o_ip or ip
    return ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % (
                o_ip, ip)).encode()


class Sipp:
    """sipp as UAS (background) or UAC (runs to completion)."""

    @staticmethod
    def uas(workdir, port, ip="127.0.0.1", scenario="uas.xml"):
        log = open(os.path.join(workdir, "sipp-uas-%d.log" % port), "w")
        p = subprocess.Popen(["sipp", "-sf", os.path.join(SCENARIOS, scenario),
                              "-i", ip, "-p", str(port),
                              "-nostdin", "-trace_err",
                              "-error_file",
                              os.path.join(workdir, "uas-%d.err" % port)],
                             stdout=log, stderr=subprocess.STDOUT,
                             cwd=workdir, start_new_session=True)
        time.sleep(0.3)
        assert p.poll() is None, "sipp UAS did not start"
        return p

    @staticmethod
    def uac_args(workdir, target, scenario, src_ip, caller, callee, calls,
                 rate, timeout, extra):
        port = free_port(src_ip)
        args = ["sipp", target, "-sf", os.path.join(SCENARIOS, scenario),
                "-i", src_ip, "-p", str(port), "-m", str(calls),
                "-r", str(rate), "-nostdin", "-timeout", "%ds" % timeout,
                "-timeout_error", "-recv_timeout", "8000",
                "-key", "caller", caller, "-key", "callee", callee,
                "-trace_err", "-error_file",
                os.path.join(workdir, "uac-%d.err" % port)]
        return args + (extra or [])

    @staticmethod
    def uac_bg(workdir, target, scenario="uac.xml", src_ip="127.0.0.1",
               caller="alice", callee="bob", calls=1, rate=10, timeout=30,
               extra=None):
        """A UAC in the background: communicate() waits for it."""
        args = Sipp.uac_args(workdir, target, scenario, src_ip, caller,
                             callee, calls, rate, timeout, extra)
        return subprocess.Popen(args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                cwd=workdir, start_new_session=True)

    @staticmethod
    def uac(workdir, target, scenario="uac.xml", src_ip="127.0.0.1",
            caller="alice", callee="bob", calls=1, rate=10, timeout=10,
            extra=None):
        port = free_port(src_ip)
        args = ["sipp", target, "-sf", os.path.join(SCENARIOS, scenario),
                "-i", src_ip, "-p", str(port), "-m", str(calls),
                "-r", str(rate), "-nostdin", "-timeout", "%ds" % timeout,
                "-timeout_error", "-recv_timeout", "3000",
                "-key", "caller", caller, "-key", "callee", callee,
                "-trace_err", "-error_file",
                os.path.join(workdir, "uac-%d.err" % port)]
        args += extra or []
        p = subprocess.run(args, capture_output=True, text=True, cwd=workdir,
                           timeout=timeout + 20)
        return p

    @staticmethod
    def stop(p):
        if p and p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


class Redis:
    """A redis-server on a free loopback port (no persistence), or a
    replica of another one."""

    def __init__(self, workdir, port=None, replica_of=None):
        self.workdir = workdir
        self.port = port or free_port()
        self.replica_of = replica_of
        self.dir = os.path.join(workdir, "redis-%d" % self.port)
        self.proc = None

    def server_args(self):
        """what this kind of server adds to redis-server's arguments"""
        if self.replica_of:
            return ["--replicaof", "127.0.0.1", str(self.replica_of)]
        return []

    def start(self, timeout=10):
        os.makedirs(self.dir, exist_ok=True)
        args = ["redis-server", "--port", str(self.port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "redis.log")]
        self.proc = subprocess.Popen(args + self.server_args(),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.cli("PING", check=False).stdout.strip() == "PONG":
                return self
            time.sleep(0.05)
        raise AssertionError("redis-server did not start on %d" % self.port)

    def cli(self, *args, check=True):
        p = subprocess.run(["redis-cli", "-p", str(self.port)] +
                           [str(a) for a in args], capture_output=True,
                           text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError("redis-cli %s: %s" % (args, p.stderr))
        return p

    def alive(self):
        return self.proc and self.proc.poll() is None

    def kill(self):
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Sentinel:
    """A redis-sentinel monitoring master_port as 'mymaster', quorum 1."""

    def __init__(self, workdir, master_port, port=None):
        self.workdir = workdir
        self.port = port or free_port()
        self.master_port = master_port
        self.proc = None

    def start(self, timeout=10):
        conf = os.path.join(self.workdir, "sentinel-%d.conf" % self.port)
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\n"
                    "sentinel monitor mymaster 127.0.0.1 %d 1\n"
                    "sentinel down-after-milliseconds mymaster 500\n"
                    "sentinel failover-timeout mymaster 3000\n"
                    "sentinel parallel-syncs mymaster 1\n" % (
                        self.port, self.master_port))
        self.proc = subprocess.Popen(["redis-sentinel", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            p = subprocess.run(["redis-cli", "-p", str(self.port), "SENTINEL",
                                "get-master-addr-by-name", "mymaster"],
                               capture_output=True, text=True)
            if str(self.master_port) in p.stdout:
                return self
            time.sleep(0.1)
        raise AssertionError("redis-sentinel did not start")

    def master_port_now(self):
        p = subprocess.run(["redis-cli", "-p", str(self.port), "SENTINEL",
                            "get-master-addr-by-name", "mymaster"],
                           capture_output=True, text=True)
        lines = p.stdout.split()
        return int(lines[1]) if len(lines) >= 2 else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class ClusterNode(Redis):
    """A redis-server in cluster mode on a free port (bus port free too,
    not port + 10000), no persistence, a low node timeout. taken: the
    ports of the cluster's other nodes and buses (none of them bound
    yet), which this node's two must not be."""

    def __init__(self, workdir, taken=None):
        taken = set() if taken is None else taken
        super().__init__(workdir, port=free_port(taken=taken))
        self.bus = free_port(taken=taken)
        self.dir = os.path.join(workdir, "rc-%d" % self.port)

    def server_args(self):
        return ["--cluster-enabled", "yes", "--cluster-port", str(self.bus),
                "--cluster-node-timeout", "1000",
                "--cluster-replica-validity-factor", "0"]


class RedisCluster:
    """A Redis Cluster on loopback: masters masters with replicas replicas
    each (redis-cli --cluster create), or one master holding every slot
    (CLUSTER ADDSLOTSRANGE: --cluster create wants 3 masters)."""

    def __init__(self, workdir, masters=3, replicas=1):
        # (every node's port and bus distinct: all are picked before any
        # is bound; a node's port that is another's bus does not start)
        taken = set()
        self.nodes = [ClusterNode(workdir, taken)
                      for _ in range(masters * (1 + replicas))]
        self.replicas = replicas

    def start(self):
        for n in self.nodes:
            n.start()
        if len(self.nodes) == 1:
            self.nodes[0].cli("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            self.wait_ok()
            return self
        addrs = ["127.0.0.1:%d" % n.port for n in self.nodes]
        p = subprocess.run(["redis-cli", "--cluster", "create"] + addrs +
                           ["--cluster-replicas", str(self.replicas),
                            "--cluster-yes"], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        self.wait_ok()
        return self

    def url(self):
        return "redis-cluster://" + ",".join(
            "127.0.0.1:%d" % n.port for n in self.nodes[:3])

    def move_slot(self, slot, to_port):
        """Moves slot with its keys to the master on to_port (SETSLOT
        IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE on every node)."""
        ids = self.masters()
        src = [p for p, i in ids.items() if slot in self.slots_of(p)][0]
        dst, s = self.node(to_port), self.node(src)
        dst.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src])
        s.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to_port])
        while True:
            keys = s.cli("CLUSTER", "GETKEYSINSLOT", slot, 100).stdout.split()
            if not keys:
                break
            s.cli("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
        for n in self.live():
            n.cli("CLUSTER", "SETSLOT", slot, "NODE", ids[to_port],
                  check=False)

    def slots_of(self, port):
        """The slots the master on port serves (CLUSTER SLOTS)."""
        out = self.live()[0].cli("CLUSTER", "SLOTS").stdout.split("\n")
        res = set()
        # redis-cli prints each range's start, end, then its nodes
        nums = [x.strip() for x in out]
        for i in range(len(nums) - 2):
            if nums[i].isdigit() and nums[i + 1].isdigit() and \
                    nums[i + 2] == "127.0.0.1" and i + 3 < len(nums) and \
                    nums[i + 3] == str(port):
                res.update(range(int(nums[i]), int(nums[i + 1]) + 1))
        return res

    def errors(self, name):
        """Error replies name (MOVED, ASK...) sent so far, summed over
        the live nodes (INFO errorstats)."""
        total = 0
        for n in self.live():
            m = re.search(r"errorstat_%s:count=(\d+)" % name,
                          n.cli("INFO", "errorstats").stdout)
            total += int(m.group(1)) if m else 0
        return total

    def evalsha_calls(self):
        """Batch calls (FCALL of the batch function, EVALSHA of a
        script) served so far, summed over the live nodes."""
        total = 0
        for n in self.live():
            total += sum(int(x) for x in re.findall(
                r"cmdstat_(?:evalsha|fcall):calls=(\d+)",
                n.cli("INFO", "commandstats").stdout))
        return total

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def ok(self):
        for n in self.live():
            out = n.cli("CLUSTER", "INFO", check=False).stdout
            if "cluster_state:ok" not in out:
                return False
        return True

    def wait_ok(self, timeout=20):
        deadline = time.time() + timeout
        while not self.ok():
            if time.time() > deadline:
                raise AssertionError("redis cluster not ok")
            time.sleep(0.1)

    def masters(self):
        """{port: node id} of the masters now (CLUSTER NODES)."""
        out = self.live()[0].cli("CLUSTER", "NODES").stdout
        res = {}
        for line in out.splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2]:
                res[int(f[1].split("@")[0].rsplit(":", 1)[1])] = f[0]
        return res

    def node(self, port):
        return [n for n in self.nodes if n.port == port][0]

    def keys(self, pattern):
        found = []
        for n in [self.node(p) for p in self.masters()]:
            found += n.cli("--scan", "--pattern", pattern).stdout.split()
        return found

    def kill(self):
        for n in self.nodes:
            n.kill()
