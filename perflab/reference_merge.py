"""Fold one run's results file (e.g. a workbook run on the H200 or H100) into a committed reference.

Every lab the run measured replaces all of that lab's old records (one run's baseline for every speedup);
the run is added to the manifest's ``runs`` (once: a retry replaces its own entry); labs that now have
records leave the target's pending list (see ``reference_check.pending_path``); sidecar tables the
notebooks wrote beside the results (``chNN_*.json``) are copied in as ``<name>-<device>.json``.
Everything is read and checked before the first file is written; each write is atomic.

    python -m perflab.reference_merge wb/results.json --how "perflab.workbook --only ch10 ch11"
    python -m perflab.reference_merge h100/results.json --into data/reference/nvidia-h100.json --how "..."
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from perflab import results
from perflab.reference_check import pending_path as _pending_for, read_pending


def family_key(device_key: str) -> str:
    """The reference file name a device's runs go to: 'nvidia-h100-80gb-hbm3' -> 'nvidia-h100'."""
    if not device_key.startswith("nvidia-"):
        raise ValueError(f"a run on {device_key!r} is not a GPU reference run; pass --into to say which "
                         f"reference file it belongs to")
    return "-".join(device_key.split("-")[:2])


def _run_entry(run_manifest: dict, labs: list[str], how: str) -> dict:
    entry = {"labs": ", ".join(labs), "how": how, "date": run_manifest.get("date"),
             "commit": run_manifest.get("commit")}
    c = run_manifest.get("ceilings") or {}
    if c:
        if not isinstance(c, dict) or not isinstance(c.get("matmul_tflops", {}), dict):
            raise ValueError("the run's manifest field 'ceilings' should be an object with 'copy_gbps' and "
                             "'matmul_tflops'")
        # the ceilings this run's records were scored against (reference_check reads them per lab)
        entry["ceilings"] = {k: v for k, v in c.items() if k.endswith("_gbps") or k == "matmul_tflops"}
    return entry


def _same_run(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("labs", "date", "commit"))


def _check_device(run_manifest: dict, into: Path, ref_manifest: dict | None) -> None:
    """A run measured on one GPU family must not land in another's reference."""
    run_key = run_manifest.get("device_key")
    want = (ref_manifest or {}).get("device_key") or into.stem
    if run_key and want and (ref_manifest or into.stem.startswith("nvidia-")):
        if not (run_key == want or run_key.startswith(want + "-") or want.startswith(run_key + "-")):
            raise ValueError(f"the run was measured on {run_key!r} but {into} is the reference of {want!r}; "
                             f"pass --into data/reference/{family_key(run_key)}.json")


def _new_pending(manifest: dict) -> dict:
    from perflab.lab import list_labs
    device = manifest.get("device") or manifest.get("device_key") or "this device"
    return {name: f"no {device} run has measured it yet" for name in list_labs()}


def merge_run(run_path: "str | Path", into: "str | Path", how: str, pending_path: "Path | None" = None) -> dict:
    """Merge; return a summary {labs, records, sidecars, left_pending}. ``pending_path`` defaults to the
    pending list of ``into`` (reference_check.pending_path)."""
    if not isinstance(how, str) or not how.strip():
        raise ValueError("say how the run was made (--how 'perflab.workbook --only ch10'): it is kept in "
                         "the manifest")
    run_path, into = Path(run_path), Path(into)
    pending_path = _pending_for(into) if pending_path is None else Path(pending_path)

    # ---- read and check everything first ----
    run_manifest, run_records = results.read(run_path)
    if not run_records:
        raise ValueError(f"{run_path} has no records: nothing to merge")
    with results.lock(into):
        ref_manifest, ref_records = results.read(into) if into.exists() else (None, [])
        _check_device(run_manifest, into, ref_manifest)
        ref_manifest = dict(run_manifest) if ref_manifest is None else ref_manifest
        runs = ref_manifest.get("runs", [])
        if not isinstance(runs, list):
            raise ValueError(f"{into}: manifest field 'runs' should be a list, got {type(runs).__name__}")
        labs = sorted({r.lab for r in run_records})
        entry = _run_entry(run_manifest, labs, how)
        ref_manifest["runs"] = [r for r in runs if not (isinstance(r, dict) and _same_run(r, entry))] + [entry]
        merged = [r for r in ref_records if r.lab not in labs] + run_records
        pending = read_pending(pending_path) if pending_path.exists() else None
        if pending is None and ref_records == []:
            pending = _new_pending(ref_manifest)      # a new reference: every lab starts out pending
        left = None if pending is None else {k: v for k, v in pending.items() if k not in labs}
        device_key = ref_manifest.get("device_key") or into.stem
        sidecars = []
        for side in sorted(run_path.parent.glob("ch[0-9][0-9]_*.json")):
            text = side.read_text(encoding="utf-8")
            try:
                json.loads(text)
            except ValueError as e:
                raise ValueError(f"{side} (a sidecar table beside the run) is not valid JSON ({e})") from None
            sidecars.append((into.parent / f"{side.stem}-{device_key}.json", text))
        text = results._payload(merged, ref_manifest)

        # ---- then write, each file atomically ----
        results.atomic_write_text(into, text)
    if left is not None:
        with results.lock(pending_path):
            results.atomic_write_text(pending_path, json.dumps(left, indent=1, ensure_ascii=False) + "\n")
    for target, side_text in sidecars:
        results.atomic_write_text(target, side_text)
    return {"labs": labs, "records": len(run_records), "sidecars": [t.name for t, _ in sidecars],
            "left_pending": sorted(left) if left is not None else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="the run's results.json")
    ap.add_argument("--into", default=None,
                    help="the reference file to update (default: data/reference/<the run's GPU>.json, "
                         "e.g. nvidia-h200.json or nvidia-h100.json)")
    ap.add_argument("--how", required=True, help="how the run was made (command line), kept in the manifest")
    args = ap.parse_args(argv)
    try:
        into = args.into
        if into is None:
            key = results.read(args.results)[0].get("device_key") or ""
            into = str(results.reference_path(family_key(key)))
        summary = merge_run(args.results, into, args.how)
    except (ValueError, FileNotFoundError) as e:
        print(f"reference_merge: {e}", file=sys.stderr)
        return 2
    pending = summary["left_pending"]
    print(f"merged {summary['records']} records of {len(summary['labs'])} labs into {into}; "
          f"sidecars: {summary['sidecars'] or 'none'}; "
          f"still pending: {'no pending list' if pending is None else len(pending)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
