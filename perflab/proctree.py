"""Child processes that cannot outlive their timeout: run in their own process group, and on a timeout
the whole tree (profiler, profiled program, torchrun ranks in their own sessions) is stopped and killed.

    out = proctree.run(["ncu", ..., sys.executable, "-m", "perflab.profile_target", ...], timeout=180)

Same arguments and result as ``subprocess.run(..., capture_output=True, text=True)``; on a timeout it
raises ``subprocess.TimeoutExpired`` only after every process of the tree is gone.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

GRACE_S = 2.0          # after SIGTERM, how long the tree may take to exit before SIGKILL


def run(cmd: list, *, timeout: float, grace_s: float = GRACE_S, **popen_kw) -> subprocess.CompletedProcess:
    """Run ``cmd`` to completion or ``timeout`` seconds; capture its output as text."""
    if not (isinstance(timeout, (int, float)) and timeout > 0 and timeout != float("inf")):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    popen_kw.setdefault("text", True)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                          **popen_kw) as p:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(p.pid, grace_s)
            try:
                stdout, stderr = p.communicate(timeout=grace_s + 5)
            except subprocess.TimeoutExpired:       # a pipe held open by something outside the tree
                stdout, stderr = "", ""
            raise subprocess.TimeoutExpired(cmd, timeout, output=stdout, stderr=stderr) from None
    return subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr)


def kill_tree(pid: int, grace_s: float = GRACE_S) -> None:
    """Stop ``pid`` and every descendant (even those that started their own session): freeze them, ask
    them to end (SIGTERM), and kill (SIGKILL) whatever is left after ``grace_s`` seconds."""
    tree = [pid] + descendants(pid)
    _signal_all(tree, signal.SIGSTOP)               # frozen: nothing new is spawned while we look
    tree = list(dict.fromkeys(tree + [d for p in tree for d in descendants(p)]))
    _signal_all(tree, signal.SIGTERM)
    _signal_all(tree, signal.SIGCONT)               # a stopped process only handles SIGTERM once running
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(p) for p in tree):
        time.sleep(0.05)
    _signal_all(tree, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...), read from /proc or psutil."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.append(c)
                todo.append(c)
    return out


def _parents() -> dict[int, int]:
    """{pid: parent pid} of every process we can see."""
    if os.path.isdir("/proc"):
        out = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        stat = f.read()
                except OSError:
                    continue                        # it ended while we looked
                out[int(name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
        return out
    import psutil                                   # macOS and others
    return {p.pid: p.info["ppid"] for p in psutil.process_iter(["ppid"])}


def _signal_all(pids: list[int], sig) -> None:
    for p in pids:
        for kill, target in ((os.killpg, _pgid(p)), (os.kill, p)):
            if target is None:
                continue
            try:
                kill(target, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _pgid(pid: int) -> int | None:
    """The process group to signal with ``pid``: its own group when it leads one (never ours)."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return None
    return pgid if pgid == pid and pgid != os.getpgid(0) else None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b")")[-1].split()[0] != b"Z"     # a zombie has ended
    except OSError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
