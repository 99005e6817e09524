"""Child process for profilers: run lab variants once each inside NVTX ranges, several cases per process.

    python -m perflab.profile_target ch07.copy_ladder coalesced --size 1000003           # one case
    python -m perflab.profile_target --case "ch07.copy_ladder:coalesced:1000003" \\
                                     --case "ch07.copy_ladder:strided_32:1000003"         # several

Case ``i`` runs inside the range ``perflab`` and, nested in it, ``perflab-case-<i>``: ncu profiles what
is inside ``perflab`` (``--nvtx-include perflab/``) and perflab.nsight splits its rows by the case range.
One process for all the cases of a table pays Python, torch and CUDA start-up once, not once a case.
A case that fails prints ``perflab-case-<i> failed: <error>`` on stderr and the next case still runs.
"""
from __future__ import annotations

import argparse
import ast
import sys

OUTER = "perflab"
CASE = "perflab-case-{}"
FAILED = "perflab-case-{} failed: "


def parse_case(text: str) -> tuple:
    """``"lab:variant:size"`` → (lab, variant, size); the size is a Python literal or ``None``."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"a case is 'lab:variant:size', e.g. 'ch07.copy_ladder:coalesced:1000003' "
                         f"(size None for the lab's default), got {text!r}")
    lab, variant, size = parts
    try:
        return lab, variant, ast.literal_eval(size)
    except (ValueError, SyntaxError):
        raise ValueError(f"the size in case {text!r} is not a Python literal: write e.g. 1000003, "
                         f"(1031, 1029) or None") from None


def format_case(lab: str, variant: str, size=None) -> str:
    """The inverse of :func:`parse_case`."""
    return f"{lab}:{variant}:{size!r}"


def run_once(lab_name: str, variant: str, size=None, name: str | None = None) -> None:
    """Warm ``variant`` up outside the ranges (compile, autotune, load modules), then run it once inside
    ``perflab`` (and inside ``name`` nested in it, when given)."""
    import torch
    from perflab.lab import load
    from perflab.machine import device
    lab = load(lab_name)
    fn = lab.get_variant(variant)
    inputs = lab.make_inputs(lab.SIZES["gpu"][0] if size is None else size, device(), lab.DTYPES[0], 0)
    fn(**inputs)
    torch.cuda.synchronize()
    ranges = [OUTER] + ([name] if name else [])
    for r in ranges:
        torch.cuda.nvtx.range_push(r)
    try:
        fn(**inputs)
        torch.cuda.synchronize()
    finally:
        for _ in ranges:
            torch.cuda.nvtx.range_pop()


def run_cases(cases: list, run=None) -> int:
    """Run every (lab, variant, size) case once in its own nested range; how many failed."""
    run = run or run_once
    failed = 0
    for i, (lab, variant, size) in enumerate(cases):
        try:
            run(lab, variant, size, name=CASE.format(i))
        except Exception as e:          # noqa: BLE001 — reported to the parent, the next case still runs
            failed += 1
            print(FAILED.format(i) + f"{type(e).__name__}: {e}".replace("\n", " ")[:300], file=sys.stderr,
                  flush=True)
    return failed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lab", nargs="?")
    p.add_argument("variant", nargs="?")
    p.add_argument("--size", default=None)
    p.add_argument("--case", action="append", default=[], help="lab:variant:size (repeat for several)")
    args = p.parse_args(argv)
    cases = [parse_case(c) for c in args.case]
    if args.lab:
        if not args.variant:
            p.error("give a variant after the lab, or use --case lab:variant:size")
        cases.insert(0, (args.lab, args.variant, ast.literal_eval(args.size) if args.size else None))
    if not cases:
        p.error("nothing to run: give 'lab variant' or one or more --case lab:variant:size")
    return 1 if run_cases(cases) else 0


if __name__ == "__main__":
    sys.exit(main())
