"""`make workbook`: execute every notebook headless on this machine's tier, with timings and results."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from perflab.paths import REPO

SKIP_TAGS = {"skip-execution", "nbval-skip"}


def execute(path: Path, out_dir: Path, timeout_s: int = 600, verbose: bool = False) -> dict:
    """Execute one notebook (cells tagged skip-execution are left out); save the executed copy."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and SKIP_TAGS & set(cell.metadata.get("tags", [])):
            cell.source = "# skipped by perflab.workbook (tagged skip-execution)\n" + \
                          "\n".join("# " + line for line in cell.source.splitlines())
    t0 = time.perf_counter()
    error = None

    def started(cell, cell_index, **_):
        if verbose:
            first = (cell.source.strip().splitlines() or [""])[0][:60]
            print(f"  {time.perf_counter() - t0:7.1f} s  {path.stem} cell {cell_index}: {first}", flush=True)
    try:
        NotebookClient(nb, timeout=timeout_s, kernel_name="python3", on_cell_start=started,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:500]
    except Exception as exc:                    # timeouts, dead kernels
        error = f"{type(exc).__name__}: {exc}"[:500]
    seconds = time.perf_counter() - t0
    nbformat.write(nb, out_dir / path.name)
    return {"notebook": path.name, "seconds": round(seconds, 2), "ok": error is None, "error": error}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="workbook-out", help="folder for executed notebooks and JSON")
    p.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. ch00 ch07")
    p.add_argument("--timeout", type=int, default=300, help="seconds per cell before it counts as hung")
    p.add_argument("--verbose", action="store_true", help="print each cell as it starts")
    args = p.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    os.environ["PERFLAB_RESULTS"] = str(results_path)      # every lab run in a notebook lands here
    os.environ["PERFLAB_HEADLESS"] = "1"                   # no front end: widgets print text instead
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    if args.only:
        notebooks = [n for n in notebooks if any(n.name.startswith(o) for o in args.only)]
    if not notebooks:
        print("no notebooks matched", file=sys.stderr)
        return 2
    from perflab.results import manifest
    timings, man = [], manifest()
    for nb in notebooks:
        r = execute(nb, out, args.timeout, args.verbose)
        timings.append(r)
        print(f"{'ok ' if r['ok'] else 'ERR'} {r['seconds']:8.1f} s  {r['notebook']}"
              + (f"  {r['error']}" if r["error"] else ""), flush=True)
        (out / "timings.json").write_text(json.dumps(         # rewritten after each notebook
            {"manifest": man, "notebooks": timings, "total_s": round(sum(t["seconds"] for t in timings), 1)},
            indent=1))
    print(f"total {sum(t['seconds'] for t in timings):.1f} s; executed notebooks, timings.json and "
          f"results.json in {out}")
    return 0 if all(t["ok"] for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
