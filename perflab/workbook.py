"""`make workbook`: execute every notebook headless on this machine's tier, with per-notebook and per-cell seconds.

    python -m perflab.workbook --out workbook-out            # the whole workbook, timed
    python -m perflab.workbook --quick --only ch07 ch09      # smallest sizes, short timing windows
    python -m perflab.workbook --core                        # appendix + core notebooks (the 10-minute run)

One notebook runs at a time, so no two notebooks measure the device at once. While a notebook runs,
the next notebook's kernel is already started and has imported perflab and torch (CPU work only, no
CUDA context), so kernel start-up and imports are hidden behind the previous notebook.
Writes the executed notebooks, timings.json (per-notebook seconds, total notebook seconds, wall
seconds, the slowest cells), run.json (the same shape as shared/gpu-runs/*/run.json) and results.json
(every lab record) into --out.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from perflab.paths import REPO

SKIP_TAGS = {"skip-execution", "nbval-skip"}
EXPECTED_ERROR_TAGS = {"raises-exception"}
# Run silently in each kernel as soon as it starts (the previous notebook is still running): only
# imports, no CUDA context. perflab comes first so that it can set TRITON_INTERPRET on a CPU.
WARM_UP = ("try:\n    import perflab, torch, numpy, pandas\n    import triton\nexcept Exception:\n    pass\n")
SLOWEST = 40                                     # cells listed in timings.json / run.json


def prepare(path: Path):
    """Read a notebook and comment out the cells tagged skip-execution."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and SKIP_TAGS & set(cell.metadata.get("tags", [])):
            cell.source = "# skipped by perflab.workbook (tagged skip-execution)\n" + \
                          "\n".join("# " + line for line in cell.source.splitlines())
    return nb


class Kernel:
    """A kernel started ahead of its notebook: a started AsyncKernelManager plus the client that sent
    the warm-up imports (kept open until the notebook's own client takes over)."""

    def __init__(self, path: Path, kernel_name: str = "python3"):
        self.path, self.kernel_name = path, kernel_name
        self.km = self.kc = None

    async def start(self) -> "Kernel":
        from jupyter_client.manager import AsyncKernelManager
        self.km = AsyncKernelManager(kernel_name=self.kernel_name)
        await self.km.start_kernel(cwd=str(self.path.parent))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.warm_up_id = self.kc.execute(WARM_UP, silent=True, store_history=False)   # runs once the kernel is up
        return self

    async def ready(self, timeout_s: float = 180) -> None:
        """Wait until the warm-up imports are done (at once when the previous notebook took longer), then
        close the warm-up client: the notebook's own client takes over."""
        if self.kc is None:
            return
        deadline = time.perf_counter() + timeout_s
        try:
            while time.perf_counter() < deadline:
                msg = await self.kc.get_shell_msg(timeout=max(0.1, deadline - time.perf_counter()))
                if msg.get("parent_header", {}).get("msg_id") == self.warm_up_id:
                    break
        except Exception:                       # noqa: BLE001  (no reply in time: the notebook imports itself)
            pass
        self.kc.stop_channels()
        self.kc = None

    async def shutdown(self):
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            try:
                if await self.km.is_alive():
                    await self.km.shutdown_kernel(now=True)
            except RuntimeError:
                pass
            finally:
                self.km = None


