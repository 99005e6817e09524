"""The perflab command: doctor, list, run LAB, bench, report, ceilings, audit.

Exit codes: 0 all correct; 1 a variant was wrong (or raised) or problems were found; 2 a usage error (a bad
argument or input file, said in one line); 3 perflab or a lab crashed (the traceback is printed).
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import traceback
from dataclasses import asdict

EXIT_CODES = """exit codes:
  0  all correct (doctor: every check passed)
  1  a variant was wrong or raised, or problems were found (doctor, audit)
  2  usage error: a bad argument or input file, said in one line
  3  crash: perflab or a lab failed unexpectedly (the traceback is printed)"""


class UsageError(Exception):
    """A bad argument: the CLI prints its one line and exits 2."""


def _usage(check, *args, **kwargs):
    """Run a validation; its ValueError/TypeError becomes a UsageError (exit 2)."""
    try:
        return check(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def _literal(text: str):
    """--size: a Python literal such as 1000003 or (8191, 8189); anything else is a usage error."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or a tuple of numbers, "
                                         f"e.g. --size 1000003 or --size '(509, 1021)'") from None


def _rep_ms(text: str) -> float:
    from perflab.validate import number
    try:
        return number("--rep-ms", float(text), positive=True)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rep-ms must be a finite number of milliseconds > 0, "
                                         f"e.g. --rep-ms 100; got {text!r}") from None


def _checked_run_args(name, size=None, dtype=None, variants=None):
    """Load the lab and validate every argument before any work (a UsageError names the bad one)."""
    from perflab import validate
    from perflab.lab import load
    lab = _usage(load, name)
    if size is not None:
        _usage(validate.size, lab, size)
    _usage(validate.dtype, lab, dtype)
    _usage(validate.variants, lab, variants)
    return lab


def _doctor(args) -> int:
    from perflab.machine import env
    from perflab import smoke
    e = env()
    print(repr(e))
    ok = True
    for name, (passed, detail) in smoke.run_all(deep=args.deep).items():
        ok &= passed is not False
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[passed]
        print(f"  [{mark}] {name:<14} {detail}")
    if args.ceilings:
        from perflab.peaks import ceilings
        print(ceilings())
    return 0 if ok else 1


def _list(args) -> int:
    from perflab.lab import list_labs, load
    for name in list_labs():
        lab = load(name)
        print(f"{name:<28} {lab.TITLE}   [{', '.join(lab.variant_names())}]")
    return 0


def _run(args) -> int:
    from perflab.runner import run
    lab = _checked_run_args(args.lab, args.size, args.dtype, args.variant or None)
    result = run(lab, size=args.size, dtype=args.dtype, variants=args.variant or None, rep_ms=args.rep_ms)
    print(result)
    if args.out:
        from perflab.results import merge
        merge(args.out, result.records)
    return 0 if all(r.status not in ("wrong", "error") for r in result.rows) else 1


def _bench(args) -> int:
    from perflab import results
    from perflab.peaks import ceilings
    from perflab.lab import list_labs
    from perflab.runner import run
    names = list_labs() if args.all or not args.labs else args.labs
    for name in names:
        _checked_run_args(name)
    c = ceilings(refresh=args.refresh)
    print(c)
    records, bad = [], 0
    for name in names:
        r = run(name, rep_ms=args.rep_ms, record=False)
        print(r, flush=True)
        records += r.records
        bad += sum(row.status in ("wrong", "error") for row in r.rows)
    if args.merge:              # keep other labs' records: a locked read-modify-write
        results.merge(args.out, records)
    else:
        results.write(args.out, records)
    results.add_ceilings(args.out, c)            # the ceilings the records were scored against
    print(f"wrote {len(records)} records to {args.out}" + (f"; {bad} variants wrong or raised" if bad else ""))
    return 1 if bad else 0


def _report(args) -> int:
    from perflab.report import markdown
    text = markdown(args.results)
    if args.out:
        from pathlib import Path
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _ceilings(args) -> int:
    from perflab.peaks import ceilings
    c = ceilings(refresh=args.refresh)
    print(json.dumps(asdict(c), indent=1) if args.json else c)
    return 0


