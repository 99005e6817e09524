"""Chapter 13's book check: the NVTX nesting (L5095–L5101), the ncu command (L5150–L5163), torch.compile's
default mode and CUDA graphs (L5213), the allocator variable (L5338), the FSDP() arguments (L5378), and the
CUDA-graph gain (L4975)."""
from __future__ import annotations

import shlex
import shutil
import subprocess

from perflab import book, results
from perflab.table import Table

# the command as printed (L5150–L5163), joined onto one line
BOOK_NCU = ("ncu --target-processes all --kernel-name-regex \"matmul\" --metrics gpu__time_duration.avg, "
            "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed, lts__throughput.avg.pct_of_peak_sustained_elapsed, "
            "sm__sass_thread_inst_executed_op_fp32_pred_on.sum, sm__warps_active.avg.pct_of_peak_sustained_active "
            "--csv full -o matmul_roofline_report python train.py")
METRICS = ["gpu__time_duration.avg", "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed",
           "lts__throughput.avg.pct_of_peak_sustained_elapsed",
           "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",   # tensor cores (bf16/tf32)
           "sm__warps_active.avg.pct_of_peak_sustained_active"]
FIXED_NCU = ("ncu --target-processes all --kernel-name regex:\"gemm|nvjet|xmma\" --metrics " + ",".join(METRICS)
             + " -o matmul_roofline python train.py && ncu --import matmul_roofline.ncu-rep --csv --page raw")


def ncu_parse() -> str:
    """What a shell does with the book's line: which words become stray arguments."""
    args = shlex.split(BOOK_NCU)
    i = args.index("--metrics")
    stray = [a for a in args[i + 2:] if "__" in a]
    return (f"shlex: --metrics gets only {args[i + 1]!r}; {len(stray)} metric names become separate words "
            f"(ncu would take {stray[0]!r} as the program to launch); 'full' follows the --csv flag")


def ncu_help() -> str:
    """Whether the installed ncu knows --kernel-name-regex (ncu --help), or that ncu is absent."""
    exe = shutil.which("ncu")
    if not exe:
        return "ncu not installed here"
    try:
        text = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"ncu --help failed: {exc}"
    return ("this ncu lists --kernel-name-regex" if "--kernel-name-regex" in text
            else "this ncu has no --kernel-name-regex option (filter with --kernel-name regex:…)")


def compile_modes() -> str:
    """torch._inductor.list_mode_options(): which modes switch CUDA graphs on."""
    import torch._inductor as ind
    modes = ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
    on = [m for m in modes if ind.list_mode_options(m).get("triton.cudagraphs")]
    return f"cudagraphs on in: {', '.join(on)}; default adds no options ({ind.list_mode_options('default')})"


def allocator_names() -> str:
    """The allocator variables named inside this torch's c10 library (the strings it reads at start-up)."""
    import pathlib
    import re
    import torch
    lib = next(iter(sorted(pathlib.Path(torch.__file__).parent.joinpath("lib").glob("libc10.*"))), None)
    if lib is None:
        return "libc10 not found"
    names = sorted(set(re.findall(rb"PYTORCH_[A-Z_]*ALLOC_CONF", lib.read_bytes())))
    return f"torch {torch.__version__} libc10 names: " + ", ".join(n.decode() for n in names)


def fsdp_args() -> str:
    """Which of the arguments the book passes to FSDP() (L5378) this torch's FullyShardedDataParallel and
    fully_shard accept (read from their signatures)."""
    import inspect
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except ImportError as exc:
        return f"torch.distributed.fsdp not importable here: {exc}"
    fsdp1 = inspect.signature(FullyShardedDataParallel.__init__).parameters
    has = lambda name, ps: "yes" if name in ps else "no"   # noqa: E731
    out = (f"FullyShardedDataParallel: activation_checkpointing_policy "
           f"{has('activation_checkpointing_policy', fsdp1)}, cpu_offload {has('cpu_offload', fsdp1)}")
    try:
        from torch.distributed.fsdp import fully_shard
        out += f"; fully_shard: offload_policy {has('offload_policy', inspect.signature(fully_shard).parameters)}"
    except ImportError:
        out += "; no fully_shard in this torch"
    return out


def _graph_gain(records) -> str:
    ratio = book.ratio(records, "ch13.train_step", "cuda_graph", "compiled")
    return "—" if ratio is None else f"{1 - ratio:.0%} less time than compiled"


def table(run=None, nesting: str = "—") -> Table:
    """Claims, what this session found, the H200 reference, and why."""
    ref = results.reference("ch13.train_step")
    here = _graph_gain(run.records) if run else "—"
    rows = [
        ["L5095–L5101 · NVTX ranges around forward, backward, optimizer_step", "ranges pushed/popped in the listing",
         nesting, "same nesting on any device",
         "optimizer_step (and zero_grad) is pushed while backward is still open, so nsys and the profiler "
         "charge the optimizer to backward; pop backward first"],
        ["L5150–L5163 · ncu roofline command", "as printed", ncu_parse(), ncu_help(),
         "comma-separated metrics with no spaces; --csv is a flag; kernels are named gemm/nvjet/xmma, not "
         "'matmul'; fp32_pred_on counts CUDA-core FP32 only, so a bf16 GEMM needs a tensor-pipe metric (fixed command below)"],
        ["L5213 · default mode may use CUDA graphs", "default: maybe", compile_modes(), "same (a torch setting)",
         "CUDA graphs come with reduce-overhead and max-autotune; default does not capture graphs"],
        ["L5338 · PYTORCH_ALLOC_CONF=…,backend:cudaMallocAsync", "PYTORCH_ALLOC_CONF", allocator_names(),
         "—", "older releases read only PYTORCH_CUDA_ALLOC_CONF; max_split_size_mb and roundup_power2_divisions "
         "are options of the native caching allocator; under backend:cudaMallocAsync the driver's pool "
         "allocates, so expect them to have no effect"],
        ["L5378 · FSDP(…) takes activation_checkpointing_policy and CPUOffload", "both are FSDP() arguments",
         fsdp_args(), "same (a torch API)",
         "PyTorch's FSDP has no checkpointing argument (Lightning's FSDPStrategy does): checkpoint each block "
         "with torch.utils.checkpoint (Lab 2) or apply_activation_checkpointing; offload is "
         "cpu_offload=CPUOffload(offload_params=True), or offload_policy=CPUOffloadPolicy() with fully_shard"],
        ["L4975 · CUDA graphs: 20–30% gain (ch12)", "20–30%", here, _graph_gain(ref),
         "a launch-bound step (tiny model, many small kernels) gains more; a GEMM-bound one gains less"],
    ]
    return book.table(rows, "Chapter 13 · book check", "ours (this device)",
                      notes=["H200 column: data/reference/nvidia-h200.json where recorded",
                             "fixed ncu command: " + FIXED_NCU])
