# antifraud: utils/af-feed against a local APIBAN-style server (started
# here, 127.0.0.1), and its list file taken in by a running kamailio.
# SPDX-License-Identifier: GPL-2.0-or-later
import http.server
import json
import os
import subprocess
import threading
import time

import pytest

import afharness as h

TOOL = os.path.join(h.ROOT, "utils", "af-feed")
KEY = "k3y-for-tests"
DAY = 86400


class Feed:
    """The feed's pages by ID: {ID: (status, JSON body)}; what was asked."""

    def __init__(self):
        self.pages = {}
        self.requests = []


@pytest.fixture
def server():
    feed = Feed()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            feed.requests.append(self.path)
            parts = self.path.split("/")
            # /api/<key>/banned/<ID>
            if len(parts) != 5 or parts[1] != "api" or parts[3] != "banned":
                return self.answer(404, {"ID": "none", "ipaddress": []})
            if parts[2] != KEY:
                return self.answer(400, {"ID": "unauthorized",
                                         "ipaddress": ["unauthorized"]})
            status, body = feed.pages.get(parts[4], (400, {
                "ID": "none", "ipaddress": ["no new bans"]}))
            self.answer(status, body)

        def answer(self, status, body):
            data = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    feed.url = "http://127.0.0.1:%d/api" % srv.server_address[1]
    yield feed
    srv.shutdown()
    srv.server_close()


def run_tool(feed, tmp_path, now, key=KEY, extra=()):
    keyfile = tmp_path / "key"
    keyfile.write_text(key + "\n")
    p = subprocess.run([TOOL, "--url", feed.url, "--key-file", str(keyfile),
                        "--state", str(tmp_path / "state.json"),
                        "-o", str(tmp_path / "feed.txt"),
                        "--now", str(now)] + list(extra),
                       capture_output=True, text=True, timeout=60)
    return p


def listed(tmp_path):
    with open(tmp_path / "feed.txt") as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith("#")]


def test_incremental_pages_and_expiry(server, tmp_path):
    t0 = 1_800_000_000
    server.pages["100"] = (200, {"ipaddress": ["192.0.2.1", "192.0.2.2"],
                                 "ID": "1001"})
    server.pages["1001"] = (200, {"ipaddress": ["2001:db8::7", "bad-ip",
                                                "198.51.100.0/24", 12],
                                  "ID": "1002"})
    p = run_tool(server, tmp_path, t0)
    assert p.returncode == 0, p.stderr
    assert listed(tmp_path) == ["192.0.2.1", "192.0.2.2",
                                "198.51.100.0/24", "2001:db8::7"]
    assert "2 skipped" in p.stderr
    # the key never shows
    assert KEY not in p.stderr and KEY not in (tmp_path / "feed.txt").read_text()
    assert server.requests == ["/api/%s/banned/100" % KEY,
                               "/api/%s/banned/1001" % KEY,
                               "/api/%s/banned/1002" % KEY]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["id"] == "1002"

    # the next run continues from the last ID, adds, keeps the others
    server.requests.clear()
    server.pages["1002"] = (200, {"ipaddress": ["192.0.2.3", "192.0.2.1"],
                                  "ID": "1003"})
    p = run_tool(server, tmp_path, t0 + 3 * DAY)
    assert p.returncode == 0, p.stderr
    assert server.requests[0] == "/api/%s/banned/1002" % KEY
    assert set(listed(tmp_path)) == {"192.0.2.1", "192.0.2.2", "192.0.2.3",
                                     "198.51.100.0/24", "2001:db8::7"}

    # 7 days after they were last published, addresses expire
    mtime = os.stat(tmp_path / "feed.txt").st_mtime_ns
    p = run_tool(server, tmp_path, t0 + 8 * DAY)
    assert p.returncode == 0, p.stderr
    assert set(listed(tmp_path)) == {"192.0.2.1", "192.0.2.3"}
    assert "3 expired" in p.stderr
    # nothing changed: the file is not rewritten (no swap in the module)
    mtime = os.stat(tmp_path / "feed.txt").st_mtime_ns
    time.sleep(0.05)
    p = run_tool(server, tmp_path, t0 + 8 * DAY)
    assert p.returncode == 0
    assert os.stat(tmp_path / "feed.txt").st_mtime_ns == mtime