def _audit(args) -> int:
    from perflab.audit import CHECKS, audit, remaining
    if args.list:
        for c in CHECKS:
            print(f"{c.id:<26} ch{c.chapter:02d}  {c.category:<36} {c.title}")
        return 0
    a = audit(only=args.only or None, category=args.category, script=args.script, data_dir=args.data_dir)
    if args.json:
        print(a.to_json())
    else:
        print(a.text())
        if args.items:
            print()
            print(remaining.table())
        else:
            print(f"\n{len(a.remaining)} more checklist items need a person: perflab audit --items lists them")
    return 1 if a.counts()["fail"] else 0


def main(argv=None) -> int:
    with_codes = dict(epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)   # exit codes in --help
    p = argparse.ArgumentParser(prog="perflab", description="perflab: measure GPU performance ideas.", **with_codes)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("doctor", help="what this machine is and which perflab features work here")
    d.add_argument("--deep", action="store_true", help="also try torch.compile and ncu (slower)")
    d.add_argument("--ceilings", action="store_true", help="also show the measured ceilings")
    d.set_defaults(fn=_doctor)
    sub.add_parser("list", help="every lab and its variants").set_defaults(fn=_list)
    r = sub.add_parser("run", help="check and time one lab, print its table", **with_codes)
    r.add_argument("lab", help="e.g. ch07.copy_ladder")
    r.add_argument("--size", type=_literal, help="a Python literal: 1000003 or (8191, 8189); positive ints, "
                                                 "as many as the lab's sizes have")
    r.add_argument("--dtype")
    r.add_argument("--variant", action="append", help="run only these variants (repeatable)")
    r.add_argument("--rep-ms", type=_rep_ms, default=100, help="timing window per variant in ms (default 100)")
    r.add_argument("--out", help="merge the records into this results JSON")
    r.set_defaults(fn=_run)
    b = sub.add_parser("bench", help="run labs (default: all) into a results JSON with a manifest", **with_codes)
    b.add_argument("labs", nargs="*")
    b.add_argument("--all", action="store_true")
    b.add_argument("--out", required=True)
    b.add_argument("--merge", action="store_true", help="keep other labs' records already in --out")
    b.add_argument("--refresh", action="store_true", help="measure the ceilings again")
    b.add_argument("--rep-ms", type=_rep_ms, default=100, help="timing window per variant in ms (default 100)")
    b.set_defaults(fn=_bench)
    rp = sub.add_parser("report", help="a Markdown report of a results file (per lab: %% of ceiling, speedups)")
    rp.add_argument("results", help="e.g. data/reference/nvidia-h200.json")
    rp.add_argument("--out", help="write the Markdown here instead of printing it")
    rp.set_defaults(fn=_report)
    c = sub.add_parser("ceilings", help="this device's measured ceilings (cached)")
    c.add_argument("--refresh", action="store_true")
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=_ceilings)
    a = sub.add_parser("audit", help="read-only check of this machine against the book's appendix checklist")
    a.add_argument("--json", action="store_true", help="print the results as JSON")
    a.add_argument("--only", action="append", help="a check id or prefix such as gpu. (repeatable)")
    a.add_argument("--category", help="only checks whose category contains this text")
    a.add_argument("--script", help="also scan this training script for blocking .to() copies")
    a.add_argument("--data-dir", help="also count small files in this dataset folder")
    a.add_argument("--items", action="store_true", help="also list the checklist items no check can read")
    a.add_argument("--list", action="store_true", help="list the checks and exit")
    a.set_defaults(fn=_audit)
    args = p.parse_args(argv)          # a bad argument exits 2 here with argparse's usage line
    try:
        return args.fn(args)
    except UsageError as exc:
        print(f"perflab {args.cmd}: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError) as exc:
        if args.cmd in ("run", "bench"):   # their arguments were checked up front: this is a crash
            return _crash(args.cmd)
        print(f"perflab {args.cmd}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:
        return _crash(args.cmd)


def _crash(cmd: str) -> int:
    traceback.print_exc()
    print(f"perflab {cmd}: crashed (exit 3): the traceback above is a bug in perflab or a lab, not in "
          f"your command", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
