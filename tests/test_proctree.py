"""perflab.proctree: a timeout kills the whole tree (a profiler and the program it runs, even one in its
own session that ignores SIGTERM) and returns within a few seconds; a normal run is subprocess.run."""
import subprocess
import sys
import time

import psutil
import pytest

from perflab import proctree

# a "profiler" that starts the program it profiles in a new session, then both hang
PROFILER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('child', flush=True); time.sleep(600)"],
    start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_timeout_kills_the_profiled_child_too():
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as info:
        proctree.run([sys.executable, "-c", PROFILER], timeout=4)
    took = time.monotonic() - start
    assert took < 4 + 8, f"returned after {took:.1f} s"
    child = int(str(info.value.output).split()[0])              # the profiled program's pid
    time.sleep(0.3)
    assert not _running(child)
    assert not [c.pid for c in psutil.Process().children(recursive=True) if c.pid not in before and _running(c.pid)]


def test_a_normal_run_is_like_subprocess_run():
    out = proctree.run([sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"], timeout=60)
    assert out.returncode == 3 and out.stdout == "hi\n"


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5"])
def test_a_bad_timeout_is_refused(bad):
    with pytest.raises(ValueError, match="timeout"):
        proctree.run(["true"], timeout=bad)
