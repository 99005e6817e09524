"""The Colab cell: pinned to a release (overridable), fetched and installed by perflab/colab.py with the
right CUDA extra, a failed install retried on the next run, a smoke test on Colab, a no-op elsewhere. That
every notebook carries this cell, tagged: tests/test_notebook_format.py (notebook_format.problems)."""
import os
import runpy
import subprocess
import sys
import types

import pytest

from perflab import colab
from perflab.colab import BOOTSTRAP


def run_cell(monkeypatch, on_colab: bool, env: dict | None = None):
    calls, ran = [], []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(runpy, "run_path", lambda path, **kw: ran.append((path, kw["init_globals"])))
    monkeypatch.setattr(os.path, "exists", lambda p: False if p.startswith("/content/") else os.path.lexists(p))
    for k in (colab.URL_ENV, colab.REF_ENV):
        monkeypatch.delenv(k, raising=False)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(BOOTSTRAP, "bootstrap", "exec"), {})
    return calls, ran


def test_the_cell_fetches_the_pinned_release_not_the_default_branch(monkeypatch):
    calls, ran = run_cell(monkeypatch, on_colab=True)
    assert calls[1][-4:] == ["--depth", "1", colab.REPO_URL, colab.REF] and calls[2][-1] == "FETCH_HEAD"
    assert ran == [("/content/perflab/perflab/colab.py", {"URL": colab.REPO_URL, "WANT": colab.REF})]
    assert colab.REF not in ("main", "master", "HEAD", "")


def test_the_url_and_ref_can_be_overridden(monkeypatch):
    calls, ran = run_cell(monkeypatch, on_colab=True, env={colab.URL_ENV: "https://example.org/fork",
                                                            colab.REF_ENV: "0123abc"})
    assert calls[1][-2:] == ["https://example.org/fork", "0123abc"]
    assert ran[0][1] == {"URL": "https://example.org/fork", "WANT": "0123abc"}


def test_the_cell_does_nothing_off_colab(monkeypatch, capsys):
    calls, ran = run_cell(monkeypatch, on_colab=False)
    assert calls == [] and ran == [] and capsys.readouterr().out == ""


@pytest.mark.parametrize("cuda,extra", [("12.4", "cuda12"), ("13.0", "cuda13"), (None, "cuda12")])
def test_bootstrap_installs_the_cuda_extra_and_smoke_tests(tmp_path, monkeypatch, capsys, cuda, extra):
    import torch
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(sys, "path", list(sys.path))
    calls, dirs = [], []
    colab.bootstrap("https://x/perflab", "v9", repo=str(tmp_path), run=lambda cmd, **kw: calls.append(cmd),
                    chdir=dirs.append)
    assert [c[:2] for c in calls[:3]] == [["git", "init"], ["git", "-C"], ["git", "-C"]]
    assert calls[3][1:5] == ["-m", "pip", "install", "-q"] and calls[3][-1] == f"{tmp_path}[lab,{extra}]"
    assert dirs == [str(tmp_path / "notebooks")]
    out = capsys.readouterr().out
    assert "tier" in out and "smoke test:" in out and "right answer" in out


def test_a_failed_install_is_retried_and_a_good_one_is_not_repeated(tmp_path):
    calls = []

    def pip_fails(cmd, **kw):
        calls.append(cmd)
        if "pip" in cmd:
            raise subprocess.CalledProcessError(1, cmd)

    def ok(cmd, **kw):
        calls.append(cmd)

    with pytest.raises(subprocess.CalledProcessError):
        colab.install(str(tmp_path), "v9", "12.4", run=pip_fails)
    assert not (tmp_path / colab.INSTALLED).exists()
    assert colab.install(str(tmp_path), "v9", "12.4", run=ok) is True     # retried
    assert colab.install(str(tmp_path), "v9", "12.4", run=ok) is False    # done once
    assert colab.install(str(tmp_path), "v10", "12.4", run=ok) is True    # a new ref installs again
    assert colab.fetch("u", "v9", str(tmp_path), run=ok) is True
    assert colab.fetch("u", "v9", str(tmp_path), run=ok) is False
