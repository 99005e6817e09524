"""The Colab cell: right install command per CUDA major, a smoke test on Colab, a no-op elsewhere."""
import json
import os
import subprocess
import sys
import types

import pytest

from perflab import notebook_format as nf
from perflab.colab import BOOTSTRAP, TAGS


def setup_cell(path):
    cells = json.loads(path.read_text())["cells"]
    return next(c for c in cells if c["cell_type"] == "code" and "google.colab" in "".join(c["source"]))


@pytest.mark.parametrize("path", nf.notebooks(), ids=lambda p: p.name)
def test_every_notebook_carries_the_tagged_bootstrap(path):
    cell = setup_cell(path)
    assert "".join(cell["source"]) == BOOTSTRAP
    assert set(TAGS) <= set(cell["metadata"]["tags"])


def run_bootstrap(monkeypatch, on_colab: bool, cuda: str | None):
    calls, dirs = [], []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(os, "chdir", dirs.append)
    monkeypatch.setattr(os.path, "exists", lambda p: False if p == "/content/perflab" else os.path.lexists(p))
    import torch
    monkeypatch.setattr(torch.version, "cuda", cuda)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(BOOTSTRAP, "bootstrap", "exec"), {})
    return calls, dirs


@pytest.mark.parametrize("cuda,extra", [("12.4", "cuda12"), ("13.0", "cuda13"), (None, "cuda12")])
def test_install_command_matches_the_cuda_major(monkeypatch, capsys, cuda, extra):
    calls, dirs = run_bootstrap(monkeypatch, on_colab=True, cuda=cuda)
    assert calls[0][:2] == ["git", "clone"] and calls[0][-1] == "/content/perflab"
    assert calls[1][1:5] == ["-m", "pip", "install", "-q"]
    assert calls[1][-1] == f"/content/perflab[lab,{extra}]"
    assert dirs == ["/content/perflab/notebooks"]
    out = capsys.readouterr().out
    assert "tier" in out and "smoke test:" in out and "right answer" in out


def test_bootstrap_does_nothing_off_colab(monkeypatch, capsys):
    calls, dirs = run_bootstrap(monkeypatch, on_colab=False, cuda="12.4")
    assert calls == [] and dirs == [] and capsys.readouterr().out == ""
