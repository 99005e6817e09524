"""The Colab bootstrap: the short cell every notebook carries (tagged so CI skips it) and the code it runs.

On Colab the cell fetches the repository at a pinned release (``REPO_URL`` at ``REF``: a tag or a commit,
never the default branch) into /content/perflab and runs this file from there, which installs perflab
with the CuPy wheel matching Colab's CUDA major (retried on the next run if it failed: the marker is
written only after a successful install), prints the environment and runs a one-element Triton kernel.
Anywhere else the cell does nothing.

Override (another fork, a branch or a commit under test): before running the cell,
``os.environ["PERFLAB_REPO_URL"] = "https://github.com/you/perflab"`` and/or
``os.environ["PERFLAB_REF"] = "<tag, branch or commit>"``.

This file is run by path before perflab is installed: it imports only the standard library at the top.
``python -m perflab.notebook_format --fix`` writes ``BOOTSTRAP`` into every notebook.
"""
from __future__ import annotations

import os
import subprocess
import sys

REPO_URL = "https://github.com/perflab/perflab"
REF = "v0.1.0"                  # the release the notebooks install: tag each release (git tag v0.1.0)
URL_ENV, REF_ENV = "PERFLAB_REPO_URL", "PERFLAB_REF"
COLAB_REPO = "/content/perflab"
INSTALLED = ".perflab-installed"    # in the checkout: the ref whose install succeeded
FETCHED = ".perflab-ref"            # in the checkout: the ref checked out
TAGS = ["skip-execution", "nbval-skip"]

BOOTSTRAP = f'''\
# Colab only: fetch perflab at its pinned release, install it, run a tiny kernel (perflab/colab.py). Elsewhere: nothing.
# Another fork or commit: set os.environ["{URL_ENV}"] / os.environ["{REF_ENV}"] before running this cell.
import os, runpy, subprocess, sys
if "google.colab" in sys.modules:
    url, ref, repo = os.environ.get("{URL_ENV}", "{REPO_URL}"), os.environ.get("{REF_ENV}", "{REF}"), "{COLAB_REPO}"
    if not os.path.exists(f"{{repo}}/perflab/colab.py"):
        subprocess.run(["git", "init", "-q", repo], check=True)
        subprocess.run(["git", "-C", repo, "fetch", "-q", "--depth", "1", url, ref], check=True)
        subprocess.run(["git", "-C", repo, "checkout", "-q", "FETCH_HEAD"], check=True)
    runpy.run_path(f"{{repo}}/perflab/colab.py", init_globals={{"URL": url, "WANT": ref}}, run_name="__main__")
'''


def fetch(url: str, ref: str, repo: str, run=subprocess.run) -> bool:
    """Check out ``ref`` of ``url`` in ``repo`` unless it already is; True when it fetched."""
    marker = os.path.join(repo, FETCHED)
    if _read(marker) == f"{url} {ref}":
        return False
    run(["git", "init", "-q", repo], check=True)
    run(["git", "-C", repo, "fetch", "-q", "--depth", "1", url, ref], check=True)
    run(["git", "-C", repo, "checkout", "-q", "--force", "FETCH_HEAD"], check=True)
    _write(marker, f"{url} {ref}")
    return True


def install(repo: str, ref: str, cuda: str | None, run=subprocess.run) -> bool:
    """pip-install the checkout with the CuPy extra for CUDA major ``cuda``, unless this ref's install
    already succeeded; True when it installed. A failed install raises and leaves no marker."""
    marker = os.path.join(repo, INSTALLED)
    if _read(marker) == ref:
        return False
    major = (cuda or "12").split(".")[0]
    run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{repo}[lab,cuda{major}]"], check=True)
    _write(marker, ref)
    return True


def bootstrap(url: str, ref: str, repo: str = COLAB_REPO, run=subprocess.run, chdir=os.chdir) -> None:
    """Fetch, install, then show the environment and run the smoke test."""
    import torch                                  # Colab ships torch; it tells the CUDA major
    fetch(url, ref, repo, run)
    install(repo, ref, torch.version.cuda, run)
    if repo not in sys.path:
        sys.path.insert(0, repo)
    chdir(os.path.join(repo, "notebooks"))
    import perflab as pl
    import perflab.smoke
    print(pl.env().summary())
    print("smoke test:", perflab.smoke.triton_kernel()[1])


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":              # run by the Colab cell with URL and WANT set
    bootstrap(globals().get("URL") or os.environ.get(URL_ENV, REPO_URL),
              globals().get("WANT") or os.environ.get(REF_ENV, REF))
