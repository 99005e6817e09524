"""`make lab`: JupyterLab on the workbook, bound to 127.0.0.1 and protected by a token."""
from __future__ import annotations

import argparse
import os
import secrets
import sys

LOOPBACK = "127.0.0.1"


def server_command(port: int, token: str, notebooks: str, ip: str = LOOPBACK) -> list[str]:
    """The jupyter command line; refuses an empty token or an address other than loopback."""
    if ip != LOOPBACK:
        raise ValueError(f"perflab serves on {LOOPBACK} only, got {ip!r}. To reach it from another "
                         f"machine use an SSH tunnel: ssh -L {port}:127.0.0.1:{port} host")
    if not token or len(token) < 16:
        raise ValueError("the server token must be at least 16 characters; an empty token would open "
                         "the server to anyone who can reach the port")
    return [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.ip={ip}", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            "--ServerApp.allow_remote_access=False", "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={notebooks}"] + (["--allow-root"] if _is_root() else [])


def _is_root() -> bool:
    """Jupyter refuses to start as root unless told; containers and cloud VMs often run as root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--notebooks", default="notebooks")
    args = p.parse_args(argv)
    token = os.environ.get("PERFLAB_TOKEN") or secrets.token_hex(24)
    cmd = server_command(args.port, token, args.notebooks)
    print(f"perflab: JupyterLab at http://{LOOPBACK}:{args.port}/lab?token={token}", flush=True)
    os.execv(cmd[0], cmd)          # become the server: stopping this process stops JupyterLab


if __name__ == "__main__":
    sys.exit(main())
