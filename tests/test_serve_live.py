"""`make lab`'s server really is loopback-only and refuses requests without its token."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("jupyterlab")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


def test_server_needs_the_token_and_listens_on_loopback_only():
    port, token = _free_port(), "t" * 32
    proc = subprocess.Popen([sys.executable, "-m", "perflab.serve", "--port", str(port), "--notebooks", "notebooks"],
                            env=dict(os.environ, PERFLAB_TOKEN=token), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/api/contents"
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        assert _status(base) == 403
        assert _status(base + "?token=wrong") == 403
        assert _status(f"{base}?token={token}") == 200
        if shutil.which("ss"):
            listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
            assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
            assert f"[::]:{port}" not in listening
    finally:
        proc.terminate()
        proc.wait(timeout=20)
