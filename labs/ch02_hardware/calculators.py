"""Chapter 2's arithmetic: moving bytes over links, the NVL72 rack, and tensor-core precision ratios.

Link figures are the book's (line numbers in SOURCE); where the book gives no latency we say so and use 0.
Units: GB/s = 1e9 bytes/s, TB/s = 1e12 bytes/s.
"""
from __future__ import annotations

from dataclasses import dataclass

from perflab.calc import transfer_seconds
from perflab.validate import calculator_inputs

# name -> (GB/s per direction per GPU, latency in µs or None, source)
LINKS = {
    "PCIe Gen5 x16": (64, None, "L453 (~64 GB/s one way)"),
    "PCIe Gen6 x16": (128, None, "L453 (~128 GB/s)"),
    "NVLink-C2C (Grace↔Blackwell)": (900, None, "L453 (~900 GB/s)"),
    "NVLink 4 (Hopper, H100)": (900, None, "L215, L599 (half of NVLink 5)"),
    "NVLink 5 (NVL72, per GPU)": (1800, 1.5, "L597, L635 (1.8 TB/s; 1–2 µs)"),
    "InfiniBand (per GPU, low)": (20, 7.5, "L635 (20–80 GB/s; 5–10 µs)"),
    "InfiniBand (per GPU, high)": (80, 7.5, "L635 (20–80 GB/s; 5–10 µs)"),
    "NIC port (800 Gb/s class)": (100, None, "L637 (50–100 GB/s per port)"),
}


def move_seconds(nbytes: float, link: str) -> float:
    gbps, lat_us, _ = LINKS[link]
    return transfer_seconds(nbytes, gbps, (lat_us or 0) * 1e-6)


def _t(s: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:,.3g} {unit}"
    return f"{s * 1e9:,.3g} ns"


@calculator_inputs(signed="latency_us")
def explain_move(megabytes=64.0, link="NVLink 5 (NVL72, per GPU)", latency_us=-1.0) -> str:
    """Time = latency + bytes / bandwidth. latency_us < 0: use the book's latency for that link (0 if none)."""
    gbps, lat, src = LINKS[link]
    lat = (lat or 0.0) if latency_us < 0 else latency_us
    t = transfer_seconds(megabytes * 1e6, gbps, lat * 1e-6)
    half = lat * 1e-6 * gbps * 1e9                      # message size at which latency = transfer time
    tail = (f"; latency and bandwidth cost the same at {half / 1e3:,.1f} KB" if half else
            "; no latency given, so this is the bandwidth term alone")
    return f"{megabytes:g} MB over {link} ({gbps} GB/s, {lat:g} µs; {src}): {_t(t)}{tail}"


def links_table(sizes=(4e3, 1e6, 64e6, 1e9)):
    from perflab.table import Table
    rows = [[name, f"{g:,}", "—" if lat is None else f"{lat:g}"] + [_t(move_seconds(b, name)) for b in sizes] + [src]
            for name, (g, lat, src) in LINKS.items()]
    heads = ["link", "GB/s", "latency µs"] + [f"move {_bytes(b)}" for b in sizes] + ["book"]
    return Table(heads, rows, title="How long to move X bytes: latency + bytes / bandwidth",
                 notes=["'—' latency: the book gives none; 0 is used, so small messages are optimistic there",
                        "InfiniBand uses the middle of the book's 5–10 µs; NVLink 5 the middle of 1–2 µs"])


def _bytes(b: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= scale:
            return f"{b / scale:g} {unit}"
    return f"{b:g} B"


# ---- the NVL72 rack -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rack:
    """An NVLink rack's totals: NVLink per GPU (GB/s), over the rack (TB/s), and HBM (GB)."""
    nvlink_per_gpu_gbps: float
    rack_nvlink_tbps: float
    rack_hbm_gb: float


def nvl72(gpus=72, links_per_gpu=18, gb_s_per_link=100, hbm_gb=192) -> Rack:
    per_gpu = links_per_gpu * gb_s_per_link
    return Rack(nvlink_per_gpu_gbps=per_gpu, rack_nvlink_tbps=gpus * per_gpu / 1e3, rack_hbm_gb=gpus * hbm_gb)


@calculator_inputs(positive="gpus links_per_gpu gb_s_per_link hbm_gb")
def explain_nvl72(gpus=72, links_per_gpu=18, gb_s_per_link=100, hbm_gb=192) -> str:
    r = nvl72(gpus, links_per_gpu, gb_s_per_link, hbm_gb)
    return (f"{links_per_gpu} links × {gb_s_per_link} GB/s = {r.nvlink_per_gpu_gbps / 1e3:g} TB/s per GPU; "
            f"× {gpus} GPUs = {r.rack_nvlink_tbps:,.1f} TB/s; HBM {gpus} × {hbm_gb} GB = {r.rack_hbm_gb:,} GB")


# ---- precision ratios ----------------------------------------------------------------------------------

PRECISIONS = ("float32", "tf32", "float16", "bfloat16", "float8")


def precision_table(mine, ref, datasheet: dict | None = None):
    """Matmul TFLOP/s per precision (from Ceilings) and the ratio to float16, here, on the H200, and on paper."""
    from perflab.table import Table
    if datasheet is None:
        datasheet = (ref.datasheet or {}).get("matmul_tflops", {}) if ref else {}

    def cols(tf: dict):
        base = tf.get("float16") or tf.get("bfloat16")
        out = {}
        for p in PRECISIONS:
            v = tf.get(p)
            out[p] = ("—" if v is None else f"{v:,.3g}", "—" if not (v and base) else f"{v / base:.2f}×")
        return out

    m = cols(mine.matmul_tflops if mine else {})
    r = cols(ref.matmul_tflops if ref else {})
    d = cols(datasheet)
    rows = [[p, *m[p], *r[p], *d[p]] for p in PRECISIONS]
    dev = mine.device if mine else "this device"
    return Table(["precision", f"TFLOP/s ({dev})", "vs fp16", "H200 measured", "vs fp16", "H200 datasheet", "vs fp16"],
                 rows, title="Tensor-core throughput by precision (matmul, from pl.ceilings)",
                 notes=["book L525: FP8 about doubles FP16 throughput, FP4 may double FP8 again (FP4 needs Blackwell)",
                        "vs fp16: the ratio to float16, or to bfloat16 where float16 was not measured", "'—': not measured on that device (no fp8 matmul before sm_89; a CPU has no tensor cores)"])
