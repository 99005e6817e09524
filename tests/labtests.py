"""What the tests know about every lab (baseline, a second odd size, CPU-checkable GPU variants) and helpers."""
from __future__ import annotations

import dataclasses
import functools
import socket
import time

import torch

import perflab as pl
from perflab import peaks
from perflab.lab import info
from perflab.runner import availability

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# lab -> (its baseline, a second small size: aligned to no block or tile size, unlike the first CPU size)
LABS = {
    "ch00.scale_shift": ("two_kernels", 250_007),
    "ch01.train_loop": ("stalled", (23, 45)),
    "ch02.cache_ladder": ("torch_expand_sum", (5_001, 3)),
    "ch03.h2d_copy": ("pageable", 4_099),
    "ch04.ring_allreduce": ("reduce_broadcast", (5, 1_001)),
    "ch05.transforms": ("python_loop", 67),
    "ch06.first_kernel": ("torch_saxpy", 4_099),
    "ch06.block_sweep": ("cuda_32", 4_099),
    "ch06.triton_sweep": ("b32_w1", 4_099),
    "ch06.unified_memory": ("managed_fault", 5_003),
    "ch07.copy_ladder": ("strided_32", 33_331),
    "ch07.aos_soa": ("triton_aos", 5_003),
    "ch07.matmul_ladder": ("cuda_naive_uncoalesced", 67),
    "ch07.transpose": ("cuda_naive", (97, 45)),
    "ch07.saxpy2d": ("column_walk", (131, 67)),
    "ch08.ilp_stream": ("cuda_ilp1", 4_099),
    "ch08.fma_ilp": ("cuda_ilp1", (1_031, 48)),
    "ch08.divergence": ("cuda_divergent", (777, 24)),
    "ch08.launch_bounds": ("cuda_default", (9_001, 16)),
    "ch09.attention_prefill": ("eager", (1, 2, 37, 32, 1)),
    "ch09.attention_decode": ("eager", (2, 2, 133, 32)),
    "ch09.l2norm": ("eager_chain", (37, 9_001)),       # row labs: wider than one program
    "ch09.softmax": ("eager_chain", (37, 9_001)),
    "ch09.layernorm": ("eager_chain", (37, 9_001)),
    "ch09.rmsnorm": ("eager_chain", (37, 9_001)),
    "ch09.precision_ladder": ("fp32", (67, 45, 33)),
    "ch09.sparse24": ("dense", (37, 44, 92)),           # K a multiple of 4: 2:4 groups K in fours
    "ch10.stages": ("stages_1", (37, 51, 29)),
    "ch10.tile_order": ("row_major", (101, 75, 45)),
    "ch10.persistent": ("launch_per_task", (23, 1_037)),
    "ch10.cluster": ("cuda_block_per_row", (7, 3_001)),
    "ch10.tma_matmul": ("stages_3", (45, 24, 88)),      # N, K multiples of 8 (TMA's rule), not 16
    "ch11.overlap": ("serial", 5_003),
    "ch11.threads": ("serial", 70_001),
    "ch11.alloc_loop": ("cuda_malloc", 9_999),
    "ch12.launch_bound": ("eager", 9),
    "ch12.skewed_queue": ("static_split", (3_079, 2, 1)),
    "ch12.atomic_batch": ("lane_1", (3_079, 2, 1)),
    "ch12.book_queue": ("cuda_static", (2_311, 3)),
    "ch13.train_step": ("baseline", (3, 61, 52)),
    "ch13.checkpointing": ("store_all", (2, 29, 52)),
    "ch14.graph_breaks": ("eager", (37, 29, 45)),
    "ch14.triton_matmul": ("torch_matmul", (67, 45, 113)),
    "ch14.exercise": ("starter", (37, 101)),
    "ch15.decode_linear": ("one_token_at_a_time", 19),
    "ch15.greedy_verify": ("row_by_row", (7, 3, 509)),
    "ch15.speculative": ("target_only", (3, 21)),
    "ch15.moe_layer": ("expert_loop", (67, 40, 88, 13, 3, 0.5)),
    "ch15.spec_trained": ("target_only", (7, 23)),
    "ch16.kv_cache": ("no_cache", (3, 97, 4)),
    "ch16.prefix_caching": ("recompute", (4, 83, 7)),
    "ch16.cuda_graph_decode": ("eager", (45, 11)),
    "ch17.kv_relayout": ("per_head_copies", (3, 53, 5, 24)),
    "ch18.kv_transfer": ("per_page_16", (1_237, 192)),  # tokens not a multiple of 16 or 128
    "ch18.kv_to_host": ("per_page_16", (1_237, 192)),
    "ch18.paged_decode": ("gather_sdpa", (5, 37, 2, 64, 16)),
    "ch19.w8_gemv": ("bf16_weights", (2, 131, 77)),
    "ch19.decode_precision": ("bf16", (160, 2, 23)),
    "ch19.decode_graph": ("eager", (160, 2, 23)),
    "ch20.candidates": ("torch_matmul", (33, 71, 150)),
}

