"""The planted bugs, as data: per lab, wrong variants (tests/bugs_*.py) and generic corruptions of a right one."""
from __future__ import annotations

import functools

import torch

import bugs_early  # noqa: F401  (registers its bugs)
import bugs_late  # noqa: F401
from labtests import PLANTED


def last_element_wrong(out):
    """The last element never written: garbage that no tolerance can absorb."""
    out = out.clone()
    flat = out.view(-1)
    flat[-1] += 1 + 2 * flat.abs().max()
    return out


def rows_shifted_by_one(out):
    """Every row written one row down (an off-by-one row index)."""
    return out.roll(1, dims=0)


def scaled_by_1_01(out):
    """A 1% error everywhere (a wrong constant): caught only by a tolerance tighter than 1%."""
    return out * 1.01


def wrong_dtype(out):
    """The answer in another dtype: float64 for a floating answer, int32 for int64 token ids, else int64."""
    if out.dtype.is_floating_point:
        return out.double()
    return out.int() if out.dtype == torch.int64 else out.long()


# corruptions of the first variant that runs here; GENERIC ones apply to every lab
CORRUPTIONS = {f.__name__: f for f in (last_element_wrong, rows_shifted_by_one, scaled_by_1_01, wrong_dtype)}
GENERIC = ("last_element_wrong", "wrong_dtype")

# lab -> further corruptions beyond GENERIC, where they mean something (a row index, a tolerance of 1e-5)
EXTRA = {"ch05.transforms": ["scaled_by_1_01"], "ch09.l2norm": ["rows_shifted_by_one"],
         "ch09.softmax": ["rows_shifted_by_one"]}


# labs whose exercise grader must fail every planted bug too (pl.grade runs the same gate at several sizes)
GRADED = ("ch01.train_loop", "ch02.cache_ladder", "ch17.kv_relayout")


def bugs_of(name: str) -> list:
    """Every planted bug of a lab: its own (tests/bugs_*.py), then corruptions of a right variant (as names)."""
    return [*PLANTED.get(name, []), *EXTRA.get(name, []), *GENERIC]


def corrupted(fn, how: str):
    """A variant that runs ``fn`` and corrupts its answer ``how`` (a name in CORRUPTIONS)."""
    corrupt = CORRUPTIONS[how]

    @functools.wraps(fn)
    def wrong(**inputs):
        return corrupt(fn(**inputs).detach())
    wrong.__name__ = f"{fn.__name__}_{how}"         # keeps fn's metadata: judged at fn's own tolerance
    return wrong
