"""Labs that run in several processes under torchrun: the notebook's side (launch one script, read its
JSON) and the worker's side (join the process group on the right device, write the result once).

    res = run_torchrun(SCRIPT, ["--steps", "5"])        # in the notebook: None (and one line) on failure

    rank = join()                                        # in the script: NCCL on a GPU each, else gloo
    ...
    leave(rank, result, out_path)                        # rank 0 writes the JSON
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from perflab import proctree
from perflab.paths import REPO


# ---- the notebook's side ------------------------------------------------------------------------------

def gpu_count() -> int:
    try:
        import torch
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def child_env(hide_gpus: bool = False) -> dict:
    """The workers' environment: NVLink SHARP multicast off (not every host has it), one OpenMP thread,
    the repository importable; ``hide_gpus`` makes them CPU processes (gloo) on a 1-GPU machine."""
    env = dict(os.environ)
    env["NCCL_NVLS_ENABLE"] = "0"
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if hide_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def torchrun_command(script: "str | Path", args=(), nproc: int = 2) -> list:
    """The exact command line: one node, ``nproc`` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            str(script), *map(str, args)]


def run_torchrun(script: "str | Path", args=(), *, nproc: int = 2, timeout_s: float = 300,
                 hide_gpus: bool = False, verbose: bool = True) -> dict | None:
    """Run ``script`` under torchrun with ``--out <file>`` appended; return the JSON it wrote, or None
    after one line saying why (it failed, or did not finish in time)."""
    with tempfile.TemporaryDirectory(prefix="perflab-torchrun-") as tmp:     # removed whatever happens
        out = os.path.join(tmp, "result.json")
        cmd = torchrun_command(script, [*args, "--out", out], nproc)
        if verbose:
            shown = [os.path.relpath(str(script), REPO), *map(str, args)]
            print(f"$ python -m torch.distributed.run --standalone --nproc_per_node {nproc} " + " ".join(shown))
        # its own process group; on a timeout torchrun and every rank (each in its own session) are killed,
        # so no orphan is left holding a GPU and the call returns within a few seconds of timeout_s
        try:
            done = proctree.run(cmd, timeout=timeout_s, env=child_env(hide_gpus), cwd=REPO)
        except subprocess.TimeoutExpired:
            print(f"torchrun did not finish in {timeout_s:.0f} s (a rank waiting in a collective?); stopped it "
                  f"and its ranks")
            return None
        if done.returncode != 0 or not os.path.exists(out):
            print(f"torchrun failed (exit {done.returncode}): " + _why(done.stderr or done.stdout))
            return None
        return json.loads(Path(out).read_text())


def _why(log: str) -> str:
    """The lines of a failed run's log that say why (errors, C++ aborts), else its last three."""
    lines = [line.strip() for line in log.strip().splitlines()]
    causes = [line for line in lines if any(k in line for k in ("Error", "error:", "terminate called", "what():"))]
    return " | ".join(list(dict.fromkeys(causes))[:3] or lines[-3:])


# ---- the worker's side --------------------------------------------------------------------------------

@dataclass
class Rank:
    rank: int
    world: int
    local: int
    device: object          # torch.device
    backend: str            # "nccl" or "gloo"

    @property
    def gpu(self) -> bool:
        return self.backend == "nccl"

    @property
    def device_name(self) -> str:
        import torch
        return torch.cuda.get_device_name(self.device) if self.gpu else "CPU processes"


def join(gpu: bool | None = None, timeout_s: float | None = None) -> Rank:
    """Join the process group torchrun set up: NCCL, each rank on its own GPU, when every rank on this node
    can have one (and ``gpu`` is not False); otherwise gloo, with one CPU thread per process.
    ``timeout_s``: how long a collective may wait for a missing rank before failing (torch's default: 10 min)."""
    import torch
    import torch.distributed as dist
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    use_gpu = gpu is not False and torch.cuda.is_available() and torch.cuda.device_count() >= per_node
    if gpu and not use_gpu:
        raise SystemExit(f"asked for GPUs, but this node has {torch.cuda.device_count()} for {per_node} ranks")
    if use_gpu:
        torch.cuda.set_device(local)              # before NCCL starts: one GPU per rank
        device = torch.device("cuda", local)
    else:
        torch.set_num_threads(1)                  # ranks share a small CPU: one thread each
        device = torch.device("cpu")
    backend = "nccl" if use_gpu else "gloo"
    kwargs = {"timeout": datetime.timedelta(seconds=timeout_s)} if timeout_s else {}
    dist.init_process_group(backend, device_id=device if use_gpu else None, **kwargs)
    return Rank(rank, world, local, device, backend)


def leave(rank: Rank, result: dict, out: str, writer: int = 0) -> None:
    """Rank ``writer`` writes ``result`` as JSON; everyone waits for it, leaves the group and exits.

    The exit skips Python's interpreter teardown: gloo's worker threads can still hold tensors then, and
    releasing them while the interpreter is being torn down aborts the process now and then (SIGABRT,
    pytorch/pytorch#179291), which failed a finished run."""
    import torch.distributed as dist
    if rank.rank == writer:
        with open(out, "w") as f:
            json.dump(result, f, indent=1)
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