# variants the runner keeps for a GPU (to time them there) whose arithmetic also runs on a CPU: checked here too
CPU_TOO = {
    "ch03.h2d_copy": {"pageable", "pinned_async", "staged"},           # host to host copies on a CPU
    "ch06.unified_memory": {"explicit_copy"},
    "ch09.precision_ladder": {"tf32", "fp16", "fp8", "ch09_fp8_forgets_a_scale"},     # emulated on a CPU
    "ch18.kv_to_host": {"per_page_16", "collated_128", "gather_then_copy"},
}

# labs whose variants copy: they must match the reference bit for bit, whatever the dtype's tolerance
EXACT = {"ch17.kv_relayout", "ch18.kv_transfer", "ch18.kv_to_host"}

# variants that are wrong on purpose: the lesson is that the gate refuses a fast shortcut
WRONG_ON_PURPOSE = {("ch20.candidates", "triton_skips_half_k"), ("ch20.candidates", "triton_drops_k_tail")}

# variants checked at the first CPU size only (another shape would compile again: ~10 s on 2 cores)
ONE_SIZE = {("ch12.launch_bound", "compiled"), ("ch13.train_step", "compiled")}

# (lab, variant, dtype) -> what the variant's refusal says (flash and cuDNN attention take 16-bit inputs only)
REFUSES = {(lab, v, "float32"): "bfloat16 or float16"
           for lab in ("ch09.attention_prefill", "ch09.attention_decode") for v in ("sdpa_flash", "sdpa_cudnn")}


# lab -> its planted bugs: wrong variants in tests/bugs_*.py, registered there with @planted_in(lab, ...)
PLANTED: dict[str, list] = {}


def planted_in(*labs: str):
    """Register a planted bug for the labs it must fail in (the contract test runs each through the gate)."""
    def register(bug):
        for lab in labs:
            PLANTED.setdefault(lab, []).append(bug)
        return bug
    return register


def runnable(fn) -> str | None:
    """None when this machine can run the variant (the runner's own rule), else why not."""
    runs, _, why = availability(fn, pl.env())
    return None if runs else why


def sizes_of(name: str) -> list:
    """The lab's first CPU size and its second, odd one."""
    return [pl.load(name).SIZES["cpu"][0], LABS[name][1]]


def here(name: str, fn):
    """(fn as the runner should check it here, None) or (None, why it cannot run here)."""
    why = runnable(fn)
    if why is None:
        return fn, None
    if DEVICE == "cpu" and fn.__name__ in CPU_TOO.get(name, ()):
        return relabel(fn, needs=()), None
    return None, why


def relabel(fn, **changes):
    """The same function under other variant metadata (``needs=()``, ``tol=0.05``): fn itself is untouched."""
    @functools.wraps(fn)
    def same(**inputs):
        return fn(**inputs)
    same.perflab = dataclasses.replace(info(fn), **changes)
    return same


def fake_ceilings(monkeypatch) -> None:
    """Stand-in measured ceilings (10 GB/s copy, 0.1 TFLOP/s in float32) where the ceilings are not under test."""
    fake = peaks.Ceilings(device="test", device_key="test", tier="cpu", copy_gbps=10.0, matmul_tflops={"float32": 0.1})
    monkeypatch.setattr(peaks, "ceilings", lambda **k: fake)


def lower_offline(script: str, timeout: float = 180) -> str:
    """Run a script that compiles Triton kernels for real GPUs (no GPU needed); its stdout. Skips the test
    when this Triton has no ptxas; fails with the script's error otherwise."""
    import os
    import subprocess
    import sys

    import pytest
    env = dict(os.environ, PERFLAB_TIER="gpu", TRITON_INTERPRET="0")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if out.returncode != 0 and "ptxas" in out.stderr.lower() and "not found" in out.stderr.lower():
        pytest.skip("this Triton has no ptxas")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0, proc=None) -> None:
    """Wait until a server accepts connections on ``port``; fail early if its process ``proc`` exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"the server exited with code {proc.returncode} before listening on {port}: {said}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f} s")
