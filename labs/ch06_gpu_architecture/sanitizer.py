"""compute-sanitizer on a planted out-of-bounds write: run it as a subprocess and read its report.

    >>> parse(SAMPLE).summary()
    'found 2 errors: Invalid __global__ write of size 4 bytes (by thread (232,0,0) in block (3,0,0); is 0 bytes after the nearest allocation at 0x7f2a5e000000 of size 4,000 bytes)'
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

from perflab import proctree

PREFIX = "========="
SCRIPT = "labs.ch06_gpu_architecture.oob_write"
EXPECTED = ("Invalid __global__ write of size 4 bytes by thread (232,0,0) in block (3,0,0), "
            "0 bytes after the 4,000-byte allocation")

# The shape of a memcheck report (compute-sanitizer 2025.x): a headline per error at the prefix, its
# details indented, then the summary. Addresses are illustrative; the notebook prints the real one.
SAMPLE = """\
========= COMPUTE-SANITIZER
========= Invalid __global__ write of size 4 bytes
=========     at fill_off_by_one+0x90
=========     by thread (232,0,0) in block (3,0,0)
=========     Address 0x7f2a5e000fa0 is out of bounds
=========     and is 0 bytes after the nearest allocation at 0x7f2a5e000000 of size 4,000 bytes
=========     Saved host backtrace up to driver entry point at kernel launch time
=========         Host Frame: [0x2f4e3a] in libcuda.so.1
=========
========= Program hit cudaErrorLaunchFailure (error 719) due to "unspecified launch failure" on CUDA API call to cudaDeviceSynchronize.
=========     Saved host backtrace up to driver entry point at error
=========
the kernel failed: CUDARuntimeError: cudaErrorLaunchFailure: unspecified launch failure
========= ERROR SUMMARY: 2 errors
"""


@dataclass
class Report:
    """What compute-sanitizer said: the error count, the first error and its details, or why it did not run."""
    ran: bool
    errors: int | None = None
    first: str | None = None
    details: list = field(default_factory=list)
    reason: str = ""
    text: str = ""

    def summary(self) -> str:
        if not self.ran:
            return f"compute-sanitizer did not run: {self.reason}"
        if self.errors is None:
            return "compute-sanitizer ran but printed no ERROR SUMMARY (see .text)"
        if self.errors == 0:
            return "found 0 errors"
        where = [d.removeprefix("and ") for d in self.details if d.startswith(("by thread", "and is"))]
        more = f" ({'; '.join(where)})" if where else ""
        return f"found {self.errors} error{'s' * (self.errors != 1)}: {self.first}{more}"

    __str__ = summary


def parse(text: str) -> Report:
    """Read a memcheck report: the count from ERROR SUMMARY, the first headline and its details.

    >>> parse("========= ERROR SUMMARY: 0 errors").summary()
    'found 0 errors'
    """
    lines = [ln[len(PREFIX):] for ln in text.splitlines() if ln.startswith(PREFIX)]
    summary = re.search(r"ERROR SUMMARY: (\d+) errors?", text)
    errors = int(summary.group(1)) if summary else None
    first, details = None, []
    for body in lines:
        if body.startswith(" ") and not body.startswith("  ") and body.strip():       # a headline
            head = body.strip()
            if head.startswith(("COMPUTE-SANITIZER", "ERROR SUMMARY", "LEAK SUMMARY")):
                continue
            if first is not None:
                break
            first = head
        elif first is not None and body.strip():                                       # its details
            details.append(body.strip())
    return Report(True, errors, first, details[:4], text=text)


def find() -> str | None:
    from perflab.nsight import find as _find
    return _find("compute-sanitizer")


def unavailable() -> str | None:
    """Why the sanitizer cannot run here (None when it can)."""
    from perflab.machine import env
    e = env()
    if e.tier != "gpu":
        return "needs a CUDA GPU (this is the cpu tier)"
    if not e.has("cupy"):
        return "needs CuPy for the planted kernel (pip install cupy-cuda12x or -13x)"
    if find() is None:
        return "needs compute-sanitizer from the CUDA toolkit (not on PATH nor in /usr/local/cuda*/bin)"
    return None


def run(tool: str = "memcheck", sanitize: bool = True, timeout_s: float = 180) -> Report:
    """Run the planted bug as a child process, under ``compute-sanitizer --tool <tool>`` or plainly."""
    from perflab.paths import REPO
    why = unavailable()
    if why:
        return Report(False, reason=why)
    cmd = ([find(), "--tool", tool] if sanitize else []) + [sys.executable, "-m", SCRIPT]
    try:
        out = proctree.run(cmd, timeout=timeout_s, cwd=str(REPO),
                             env=dict(os.environ, PYTHONUNBUFFERED="1"))
    except subprocess.TimeoutExpired:
        return Report(False, reason=f"took longer than {timeout_s:.0f} s")
    text = out.stdout + out.stderr
    if not sanitize:
        last = (text.strip().splitlines() or ["(no output)"])[-1]
        return Report(True, reason=f"exit {out.returncode}: {last}", text=text)
    return parse(text)


def explain(report: Report) -> str:
    """One line for the notebook, including what the run would show where it cannot run."""
    if not report.ran:
        return f"compute-sanitizer {report.reason}; on a GPU it would report: {EXPECTED}"
    return report.summary()


def demo(timeout_s: float = 180) -> list[str]:
    """The notebook's lines: the bug run plainly (silent), then under memcheck (caught); one line if it cannot run."""
    why = unavailable()
    if why:
        return [explain(Report(False, reason=why))]
    plain = run(sanitize=False, timeout_s=timeout_s)
    checked = run(timeout_s=timeout_s)
    return [f"plain run        → {plain.reason if plain.ran else plain.summary()}",
            f"under memcheck   → {explain(checked)}"]
