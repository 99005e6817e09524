"""`make lab`'s server: loopback only, refuses requests without its token, keeps the token off every
command line, and a hostile user config (CORS '*', XSRF off, empty token) cannot take effect."""
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import psutil
import pytest
from labtests import wait_for_port

pytest.importorskip("jupyterlab")

HOSTILE = """
c.ServerApp.allow_origin = "*"
c.ServerApp.allow_credentials = True
c.ServerApp.disable_check_xsrf = True
c.ServerApp.token = ""
c.IdentityProvider.token = ""
c.ServerApp.ip = "0.0.0.0"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, method: str = "GET", headers=None, data=None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cfg, work = tmp_path_factory.mktemp("jupyter-config"), tmp_path_factory.mktemp("work")
    for name in ("jupyter_config.py", "jupyter_server_config.py", "jupyter_lab_config.py"):
        (cfg / name).write_text(HOSTILE)
    port, token = _free_port(), "perflab-test-" + os.urandom(12).hex()
    env = dict(os.environ, PERFLAB_TOKEN=token, JUPYTER_CONFIG_DIR=str(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "perflab.serve", "--port", str(port), "--notebooks", str(work)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, timeout=120, proc=proc)
        yield port, token, proc, work
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_server_needs_the_token_and_listens_on_loopback_only(server):
    port, token, _, _ = server
    base = f"http://127.0.0.1:{port}/api/contents"
    assert _request(base)[0] == 403
    assert _request(base + "?token=wrong")[0] == 403
    assert _request(f"{base}?token={token}")[0] == 200
    if shutil.which("ss"):
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
        assert f"[::]:{port}" not in listening


def test_the_token_is_on_no_command_line(server):
    port, token, proc, _ = server
    assert "jupyter" in " ".join(psutil.Process(proc.pid).cmdline())       # serve became the server
    for p in psutil.process_iter(["cmdline"]):
        assert token not in " ".join(p.info["cmdline"] or []), p.info["cmdline"]


def test_a_hostile_user_config_cannot_open_cors_or_xsrf(server):
    port, token, _, _ = server
    base = f"http://127.0.0.1:{port}"
    evil = {"Origin": "http://evil.example"}
    status, headers = _request(f"{base}/api/contents?token={token}", headers=evil)
    assert headers.get("Access-Control-Allow-Origin") != "*"       # only a caller holding the token is echoed
    # log in with the token (a cookie), as a browser would
    status, headers = _request(f"{base}/lab?token={token}")
    assert status == 200
    cookie = "; ".join(v.split(";")[0] for k, v in headers.items() if k.lower() == "set-cookie")
    assert cookie, "no login cookie"
    assert _request(f"{base}/api/contents", headers={"Cookie": cookie})[0] == 200
    status, headers = _request(f"{base}/api/contents", headers={"Cookie": cookie, **evil})
    assert status in (403, 404) and "Access-Control-Allow-Origin" not in headers   # cross-origin: blocked
    status, _ = _request(f"{base}/api/contents", method="POST", headers={"Cookie": cookie}, data=b"{}")
    assert status == 403                                            # no XSRF token: refused


def test_the_working_copy_is_made_from_the_course(server):
    _, _, _, work = server
    from perflab.serve import COURSE
    assert sorted(p.name for p in work.glob("*.ipynb")) == sorted(p.name for p in COURSE.glob("*.ipynb"))
