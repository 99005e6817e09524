"""Many tiny launches vs one persistent grid: 1,000 small tasks (normalize one row each), launched
one kernel per task, one launch for all, or looped over by a grid the size of the machine."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch
import torch.nn.functional as F

from labs.ch10_pipelining._kernels import task_kernel, task_persistent_kernel, task_queue_kernel
from labs.ch10_pipelining._matmul import programs_for

TITLE = "1,000 tiny tasks (y[i] = x[i] / ‖x[i]‖): one launch per task vs one launch vs a persistent grid"
# (tasks, floats per task). 1,000 tasks of 16 KB each: the book's 1,000 tiny kernels (L4288).
SIZES = {"gpu": [(1_000, 4_099), (3_001, 1_031), (301, 16_411)], "cpu": [(37, 1_021), (61, 333)]}
DTYPES = ["float32"]
BLOCK = 1024             # floats a program handles per step of its row loop
WARPS = 8                # 256 threads per program, as in the book's persistent example (L4275)


OPTIONS = pl.LabOptions(gate_note=(
    "1,000 tasks of 4,099 floats are 33 MB in all: the best single launch takes under 20 µs on the H100 "
    "reference, and at that length launch and ramp-up are a large share, so no variant reaches the copy rate "
    "measured on 1 GiB buffers. The lesson is the launch count per task (one launch per task costs "
    "milliseconds)."))


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    tasks, cols = size
    g = torch.Generator(device=device).manual_seed(seed)
    return {"x": torch.randn(tasks, cols, generator=g, device=device, dtype=getattr(torch, dtype))}


def reference(x) -> torch.Tensor:
    x = x.double()
    return x / x.norm(dim=1, keepdim=True)


def bytes(size, dtype="float32") -> int:
    tasks, cols = size
    return 2 * tasks * cols * getattr(torch, dtype).itemsize         # read x once, write y once


def flops(size, dtype="float32") -> int:
    tasks, cols = size
    return 3 * tasks * cols                                          # square-add, then one multiply


@pl.variant(backend="triton", note="a Python loop launching one 1-program kernel per task: 1,000 launches")
def launch_per_task(x):
    y = torch.empty_like(x)
    for i in range(x.shape[0]):
        task_kernel[(1,)](x, y, i, x.shape[1], BLOCK=BLOCK, num_warps=WARPS)
    return y


@pl.variant(backend="triton", note="one launch, one program per task: the hardware scheduler hands them out")
def one_launch(x):
    y = torch.empty_like(x)
    task_kernel[(x.shape[0],)](x, y, 0, x.shape[1], BLOCK=BLOCK, num_warps=WARPS)
    return y


@pl.variant(backend="triton", note="one launch, one program per SM; program p takes tasks p, p+SMs, ...")
def persistent(x):
    y = torch.empty_like(x)
    progs = min(programs_for(x.device), x.shape[0])
    task_persistent_kernel[(progs,)](x, y, x.shape[0], x.shape[1], BLOCK=BLOCK, PROGRAMS=progs, num_warps=WARPS)
    return y


@pl.variant(backend="triton", note="one program per SM pulling tasks from an atomic counter (the book's queue)")
def persistent_queue(x):
    y = torch.empty_like(x)
    counter = torch.zeros(1, dtype=torch.int32, device=x.device)     # the queue's head: the next free task
    progs = min(programs_for(x.device), x.shape[0])
    task_queue_kernel[(progs,)](x, y, counter, x.shape[0], x.shape[1], BLOCK=BLOCK, num_warps=WARPS)
    return y


@pl.variant(backend="torch", note="a Python loop of F.normalize on one row at a time: ~3 small kernels per task")
def torch_per_task(x):
    y = torch.empty_like(x)
    for i in range(x.shape[0]):
        F.normalize(x[i], dim=0, out=y[i])
    return y


@pl.variant(backend="torch", note="F.normalize on all rows at once: a few launches in total")
def torch_batched(x):
    return F.normalize(x, dim=1)


variants = [launch_per_task, one_launch, persistent, persistent_queue, torch_per_task, torch_batched]
