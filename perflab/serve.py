"""`make lab`: JupyterLab on your working copy of the notebooks, on 127.0.0.1 only, with a token.

The first run copies notebooks/ to my-notebooks/ (git ignores it): that is the copy you edit and run, so
JupyterLab's autosave never changes the course's files; notebooks added to the course later are copied in
too, yours are never overwritten. The token comes from PERFLAB_TOKEN (at least 24 characters, not a
simple pattern) or is generated; it reaches Jupyter through the environment, never the command line, and
cross-origin access and XSRF checks are pinned so a user config cannot open them up.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
from pathlib import Path

from perflab.paths import REPO

LOOPBACK = "127.0.0.1"
COURSE = REPO / "notebooks"
WORKING_COPY = REPO / "my-notebooks"
MIN_TOKEN_CHARS = 24
MIN_TOKEN_DISTINCT = 10
PINS = Path(__file__).with_name("jupyter_pins.py")


def check_token(token: str) -> str:
    """The token, if it is strong enough to guard a server that runs code; a ValueError saying why not."""
    if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the server token must be at least {MIN_TOKEN_CHARS} characters (got "
                         f"{len(token) if isinstance(token, str) else type(token).__name__}); leave "
                         f"PERFLAB_TOKEN unset and perflab makes a random one")
    if len(set(token)) < MIN_TOKEN_DISTINCT or token.isdigit() or token.isalpha():
        raise ValueError(f"the server token is too easy to guess (it needs at least {MIN_TOKEN_DISTINCT} "
                         f"different characters, letters and digits); try: python -c \"import secrets; "
                         f"print(secrets.token_hex(24))\"")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise ValueError("the server token must not contain spaces or control characters")
    return token


def server_command(port: int, notebooks: str, ip: str = LOOPBACK) -> list[str]:
    """The jupyter command line (no secret on it); refuses an address other than loopback."""
    if ip != LOOPBACK:
        raise ValueError(f"perflab serves on {LOOPBACK} only, got {ip!r}. To reach it from another "
                         f"machine use an SSH tunnel: ssh -L {port}:127.0.0.1:{port} host")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer from 1 to 65535, got {port!r}")
    return [sys.executable, "-m", "jupyter", "lab", f"--config={PINS}", f"--ServerApp.ip={ip}",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.allow_remote_access=False",
            "--ServerApp.allow_origin=", "--ServerApp.allow_origin_pat=", "--ServerApp.allow_credentials=False",
            "--ServerApp.disable_check_xsrf=False", "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={notebooks}"] + (["--allow-root"] if _is_root() else [])


def server_env(token: str) -> dict:
    """The server's environment: ours, with the (checked) token where Jupyter reads it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PERFLAB_TOKEN", "JUPYTER_TOKEN_FILE")}
    env["JUPYTER_TOKEN"] = check_token(token)
    return env


def working_copy(folder: "str | Path" = WORKING_COPY, course: "str | Path" = COURSE) -> list[str]:
    """Copy the course's notebooks that ``folder`` lacks into it (never overwriting yours); their names."""
    folder, course = Path(folder), Path(course)
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for nb in sorted(course.glob("*.ipynb")):
        if not (folder / nb.name).exists():
            shutil.copy2(nb, folder / nb.name)
            copied.append(nb.name)
    return copied


def _is_root() -> bool:
    """Jupyter refuses to start as root unless told; containers and cloud VMs often run as root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--notebooks", default=str(WORKING_COPY),
                   help="the folder to serve: your working copy (default my-notebooks/, made from notebooks/ "
                        "on the first run and git-ignored). Naming the course's notebooks/ serves the working "
                        "copy instead, unless --edit-course")
    p.add_argument("--edit-course", action="store_true",
                   help="instructors: serve the course's own notebooks/ (autosave then changes tracked files)")
    args = p.parse_args(argv)
    folder = Path(args.notebooks).resolve()
    if folder == COURSE.resolve() and not args.edit_course:
        folder = WORKING_COPY
        print(f"perflab: serving your working copy {folder.name}/ (the course's notebooks/ stay as committed; "
              f"--edit-course serves them instead)")
    if folder != COURSE.resolve():
        copied = working_copy(folder)
        if copied:
            print(f"perflab: copied {len(copied)} notebooks from notebooks/ into {folder}")
    try:
        env = server_env(os.environ.get("PERFLAB_TOKEN") or secrets.token_hex(24))
        cmd = server_command(args.port, str(folder))
    except ValueError as e:
        print(f"perflab: {e}", file=sys.stderr)
        return 2
    print(f"perflab: JupyterLab at http://{LOOPBACK}:{args.port}/lab?token={env['JUPYTER_TOKEN']}", flush=True)
    os.execve(cmd[0], cmd, env)          # become the server: stopping this process stops JupyterLab


if __name__ == "__main__":
    sys.exit(main())
