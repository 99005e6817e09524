"""Launch kv_handoff.py under torchrun from the notebook, read its JSON, and show it as a perflab Table.

    res = handoff.measure()     # NCCL between 2 GPUs; gloo between 2 CPU processes on any other machine
    pl.show(handoff.table(res))

Reuses Chapter 4's launcher pieces (labs/ch04_distributed/launch.py): the child environment (NCCL's NVLink
multicast off, the repo on PYTHONPATH) and the GPU count. The 2×H200 reference is the "ch17" entry of
data/reference/nvidia-h200x2.json, written on a 2-GPU machine by
``python -m labs.ch17_disaggregation.handoff --reference`` (other entries of that file are kept).
"""
from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from labs.ch04_distributed.launch import REFERENCE
from perflab.distributed import gpu_count, run_torchrun
from perflab.table import Table

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPT = HERE / "kv_handoff.py"


@dataclass(frozen=True)
class HandoffRow:
    """One prompt's KV sent from the prefill worker to the decode worker (times: the slower rank's)."""
    # what moved: prompt tokens, KV bytes and the KV shape (layers, K/V, heads, tokens, head dim)
    prompt: int
    bytes: int
    shape: tuple
    # transfer time in seconds (median and the p20–p80 band) and the bandwidth it reached
    median_s: float
    p20_s: float
    p80_s: float
    gbps: float
    # did the bytes arrive intact (SHA-256), and did the decode worker decode the same tokens from them
    bit_exact: bool
    tokens_equal: bool
    decoded: tuple


@dataclass(frozen=True)
class Handoff:
    """A 2-process KV handoff (measure() here, or the 2×H200 reference): where it ran and a row per prompt."""
    # where: the process group's backend, the device, the model and its KV bytes per token
    backend: str
    device: str
    world_size: int
    dtype: str
    model: str
    kv_bytes_per_token: int
    # the whole run's wall time (s) and a row per prompt length
    wall_s: float
    rows: tuple

    @classmethod
    def from_json(cls, data: dict) -> "Handoff":
        """The JSON kv_handoff.py writes (and the reference file keeps) as a Handoff."""
        rows = tuple(HandoffRow(**{**r, "shape": tuple(r["shape"]), "decoded": tuple(r["decoded"])})
                     for r in data["rows"])
        return cls(**{**data, "rows": rows})

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def measure(timeout_s: int = 240, verbose: bool = True) -> Handoff | None:
    """Run the handoff in 2 processes; return what it measured, or None (and one line saying why)."""
    device = "cuda" if gpu_count() >= 2 else "cpu"
    if verbose and gpu_count() == 1:
        print("1 GPU: NCCL needs 2 GPUs, so the handoff runs between 2 CPU processes (gloo) with the tiny model; "
              "the 2×H200 reference below shows NVLink")
    raw = run_torchrun(SCRIPT, ["--device", device], timeout_s=timeout_s, verbose=verbose)
    res = None if raw is None else Handoff.from_json(raw)
    if res is not None and verbose:
        print(f"2 processes, backend {res.backend} on {res.device}, {res.model} ({res.dtype}), "
              f"measured in {res.wall_s:.1f} s")
    return res


def reference() -> Handoff | None:
    """The 2×H200 handoff, or None when it has not been recorded yet."""
    if not REFERENCE.exists():
        return None
    data = json.loads(REFERENCE.read_text()).get("ch17")
    return Handoff.from_json(data) if data else None


def best_gbps(res: Handoff | None) -> float | None:
    """The bandwidth of the largest transfer (the link's bandwidth, not its latency)."""
    return max(res.rows, key=lambda r: r.bytes).gbps if res and res.rows else None


def _size(b: float) -> str:
    return f"{b / 2**20:.2f} MiB" if b >= 2**20 else f"{b / 1024:.0f} KiB"


def table(res: Handoff | None) -> Table:
    """Per prompt: KV bytes, transfer time, GB/s, bit-exact, decode agreement; the 2×H200 pair beside it."""
    ref_run = reference()
    ref = {r.prompt: r for r in (ref_run.rows if ref_run else ())}
    rows = []
    for r in (res.rows if res else ()):
        rows.append([r.prompt, _size(r.bytes), f"{r.median_s * 1e3:.3f}",
                     f"{r.p20_s * 1e3:.3f}–{r.p80_s * 1e3:.3f}", f"{r.gbps:.2f}",
                     "✅" if r.bit_exact else "❌", "✅" if r.tokens_equal else "❌"])
    for p, r in ref.items():
        rows.append([f"{p} (2×H200)", _size(r.bytes), f"{r.median_s * 1e3:.3f}", "—", f"{r.gbps:.1f}",
                     "✅" if r.bit_exact else "❌", "✅" if r.tokens_equal else "❌"])
    who = f"{res.backend}, {res.device}, {res.model} {res.dtype}" if res else "not measured here"
    notes = ["bit-exact: SHA-256 of the received bytes equals the sender's; decode: the decode worker's next "
             "tokens from the received KV equal the prefill worker's from its own",
             "median of the slower rank per transfer, after 2 warm-up transfers"]
    notes.append("2×H200 rows: data/reference/nvidia-h200x2.json (key ch17)" if ref else
                 "no 2×H200 reference recorded yet (python -m labs.ch17_disaggregation.handoff --reference on 2 GPUs)")
    return Table(["prompt tokens", "KV bytes", "time ms", "p20–p80 ms", "GB/s", "bit-exact", "decode agrees"], rows,
                 title=f"KV handoff, prefill worker → decode worker · yours: {who}", notes=notes)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="record the 2-GPU KV handoff reference for Chapter 17")
    ap.add_argument("--reference", action="store_true", help=f"add key ch17 to {REFERENCE.relative_to(REPO)}")
    a = ap.parse_args(argv)
    res = measure()
    if res is None:
        return 1
    print(table(res))
    if a.reference:
        from perflab.results import manifest
        data = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {"manifest": manifest(), "records": []}
        data["ch17"] = res.to_json()
        REFERENCE.write_text(json.dumps(data, indent=1) + "\n")
        print("wrote key ch17 of", REFERENCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