@pytest.mark.parametrize("page,why", [
    ((200, b"<html>not json</html>"), "not JSON"),
    ((200, {"ipaddress": ["192.0.2.9"]}), "no usable 'ID'"),
    ((200, {"ipaddress": "192.0.2.9 192.0.2.10", "ID": {"x": 1}}),
     "no usable 'ID'"),
    ((200, ["192.0.2.9"]), "not a JSON object"),
    ((400, {"ipaddress": ["rate limit exceeded"], "ID": "x"}),
     "rate limit exceeded"),
    ((500, b"oops"), "HTTP 500"),
])
def test_bad_pages_keep_what_was_read(server, tmp_path, page, why):
    server.pages["100"] = (200, {"ipaddress": ["192.0.2.1"], "ID": "1001"})
    server.pages["1001"] = page
    p = run_tool(server, tmp_path, 1_800_000_000)
    assert p.returncode == 1
    assert why in p.stderr, p.stderr
    assert listed(tmp_path) == ["192.0.2.1"]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["id"] == "1001"   # the next run asks again from there


def test_refused_key_and_bad_usage(server, tmp_path):
    p = run_tool(server, tmp_path, 1_800_000_000, key="wrong")
    assert p.returncode == 1 and "key was refused" in p.stderr
    assert "wrong" not in p.stderr
    p = subprocess.run([TOOL, "--state", str(tmp_path / "s"), "-o",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert p.returncode == 2 and "API key" in p.stderr
    # nothing listening: an error, not a traceback
    p = subprocess.run([TOOL, "--url", "http://127.0.0.1:%d/api" %
                        h.free_port(), "--key", "x", "--timeout", "2",
                        "--state", str(tmp_path / "s"),
                        "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "cannot fetch" in p.stderr
    assert "Traceback" not in p.stderr


def test_page_bounds(server, tmp_path):
    for i in range(5):
        server.pages[str(100 + i)] = (200, {"ipaddress": ["192.0.2.%d" % i],
                                            "ID": str(101 + i)})
    p = run_tool(server, tmp_path, 1_800_000_000, extra=["--max-pages", "3"])
    assert p.returncode == 1 and "more than 3 pages" in p.stderr
    assert len(listed(tmp_path)) == 3
    p = run_tool(server, tmp_path, 1_800_000_000)
    assert p.returncode == 0 and len(listed(tmp_path)) == 5


def test_module_takes_the_feed(server, tmp_path, kam, rules):
    """af-feed's file as a deny list of a running kamailio: a new run's
    addresses are refused within the feed interval, without a reload."""
    server.pages["100"] = (200, {"ipaddress": ["127.0.0.80"], "ID": "1001"})
    assert run_tool(server, tmp_path, time.time()).returncode == 0
    with open(os.path.join(h.DATA, "rules-test.yaml.in")) as f:
        text = f.read().replace("@DATA@/blocklist-test.txt",
                                str(tmp_path / "feed.txt"))
    k = kam(rules(text), defines={"AF_FEED_INTERVAL": 1})

    def in_list(ip):
        look = h.parse_kamcmd(k.rpc("antifraud.lookup", ip).stdout)
        return look["list"] == "blocklist"
    assert in_list("127.0.0.80") and not in_list("127.0.0.81")
    server.pages["1001"] = (200, {"ipaddress": ["127.0.0.81"], "ID": "1002"})
    assert run_tool(server, tmp_path, time.time()).returncode == 0
    deadline = time.time() + 6
    while time.time() < deadline and not in_list("127.0.0.81"):
        time.sleep(0.2)
    assert in_list("127.0.0.81") and in_list("127.0.0.80")
