"""Notebook helpers for the appendix: a telemetry calculator that runs the real checks on a made-up GPU,
and the book-check table."""
from __future__ import annotations

from perflab.audit.core import Facts
from perflab.audit.gpu import THROTTLE_BITS
from perflab.validate import calculator_inputs


def fake_gpu(temperature_c=45, memory_used_pct=10.0, throttle_mask=0, total_mib=143_771, **fields) -> dict:
    """One nvidia-smi row of a healthy H200-like GPU, with the given readings (for teaching and tests)."""
    row = {"index": "0", "name": "made-up GPU", "temperature.gpu": str(temperature_c),
           "memory.used": str(round(total_mib * memory_used_pct / 100)), "memory.total": str(total_mib),
           "clocks_throttle_reasons.active": f"0x{throttle_mask:016x}", "clocks.sm": "1980",
           "clocks.max.sm": "1980"}
    row.update(fields)
    return row


@calculator_inputs()
def telemetry_verdict(temperature_c: int, memory_used_pct: float, throttle_mask: int) -> str:
    """Run the audit's temperature, memory and throttle checks on a made-up GPU with these readings."""
    from perflab.audit import audit
    facts = Facts({"smi": [fake_gpu(temperature_c, memory_used_pct, throttle_mask)]}, live=False)
    a = audit(facts, only=["gpu.temperature", "gpu.memory", "gpu.throttle"])
    lines = [f"{r.result.status:<5} {r.check.id:<16} {r.result.evidence.split(' · ')[0]}" for r in a.rows]
    bits = [f"0x{b:x}={n}" for b, n in THROTTLE_BITS.items() if throttle_mask & b]
    return "\n".join(lines + [f"throttle bits set: {', '.join(bits) or 'none'}"])


def book_check(a=None):
    """The book's checklist claims beside what this audit counts or uses, with why they differ."""
    from perflab.audit import CHECKS, remaining
    from perflab.table import Table
    items = remaining.items()
    read = sum(bool(r["checks"]) for r in items)
    rows = [
        ["checklist size (L8872 title)", "175+ items", f"{len(items)} items in {len(remaining.CATEGORIES)} "
         "categories", "we counted the bold item headings; the title rounds down"],
        ["items a machine can read", "(not stated)", f"{read} items read by {len(CHECKS)} checks",
         "the rest are design or process choices: the table below links their chapters"],
        ["THP (L9061 vs L1151)", "appendix: enable; ch3: on for training, off or madvise for inference",
         "pass for always or madvise", "madvise serves both: only regions that ask get huge pages"],
        ["GPU memory alarm (Table 16-3, L6259–6260)", "warn 80 %, critical 95 %", "warn ≥ 80 %, fail ≥ 95 %",
         "same thresholds, read from nvidia-smi memory.used"],
        ["GPU temperature (Table 16-3, L6261–6262)", "warn 85 °C, critical 95 °C", "warn ≥ 85 °C, fail ≥ 95 °C",
         "same thresholds"],
        ["allocator variable (L1380, L5338)", "PYTORCH_ALLOC_CONF", "reads both names",
         "older torch releases read only PYTORCH_CUDA_ALLOC_CONF"],
        ["ECC off (L1354)", "gains only a few percent", "warn when ECC is off", "not measured here: changing ECC "
         "needs root and a reboot, and the audit never changes the machine"],
    ]
    if a is not None:
        c = a.counts()
        rows.append(["this machine", "—", f"{c['pass']} pass · {c['warn']} warn · {c['fail']} fail · "
                     f"{c['unknown']} unknown · {c['n/a']} n/a", "unknown = not readable here, never guessed; "
                     "n/a = about a GPU this machine lacks"])
    rows.append(["H200 reference machine", "—", _reference_summary(), "the same audit, run once on the H200"])
    return Table(["claim", "book", "ours", "why"], rows, title="Book check · appendix checklist")


REFERENCE = "reference/nvidia-h200-audit.json"


def _reference_summary() -> str:
    """The summary line of the H200 audit stored in data/ (written by `perflab audit --json`)."""
    import json
    from perflab.paths import data_dir
    path = data_dir() / REFERENCE
    if not path.exists():
        return f"not recorded yet (perflab audit --json > data/{REFERENCE} on the H200)"
    c = json.loads(path.read_text())["summary"]
    return f"{c['pass']} pass · {c['warn']} warn · {c['fail']} fail · {c['unknown']} unknown"
