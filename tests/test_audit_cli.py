"""perflab audit on this machine: CLI text and JSON, exit codes, and that it only ever reads."""
import json
import subprocess

import pytest

from perflab import cli
from perflab.audit import CHECKS, STATUSES, audit


def test_cli_text(capsys):
    assert cli.main(["audit", "--only", "os.", "--only", "torch.tf32"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("perflab audit · ") and "os.thp" in out and "torch.tf32" in out
    assert "gpu.temperature" not in out and "need a person" in out


def test_cli_json(capsys):
    cli.main(["audit", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert len(data["checks"]) == len(CHECKS) and sum(data["summary"].values()) == len(CHECKS)
    for c in data["checks"]:
        assert c["status"] in STATUSES and c["evidence"] and c["chapter"] >= 1
    assert data["remaining"] and {"category", "item", "chapter", "notebook"} <= set(data["remaining"][0])


def test_cli_fails_when_a_check_fails(monkeypatch, capsys):
    monkeypatch.setenv("CUDA_LAUNCH_BLOCKING", "1")
    assert cli.main(["audit", "--only", "debug.launch_blocking"]) == 1
    assert "❌ fail" in capsys.readouterr().out


def test_cli_list_items_and_bad_id(capsys):
    assert cli.main(["audit", "--list"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(CHECKS)
    assert cli.main(["audit", "--category", "power", "--items"]) == 0
    out = capsys.readouterr().out
    assert "gpu.throttle" in out and "Appendix checklist" in out
    assert cli.main(["audit", "--only", "nope"]) == 2


def test_cli_script(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text("batch = batch.to(device, non_blocking=True)\n")
    assert cli.main(["audit", "--only", "data.non_blocking", "--script", str(script)]) == 0
    assert "1/1 device copies non_blocking" in capsys.readouterr().out


def test_audit_only_reads(monkeypatch):
    """Every command the audit runs is a query: nvidia-smi --query-gpu/--format, or git status."""
    seen = []
    real = subprocess.run

    def spy(cmd, *a, **k):
        seen.append(list(cmd))
        return real(cmd, *a, **k)
    monkeypatch.setattr(subprocess, "run", spy)
    a = audit()
    assert all(r.result.status in STATUSES for r in a.rows)
    for cmd in seen:
        if cmd[0] == "nvidia-smi":
            assert all(x.startswith(("--query-gpu=", "--format=")) for x in cmd[1:]), cmd
        else:
            assert cmd[0] == "git" and "status" in cmd, cmd


def test_table_view():
    t = audit(only=["torch."]).table()
    assert t.title.startswith("perflab audit") and len(t.rows) == len([c for c in CHECKS if c.id.startswith("torch.")])
    assert "<table>" in t._repr_html_()


@pytest.mark.parametrize("name", ["PYTORCH_ALLOC_CONF", "PYTORCH_CUDA_ALLOC_CONF"])
def test_alloc_conf_reads_both_names(monkeypatch, name):
    monkeypatch.delenv("PYTORCH_ALLOC_CONF", raising=False)
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    monkeypatch.setenv(name, "expandable_segments:True")
    r = audit(only=["torch.alloc_conf"]).rows[0].result
    assert r.status == "pass" and name in r.evidence


def test_book_check_reads_a_stored_reference(tmp_path, monkeypatch, capsys):
    from perflab.audit import teach
    monkeypatch.setenv("PERFLAB_DATA", str(tmp_path))
    assert "not recorded yet" in str(teach.book_check())
    (tmp_path / "reference").mkdir()
    cli.main(["audit", "--json"])
    (tmp_path / teach.REFERENCE).write_text(capsys.readouterr().out)
    assert " pass · " in str(teach.book_check()).split("H200 reference machine")[1]


def test_telemetry_calculator_uses_table_16_3_thresholds():
    from perflab.audit.teach import telemetry_verdict
    assert telemetry_verdict(84, 79.0, 0x1).count("pass") == 3
    text = telemetry_verdict(95, 96.0, 0x40)
    assert text.count("fail") == 3 and "HwThermalSlowdown" in text


def test_doctor_does_not_ask_a_gpu_less_machine_for_cupy(monkeypatch):
    import importlib.util
    from perflab import machine
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "cupy" else real(n, *a))
    import torch
    assert "pip install" not in machine._tools("cpu", torch)["cupy"]
    assert "pip install" in machine._tools("gpu", torch)["cupy"]
