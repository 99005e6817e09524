"""perflab.distributed: a torchrun launch that fails says why and returns None; one that works returns
the JSON rank 0 wrote after joining the group (gloo on this CPU)."""
from perflab.distributed import child_env, run_torchrun, torchrun_command

WORKER = '''
import argparse
from perflab.distributed import join, leave
ap = argparse.ArgumentParser(); ap.add_argument("--out"); ap.add_argument("--fail", action="store_true")
a = ap.parse_args()
r = join()
if a.fail:
    raise SystemExit("planted failure")
leave(r, {"rank": r.rank, "world": r.world, "backend": r.backend}, a.out)
'''


def test_run_torchrun_returns_rank0_json_and_none_on_failure(tmp_path, capsys):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    assert run_torchrun(script, timeout_s=120, verbose=False, hide_gpus=True) == {"rank": 0, "world": 2, "backend": "gloo"}
    assert run_torchrun(script, ["--fail"], timeout_s=120, verbose=False, hide_gpus=True) is None
    assert "torchrun failed" in capsys.readouterr().out


def test_command_and_environment():
    cmd = torchrun_command("x.py", ["--a", 1], nproc=3)
    assert cmd[-5:] == ["--nproc_per_node", "3", "x.py", "--a", "1"]
    env = child_env(hide_gpus=True)
    assert env["NCCL_NVLS_ENABLE"] == "0" and env["CUDA_VISIBLE_DEVICES"] == ""


def test_a_hung_run_is_stopped_with_its_ranks(tmp_path, capsys, monkeypatch):
    """The ranks write their pids and hang, ignoring SIGTERM: the call still returns within a few seconds
    of its timeout, no rank (nor torchrun) is left alive, and the temp folder is gone."""
    import glob
    import tempfile
    import time

    import psutil
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))           # see what run_torchrun leaves behind
    pids = tmp_path / "pids"
    pids.mkdir()
    script = tmp_path / "hang.py"
    script.write_text("import os, signal, time, argparse\nap = argparse.ArgumentParser(); ap.add_argument('--out')\n"
                      "ap.parse_args()\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                      f"open(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close()\ntime.sleep(600)\n")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    start = time.monotonic()
    assert run_torchrun(script, timeout_s=20, verbose=False, hide_gpus=True) is None
    took = time.monotonic() - start
    assert "did not finish in 20 s" in capsys.readouterr().out
    assert took < 20 + 10, f"returned after {took:.0f} s"
    ranks = [int(p.name) for p in pids.iterdir()]
    assert len(ranks) == 2, "the ranks never started: the test proves nothing"
    time.sleep(0.5)
    alive = [r for r in ranks if psutil.pid_exists(r) and psutil.Process(r).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"ranks left running: {alive}"
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before
    assert not glob.glob(str(tmp_path / "perflab-torchrun-*"))


def test_failure_summary_prefers_the_cause_over_the_last_lines():
    from perflab.distributed import _why
    log = "start\nterminate called after throwing an instance of 'gloo::IoException'\n  what():  reset by peer\nx\ny\nz\n"
    assert _why(log).startswith("terminate called") and "what():" in _why(log)
    assert _why("a\nb\nc\nd") == "b | c | d"
