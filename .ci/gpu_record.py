"""Record labs on this GPU into one results file, lab by lab, within a time budget.

    PERFLAB_RESULTS=out/results.json python .ci/gpu_record.py --budget 480 [FIRST_LAB ...]

The named labs run first, then every other lab of ``perflab.list_labs()`` (with --only: the named labs alone). Each lab's records are merged
into PERFLAB_RESULTS as soon as it finishes (so a run cut short keeps what it measured); a lab that raises
is reported in one line and skipped. At the end the manifest gets the ceilings measured in this run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("first", nargs="*", help="labs to record before the others")
    p.add_argument("--budget", type=float, default=480, help="seconds; no lab starts after this")
    p.add_argument("--only", action="store_true", help="record the named labs and no others")
    args = p.parse_args(argv)
    sink = os.environ.get("PERFLAB_RESULTS")
    if not sink:
        print("set PERFLAB_RESULTS to the results file to write", file=sys.stderr)
        return 2
    import perflab as pl
    from perflab import results
    unknown = sorted(set(args.first) - set(pl.list_labs()))
    if unknown:
        print(f"unknown lab(s) {unknown}: see perflab.list_labs()", file=sys.stderr)
        return 2
    names = list(dict.fromkeys([*args.first, *([] if args.only else pl.list_labs())]))
    ceil = pl.ceilings()
    print(ceil, flush=True)
    t0 = time.monotonic()
    done, failed = [], []
    for name in names:
        if time.monotonic() - t0 > args.budget:
            print(f"budget of {args.budget:.0f} s spent: not run: {', '.join(n for n in names if n not in done + failed)}")
            break
        t = time.monotonic()
        try:
            r = pl.run(name)
            print(r, flush=True)
            done.append(name)
            print(f"[{name}: {time.monotonic() - t:.1f} s]", flush=True)
        except Exception as exc:                      # one broken lab must not lose the others
            failed.append(name)
            print(f"[{name}: FAILED after {time.monotonic() - t:.1f} s: {type(exc).__name__}: {exc}]", flush=True)
    if os.path.exists(sink):
        results.add_ceilings(sink, ceil)
    records = results.read(sink)[1] if os.path.exists(sink) else []
    print(f"recorded {len(done)} labs ({len(records)} records) in {time.monotonic() - t0:.0f} s; "
          f"failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
