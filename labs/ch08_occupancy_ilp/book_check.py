"""Chapter 8's book check: the book's occupancy, ILP, dual-issue and divergence claims vs our measurements."""
from __future__ import annotations


from perflab import book, results
from perflab.table import Table

from labs.ch08_occupancy_ilp import sweep

WHY = {
    "warps": "the warps needed depend on the latency to hide and the work per warp (Little's law), not on "
             "ILP alone: a dependent FMA waits a few cycles, a load hundreds of nanoseconds",
    "ilp": "a chain waits one FMA latency per step; once each scheduler has about latency-many independent "
           "FMAs to issue, more chains add registers, not speed",
    "occupancy": "it depends on ILP: compare the heat map's ILP-1 row with its ILP-8 row; what saturates is "
                 "warps × bytes in flight per warp",
    "dual": "since Volta a scheduler issues at most one warp-instruction per cycle (NVIDIA's SM descriptions; "
            "not in the book), so issue per scheduler tops out at 1.0 and SM IPC at 4; FFMA-only code at "
            "peak sits at 1.0",
    "divergence": "a two-way split runs both paths, so the divergent kernel does ~2× the issue work of the "
                  "sorted one; the sorted variant also pays for its sort",
}


def sm_clock_ghz() -> float | None:
    """This GPU's maximum SM clock read through NVML, in GHz; None where it cannot be read."""
    from perflab.machine import nvml_facts
    mhz = nvml_facts().get("sm_clock_mhz")
    return mhz / 1e3 if mhz else None


def _warps(maps, ilp) -> str:
    parts = []
    for hm in maps:
        if hm is None:
            continue
        w = hm.warps_to_reach(0.8).get(ilp)
        kind = "stream" if "stream" in hm.lab else "FMA"
        parts.append(f"{kind} {w:g}" if w else f"{kind} >{max(hm.warps.values()):g}")
    return ", ".join(parts) or "—"


def _fmt(v, spec="{:.2f}×"):
    return "—" if v is None else spec.format(v)


def _ilp_text(records) -> str:
    steps = [("cuda_ilp1", "cuda_ilp2"), ("cuda_ilp2", "cuda_ilp4"), ("cuda_ilp4", "cuda_ilp8")]
    vals = [book.ratio(records, "ch08.fma_ilp", a, b) for a, b in steps]
    if all(v is None for v in vals):
        return "—"
    return ", ".join(f"{b[-1]}/{a[-1]}: {_fmt(v)}" for (a, b), v in zip(steps, vals))


def _issue_rate(records, sms, clock_ghz) -> float | None:
    """FFMA warp-instructions per scheduler per cycle implied by the best FMA TFLOP/s."""
    best = max((r.tflops for r in records if r.lab == "ch08.fma_ilp" and r.tflops), default=None)
    if not best or not sms or not clock_ghz:
        return None
    return best * 1e12 / (sms * 4 * 32 * 2 * clock_ghz * 1e9)


def _stream_row(hm) -> str:
    if hm is None:
        return "—"
    row = [hm.values.get((t, 1)) for t in hm.threads]
    if not all(row):
        return "—"
    return " → ".join(f"{hm.warps[(t, 1)] / hm.max_warps:.0%}: {v:,.0f}" for t, v in zip(hm.threads, row)) + " GB/s"


def table(runs: list, maps: list, ncu_issue: float | None = None) -> Table:
    """The claims beside this session's runs (LabRuns of ch08 labs), heat maps and optional ncu issue rate."""
    from perflab.machine import env
    e = env()
    mine, ref = book.records_of(*runs), results.reference("ch08.fma_ilp") + results.reference("ch08.divergence")
    ref_maps = [sweep.reference(lab) for lab in sweep.GRIDS]
    mine_maps = [m for m in maps if m is not None and m.source.startswith("measured")]
    man = results.reference_manifest()
    mine_issue = _issue_rate(mine, e.sms, sm_clock_ghz() if e.tier == "gpu" else None)
    ref_issue = _issue_rate(ref, man.get("sms"), (man.get("sm_clock_mhz") or 0) / 1e3)
    issue_parts = ([f"{mine_issue:.2f} (timing)"] if mine_issue else []) + ([f"{ncu_issue:.2f} (ncu)"] if ncu_issue else [])
    issue_text = ", ".join(issue_parts) or "—"
    stream_mine = next((m for m in mine_maps if "stream" in m.lab), None)
    stream_ref = next((m for m in ref_maps if m is not None and "stream" in m.lab), None)
    rows = [
        ["ILP 1 needs ~48 warps (75% occupancy) to saturate (L3811)", "48 warps",
         _warps(mine_maps, 1), _warps(ref_maps, 1), WHY["warps"]],
        ["2-way ILP: ~32 warps (50%) (L3813)", "32 warps", _warps(mine_maps, 2), _warps(ref_maps, 2), WHY["warps"]],
        ["4-way ILP: ~16 warps (25%) (L3813)", "16 warps", _warps(mine_maps, 4), _warps(ref_maps, 4), WHY["warps"]],
        ["ideal ILP is 2–4 independent operations per thread (L3819)", "2–4", _ilp_text(mine), _ilp_text(ref),
         WHY["ilp"]],
        ["10%→50% occupancy: big gain; 50%→100%: small (L3697–L3699)", "qualitative",
         _stream_row(stream_mine), _stream_row(stream_ref), WHY["occupancy"]],
        ["dual issue: IPC per warp scheduler 1.0 → 1.8 (L3795, L3833)", "1.8", issue_text,
         _fmt(ref_issue, "{:.2f} (timing)"), WHY["dual"]],
        ["a divergent region keeps only part of the warp busy (L3751)", "~50% useful",
         *(_fmt(book.ratio(recs, "ch08.divergence", "cuda_divergent", "cuda_sorted"),
                "divergent takes {:.2f}× the sorted time") for recs in (mine, ref)),
         WHY["divergence"]],
    ]
    return book.table(rows, "Book check · Chapter 8 occupancy, ILP and divergence", f"yours ({e.device})", notes=[
        "warps rows: fewest resident warps per SM reaching 80% of the best cell of each heat map",
        "issue rate (timing) = best FMA TFLOP/s ÷ (SMs × 4 schedulers × 32 lanes × 2 FLOP × max SM clock), the clock "
        "read through NVML: here, and in the reference manifest ('—' until a run records it)",
        "'—' under yours: the CUDA C kernels need a GPU with CuPy"])
