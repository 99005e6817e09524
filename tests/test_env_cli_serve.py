import os

import pytest

import perflab as pl
from perflab import cli
from perflab.nsight import ncu, parse_ncu_cases
from perflab.serve import check_token, server_command, server_env


def test_env_tells_the_truth_about_this_machine():
    e = pl.env()
    import torch
    assert e.tier == ("gpu" if torch.cuda.is_available() else "cpu")
    if e.tier == "cpu":
        assert os.environ["TRITON_INTERPRET"] == "1" and e.tools["triton"].startswith("interpreted")
        assert e.capability is None and not e.has("cuda") and not e.has("sm_75")
    with pytest.raises(ValueError, match="unknown requirement"):
        e.has("warp-drive")


def test_server_is_loopback_and_its_token_stays_off_the_command_line():
    token = "Zq3" + "a1b2c3d4e5f6g7h8i9j0k1"
    cmd = server_command(8888, "my-notebooks")
    assert "--ServerApp.ip=127.0.0.1" in cmd and not any(token in a or "token=" in a for a in cmd)
    assert {"--ServerApp.allow_origin=", "--ServerApp.disable_check_xsrf=False"} <= set(cmd)
    assert server_env(token)["JUPYTER_TOKEN"] == token
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        server_command(8888, "notebooks", ip="0.0.0.0")


@pytest.mark.parametrize("weak, why", [("", "at least 24"), ("t" * 32, "easy to guess"),
                                       ("1234567890" * 3, "easy to guess"), ("abcdefghijklmnopqrstuvwxyz", "easy"),
                                       ("0123456789abcdef0123 456789", "spaces"), (None, "at least 24")])
def test_a_weak_token_is_refused(weak, why):
    with pytest.raises(ValueError, match=why):
        check_token(weak)


def test_serve_uses_a_git_ignored_working_copy(tmp_path, monkeypatch):
    import subprocess
    import perflab.serve as serve
    course = tmp_path / "course"
    course.mkdir()
    (course / "a.ipynb").write_text("A")
    (course / "b.ipynb").write_text("B")
    mine = tmp_path / "mine"
    assert serve.working_copy(mine, course) == ["a.ipynb", "b.ipynb"]
    (mine / "a.ipynb").write_text("my edits")
    (course / "c.ipynb").write_text("C")
    assert serve.working_copy(mine, course) == ["c.ipynb"]               # new course notebooks come in
    assert (mine / "a.ipynb").read_text() == "my edits"                   # yours are never overwritten
    ignored = subprocess.run(["git", "check-ignore", "-q", str(serve.WORKING_COPY / "x.ipynb")],
                             cwd=serve.REPO).returncode
    assert ignored == 0, "my-notebooks/ must be git-ignored"
    served = []
    monkeypatch.setattr(serve, "working_copy", lambda folder: served.append(folder) or [])
    monkeypatch.setattr(serve.os, "execve", lambda exe, cmd, env: served.append(cmd))
    monkeypatch.setenv("PERFLAB_TOKEN", "Zq3a1b2c3d4e5f6g7h8i9j0k1")
    serve.main(["--notebooks", "notebooks"])                              # what `make lab` passes
    assert served[0] == serve.WORKING_COPY and f"--ServerApp.root_dir={serve.WORKING_COPY}" in served[1]
    monkeypatch.setenv("PERFLAB_TOKEN", "weak")
    assert serve.main(["--notebooks", str(mine)]) == 2


def test_cli_list_and_run(capsys, tmp_path):
    assert cli.main(["list"]) == 0
    assert "ch07.copy_ladder" in capsys.readouterr().out
    out = tmp_path / "r.json"
    assert cli.main(["run", "ch07.saxpy2d", "--variant", "torch_eager", "--rep-ms", "10",
                     "--out", str(out)]) == 0
    assert out.exists()


def test_cli_doctor_runs(capsys):
    assert cli.main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert "tier" in text and "[ok  ] triton" in text


NCU_CSV = '''==PROF== Connected to process 123
"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","gpu__time_duration.sum","dram__bytes_read.sum"
"","","","","","","","nsecond","Mbyte"
"0","123","python3","h","copy_kernel","1","7","1,234","268.44"
'''


def test_ncu_csv_is_parsed():
    rows = parse_ncu_cases(NCU_CSV, 1)[0]                    # one case: every kernel's rows
    assert ("copy_kernel", "gpu__time_duration.sum", 1234.0, "nsecond") in rows
    assert ("copy_kernel", "dram__bytes_read.sum", 268.44, "Mbyte") in rows
    assert parse_ncu_cases("no csv here", 1) == [[]]


def test_ncu_is_unavailable_with_a_reason_on_the_cpu_tier():
    if pl.env().tier == "gpu":
        pytest.skip("cpu-tier behaviour")
    r = ncu("ch07.copy_ladder", "coalesced")
    assert not r.available and "cpu tier" in r.reason and "unavailable" in repr(r)