def cell_errors(nb) -> list:
    """Every code cell that raised (cells tagged raises-exception excepted): index, name, value, source."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or EXPECTED_ERROR_TAGS & set(cell.metadata.get("tags", [])):
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append({"cell": i, "ename": o.get("ename", ""), "evalue": str(o.get("evalue", ""))[:300],
                            "src": cell.source[:200]})
                break
    return out


async def execute(path: Path, out_dir: Path, kernel: Kernel, timeout_s: int = 300, verbose: bool = False,
                  allow_errors: bool = True) -> dict:
    """Execute one notebook in an already started kernel; save the executed copy; return its timings."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    nb = prepare(path)
    await kernel.ready()
    t0 = time.perf_counter()
    starts, cells = {}, []

    def started(cell, cell_index, **_):
        starts[cell_index] = time.perf_counter()
        if verbose:
            first = (cell.source.strip().splitlines() or [""])[0][:60]
            print(f"  {starts[cell_index] - t0:7.1f} s  {path.stem} cell {cell_index}: {first}", flush=True)

    def executed(cell, cell_index, **_):
        if cell_index in starts:
            cells.append({"notebook": path.name, "cell": cell_index,
                          "seconds": round(time.perf_counter() - starts[cell_index], 2),
                          "first_line": (cell.source.strip().splitlines() or [""])[0][:80]})

    client = NotebookClient(nb, km=kernel.km, timeout=timeout_s, kernel_name=kernel.kernel_name,
                            allow_errors=allow_errors, on_cell_start=started, on_cell_executed=executed,
                            resources={"metadata": {"path": str(path.parent)}})
    error = None
    try:
        await client.async_execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:500]
    except Exception as exc:                    # timeouts, dead kernels
        error = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
        await kernel.shutdown()
    seconds = time.perf_counter() - t0
    nbformat.write(nb, out_dir / path.name)
    errors = cell_errors(nb)
    if error is None and errors:
        error = f"cell {errors[0]['cell']}: {errors[0]['ename']}: {errors[0]['evalue']}"
    return {"notebook": path.name, "seconds": round(seconds, 2), "ok": error is None, "error": error,
            "errors": errors, "cells": cells}


async def run_all(notebooks: list, out: Path, args) -> list:
    """Run the notebooks one after another, each in a kernel started while the previous one ran."""
    timings, kernel, upcoming = [], None, Kernel(notebooks[0])
    try:
        await upcoming.start()
        for i, path in enumerate(notebooks):
            if args.budget is not None and time.perf_counter() - args.t0 > args.budget:
                left = [n.name for n in notebooks[i:]]
                print(f"budget of {args.budget:.0f} s spent: not run: {', '.join(left)}", flush=True)
                args.not_run = left
                break
            kernel, upcoming = upcoming, (Kernel(notebooks[i + 1]) if i + 1 < len(notebooks) else None)
            if upcoming is not None:
                await upcoming.start()          # boots and imports while this notebook runs
            try:
                r = await execute(path, out, kernel, args.timeout, args.verbose, not args.stop_on_error)
            except Exception as exc:            # a kernel that never came up: report it, go on
                await kernel.shutdown()
                r = {"notebook": path.name, "seconds": 0.0, "ok": False,
                     "error": f"{type(exc).__name__}: {exc}"[:500], "errors": [], "cells": []}
            timings.append(r)
            print(f"{'ok ' if r['ok'] else 'ERR'} {r['seconds']:8.1f} s  {r['notebook']}"
                  + (f"  {r['error']}" if r["error"] else ""), flush=True)
            yield_timings(out, timings, args)
    finally:                                    # never leave a kernel behind (an interrupt, a crash)
        for k in (kernel, upcoming):
            if k is not None:
                await k.shutdown()
    return timings


def summary(timings: list, wall_s: float, quick: bool, manifest: dict | None = None) -> dict:
    """timings.json: per-notebook seconds, totals, and the slowest cells of the whole run."""
    cells = sorted((c for t in timings for c in t.get("cells", [])), key=lambda c: -c["seconds"])
    return {"manifest": manifest or {}, "quick": quick,
            "notebooks": [{k: v for k, v in t.items() if k != "cells"} for t in timings],
            "total_s": round(sum(t["seconds"] for t in timings), 1), "wall_s": round(wall_s, 1),
            "slowest_cells": cells[:SLOWEST]}


def run_json(timings: list, device: str, quick: bool) -> dict:
    """The run.json shape of shared/gpu-runs: notebooks with status and errors, every cell slowest first."""
    return {"device": device, "how": "python -m perflab.workbook" + (" --quick" if quick else ""),
            "notebooks": [{"notebook": t["notebook"], "seconds": t["seconds"], "status": "ok" if t["ok"] else "error",
                           "errors": t.get("errors", [])} for t in timings],
            "total_notebook_seconds": round(sum(t["seconds"] for t in timings), 1),
            "cells_slowest_first": sorted((c for t in timings for c in t.get("cells", [])),
                                          key=lambda c: -c["seconds"])}


def yield_timings(out: Path, timings: list, args):
    """Rewrite timings.json and run.json after each notebook, so a cut-off run still leaves its numbers."""
    wall = time.perf_counter() - args.t0
    (out / "timings.json").write_text(json.dumps(summary(timings, wall, args.quick, args.manifest), indent=1))
    run = run_json(timings, args.manifest.get("device", ""), args.quick)
    run["not_run"] = list(args.not_run)
    (out / "run.json").write_text(json.dumps(run, indent=1))


