import os

import pytest

import perflab as pl
from perflab import cli
from perflab.nsight import ncu, parse_ncu_csv
from perflab.serve import server_command


def test_env_tells_the_truth_about_this_machine():
    e = pl.env()
    import torch
    assert e.tier == ("gpu" if torch.cuda.is_available() else "cpu")
    if e.tier == "cpu":
        assert os.environ["TRITON_INTERPRET"] == "1" and e.tools["triton"].startswith("interpreted")
        assert e.capability is None and not e.has("cuda") and not e.has("sm_75")
    with pytest.raises(ValueError, match="unknown requirement"):
        e.has("warp-drive")


def test_server_is_loopback_and_token_only():
    cmd = server_command(8888, "a" * 32, "notebooks")
    assert "--ServerApp.ip=127.0.0.1" in cmd and f"--IdentityProvider.token={'a' * 32}" in cmd
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        server_command(8888, "a" * 32, "notebooks", ip="0.0.0.0")
    with pytest.raises(ValueError, match="token"):
        server_command(8888, "", "notebooks")


def test_cli_list_and_run(capsys, tmp_path):
    assert cli.main(["list"]) == 0
    assert "ch07.copy_ladder" in capsys.readouterr().out
    out = tmp_path / "r.json"
    assert cli.main(["run", "ch07.saxpy2d", "--variant", "torch_eager", "--rep-ms", "10",
                     "--out", str(out)]) == 0
    assert out.exists()
    assert cli.main(["run", "nope"]) == 2
    assert "looks like" in capsys.readouterr().err


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
    rows = parse_ncu_csv(NCU_CSV)
    assert ("copy_kernel", "gpu__time_duration.sum", 1234.0, "nsecond") in rows
    assert ("copy_kernel", "dram__bytes_read.sum", 268.44, "Mbyte") in rows
    assert parse_ncu_csv("no csv here") == []


def test_ncu_is_unavailable_with_a_reason_on_the_cpu_tier():
    if pl.env().tier == "gpu":
        pytest.skip("cpu-tier behaviour")
    r = ncu("ch07.copy_ladder", "coalesced")
    assert not r.available and "cpu tier" in r.reason and "unavailable" in repr(r)
