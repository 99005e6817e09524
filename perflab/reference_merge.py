"""Fold one run's results file (e.g. a workbook run on the H200) into the committed reference.

Every lab the run measured replaces all of that lab's old records (one run's baseline for every speedup);
the run is added to the manifest's ``runs``; labs that now have records leave ``pending.json``; sidecar
tables the notebooks wrote beside the results (``chNN_*.json``) are copied in as ``<name>-<device>.json``.

    python -m perflab.reference_merge wb/results.json --how "perflab.workbook --only ch10 ch11"
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from perflab import results
from perflab.reference_check import PENDING


def merge_run(run_path: "str | Path", into: "str | Path", how: str, pending_path: Path = PENDING) -> dict:
    """Merge; return a summary {labs, records, sidecars, left_pending}."""
    run_manifest, run_records = results.read(run_path)
    into = Path(into)
    ref_manifest, ref_records = results.read(into) if into.exists() else (dict(run_manifest), [])
    labs = sorted({r.lab for r in run_records})
    kept = [r for r in ref_records if r.lab not in labs]
    entry = {"labs": ", ".join(labs), "how": how, "date": run_manifest.get("date"),
             "commit": run_manifest.get("commit")}
    c = run_manifest.get("ceilings") or {}
    if c:
        entry["ceilings"] = {"copy_gbps": round(c.get("copy_gbps", 0)),
                             "matmul_bfloat16_tflops": round(c.get("matmul_tflops", {}).get("bfloat16", 0))}
    ref_manifest.setdefault("runs", []).append(entry)
    results.write(into, kept + run_records, ref_manifest)

    left = None
    if pending_path.exists():
        pending = json.loads(pending_path.read_text())
        left = {k: v for k, v in pending.items() if k not in labs}
        pending_path.write_text(json.dumps(left, indent=1, ensure_ascii=False) + "\n")
    device_key = ref_manifest.get("device_key") or into.stem
    sidecars = []
    for side in sorted(Path(run_path).parent.glob("ch[0-9][0-9]_*.json")):
        target = into.parent / f"{side.stem}-{device_key}.json"
        shutil.copyfile(side, target)
        sidecars.append(target.name)
    return {"labs": labs, "records": len(run_records), "sidecars": sidecars,
            "left_pending": sorted(left) if left is not None else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="the run's results.json")
    ap.add_argument("--into", default=str(results.reference_path()), help="the reference file to update")
    ap.add_argument("--how", required=True, help="how the run was made (command line), kept in the manifest")
    args = ap.parse_args(argv)
    summary = merge_run(args.results, args.into, args.how)
    print(f"merged {summary['records']} records of {len(summary['labs'])} labs into {args.into}; "
          f"sidecars: {summary['sidecars'] or 'none'}; still pending: {len(summary['left_pending'] or [])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
