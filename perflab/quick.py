"""Quick mode (PERFLAB_QUICK=1): every lab at its smallest size and a short timing window, for iterating.

`python -m perflab.workbook --quick` sets the variable for every notebook kernel it starts. Numbers
measured in quick mode are for checking that the workbook runs, not for lessons: sizes too small
to saturate a GPU make every ratio noisier.

    >>> import os; os.environ.pop("PERFLAB_QUICK", None) and None
    >>> enabled(), rep_ms(100), pick(full=48, small=8)
    (False, 100, 48)
    >>> os.environ["PERFLAB_QUICK"] = "1"
    >>> enabled(), rep_ms(100), pick(full=48, small=8), default_size([4099, 1021, (3, 5)])
    (True, 10, 8, (3, 5))
    >>> del os.environ["PERFLAB_QUICK"]
"""
from __future__ import annotations

import math
import os

VARIABLE = "PERFLAB_QUICK"
REP_MS = 10            # the timing window of quick mode, in ms (the runner's default is 100)


def enabled() -> bool:
    """True when PERFLAB_QUICK is set to anything but '', '0', 'false' or 'no'."""
    return os.environ.get(VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def rep_ms(default: float) -> float:
    """The timing window to use: ``default``, or at most REP_MS in quick mode."""
    return min(default, REP_MS) if enabled() else default


def pick(full, small):
    """``small`` in quick mode, ``full`` otherwise (sweep points, step counts, repetitions)."""
    return small if enabled() else full


def elements(size) -> int:
    """How many elements a lab size stands for: an int itself, a tuple the product of its entries."""
    if isinstance(size, bool) or not isinstance(size, (int, tuple, list)):
        raise TypeError(f"a lab size is an int or a tuple of ints, got {size!r}")
    return size if isinstance(size, int) else math.prod(elements(s) for s in size)


def default_size(sizes: list):
    """A lab's default size for this tier: the first entry, or the smallest one in quick mode."""
    if not sizes:
        raise ValueError("a lab's SIZES list for this tier is empty: give at least one size")
    if not enabled():
        return sizes[0]
    try:
        return min(sizes, key=elements)
    except TypeError:                   # a size this module cannot count (a dict, a string): keep the default
        return sizes[0]
