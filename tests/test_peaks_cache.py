"""The ceilings cache: a stable, quiet measurement is cached; a noisy or contended one is not; concurrent
refreshes from several processes all succeed."""
import contextlib
import json
import os
import subprocess
import sys
import time
import types

import pytest

from perflab import peaks
from perflab.paths import REPO


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(peaks, "PRECISIONS", ())            # the copy ceiling only: fast
    monkeypatch.setattr(peaks, "_SESSION", {})
    return tmp_path


def _fake_copies(monkeypatch, samples):
    it = iter(samples)
    monkeypatch.setattr(peaks, "_copy_gbps", lambda n, dev: next(it))
    monkeypatch.setattr(peaks, "_OtherLoad", lambda: contextlib.nullcontext(types.SimpleNamespace(cores=0.0)))


def test_stable_value_keeps_the_median_and_flags_a_wide_spread():
    assert peaks.stable_value([50, 51, 49, 52, 50]) == (50, "")
    value, why = peaks.stable_value([53, 1, 1, 50, 52])           # the three refreshes under load
    assert value == 50 and "spread" in why
    with pytest.raises(ValueError):
        peaks.stable_value([])


def test_a_stable_quiet_measurement_is_cached(cache, monkeypatch):
    _fake_copies(monkeypatch, [50, 51, 49, 52, 50])
    c = peaks.ceilings(refresh=True)
    path = next(cache.glob("ceilings-*.json"))
    data = json.loads(path.read_text())
    assert c.copy_gbps == 50 and data["copy_gbps"] == 50 and data["noise"] == ""
    assert data["threads"] >= 1 and data["copy_samples_gbps"] == [50, 51, 49, 52, 50]
    assert peaks.ceilings().copy_gbps == 50                            # read back from the cache


def test_a_noisy_measurement_is_not_cached_and_says_so(cache, monkeypatch, capsys):
    _fake_copies(monkeypatch, [53, 1, 1, 50, 52])
    c = peaks.ceilings(refresh=True)
    assert "spread" in c.noise and "not cached" in capsys.readouterr().out
    assert _stable_files(cache) == []
    assert "not cached" in c.table()


def test_a_noisy_measurement_stands_in_flagged_until_a_quiet_one(cache, monkeypatch):
    _fake_copies(monkeypatch, [53, 1, 1, 50, 52])
    peaks.ceilings(refresh=True)
    peaks._SESSION.clear()                                  # as a new process would start
    real_measure = peaks.measure
    monkeypatch.setattr(peaks, "measure", lambda quick=False: pytest.fail("measured again"))
    again = peaks.ceilings()
    assert again.noise and again.copy_gbps == 50            # the provisional value, still flagged
    monkeypatch.setattr(peaks, "measure", real_measure)
    _fake_copies(monkeypatch, [50, 51, 49, 52, 50])
    assert not peaks.ceilings(refresh=True).noise
    assert len(_stable_files(cache)) == 1 and not list(cache.glob("*.provisional.json"))


def test_under_background_load_the_degraded_ceiling_is_not_cached(cache):
    """Real copies on this CPU with every core kept busy by other processes: flagged, not cached."""
    spin = "import time\nt = time.time() + 60\nwhile time.time() < t: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.5)
        c = peaks.ceilings(refresh=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert "cores busy" in c.noise, c.noise
    assert _stable_files(cache) == []
    assert len(c.copy_samples_gbps) == peaks.COPY_REPEATS


def _stable_files(cache) -> list:
    return [p for p in cache.glob("ceilings-*.json") if not p.name.endswith(".provisional.json")]


_REFRESH = """
import time
from perflab import peaks
peaks.PRECISIONS = ()
peaks._OtherLoad = type("Q", (), {"cores": 0.0, "__enter__": lambda s: s, "__exit__": lambda s, *a: None})
def copy(n, dev):
    time.sleep(0.05)
    return 40.0
peaks._copy_gbps = copy
for _ in range(5):
    assert peaks.ceilings(refresh=True).copy_gbps == 40.0
"""


def test_concurrent_refreshes_all_succeed(cache):
    env = dict(os.environ, PERFLAB_CACHE=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", _REFRESH], cwd=REPO, env=env, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert json.loads(next(cache.glob("ceilings-*.json")).read_text())["copy_gbps"] == 40.0
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]