PARTS = ("all", "core", "deep")


def select(only: list | None, skip: list | None = None, part: str = "all") -> list:
    """The notebooks to run, in name order (the appendix first, then ch00 … ch20 and their _deep ones).

    part: "core" (the appendix and each chapter's core notebook: the 10-minute GPU run), "deep" (the
    ``*_deep.ipynb`` dives only) or "all".
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS} (core: no *_deep notebooks; deep: only them), got {part!r}")
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    if part != "all":
        notebooks = [n for n in notebooks if n.stem.endswith("_deep") == (part == "deep")]
    if only:
        notebooks = [n for n in notebooks if any(n.name.startswith(o) for o in only)]
    if skip:
        notebooks = [n for n in notebooks if not any(n.name.startswith(s) for s in skip)]
    return notebooks


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="workbook-out", help="folder for executed notebooks and JSON")
    p.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. ch00 ch07")
    p.add_argument("--skip", nargs="*", help="notebook name prefixes to leave out")
    part = p.add_mutually_exclusive_group()
    part.add_argument("--core", dest="part", action="store_const", const="core",
                      help="the appendix and the core notebook of each chapter (no *_deep dives)")
    part.add_argument("--deep", dest="part", action="store_const", const="deep", help="only the *_deep dives")
    p.add_argument("--quick", action="store_true",
                   help="every lab at its smallest size with a short timing window (PERFLAB_QUICK=1)")
    p.add_argument("--timeout", type=int, default=300, help="seconds per cell before it counts as hung")
    p.add_argument("--budget", type=float, help="seconds of wall clock after which no further notebook starts "
                   "(the notebook under way finishes; the rest are listed as not run)")
    p.add_argument("--stop-on-error", action="store_true",
                   help="stop a notebook at its first error (default: run on and list every failing cell)")
    p.add_argument("--verbose", action="store_true", help="print each cell as it starts")
    args = p.parse_args(argv)
    if args.timeout <= 0:
        raise SystemExit(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.budget is not None and args.budget <= 0:
        raise SystemExit(f"--budget must be a positive number of seconds, got {args.budget}")
    args.not_run = []
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["PERFLAB_RESULTS"] = str(out / "results.json")   # every lab run in a notebook lands here
    os.environ["PERFLAB_HEADLESS"] = "1"                       # no front end: widgets print text instead
    if args.quick:
        os.environ["PERFLAB_QUICK"] = "1"                      # read by perflab.quick in every kernel
    else:
        os.environ.pop("PERFLAB_QUICK", None)
    notebooks = select(args.only, args.skip, args.part or "all")
    if not notebooks:
        print(f"no notebooks matched --only {args.only} --skip {args.skip} ({args.part or 'all'} notebooks)",
              file=sys.stderr)
        return 2
    from perflab.results import manifest
    args.t0, args.manifest = time.perf_counter(), manifest()
    print(f"{len(notebooks)} notebooks on {args.manifest.get('device', '?')}"
          + (" (quick: smallest sizes)" if args.quick else ""), flush=True)
    timings = asyncio.run(run_all(notebooks, out, args))
    wall = time.perf_counter() - args.t0
    if (out / "results.json").exists():             # the ceilings every record was scored against (cached)
        import perflab as pl
        from perflab.results import add_ceilings
        add_ceilings(out / "results.json", pl.ceilings())
    yield_timings(out, timings, args)
    s = summary(timings, wall, args.quick)
    print(f"total {s['total_s']:.1f} s of notebooks, {wall:.1f} s wall-clock (kernel start-ups included); "
          f"{sum(not t['ok'] for t in timings)} notebook(s) with errors")
    print("slowest cells:")
    for c in s["slowest_cells"][:10]:
        print(f"  {c['seconds']:7.1f} s  {c['notebook']} cell {c['cell']}: {c['first_line'][:60]}")
    print(f"executed notebooks, timings.json, run.json and results.json in {out}")
    if args.not_run:
        print(f"not run (budget): {', '.join(args.not_run)}")
    return 0 if all(t["ok"] for t in timings) and not args.not_run else 1


if __name__ == "__main__":
    sys.exit(main())
