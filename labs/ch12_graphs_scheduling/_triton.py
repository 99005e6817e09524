"""Triton kernels of the skewed-work lab: one tile of work, and three ways to hand tiles to programs.

Item i holds x[i] and a cost c[i]; its answer takes c[i]·UNIT dependent multiply-adds x = x·a + b. A
tile is BLOCK neighbouring items run in lockstep, so a tile takes as long as its costliest item.
The schedulers differ only in which program runs which tile:

- ``static_kernel``: P persistent programs, program p walks its own contiguous range of tiles;
- ``dynamic_kernel``: P persistent programs take CHUNK tiles at a time from one atomic counter
  (Triton runs a scalar atomic once per program: one atomic per CHUNK·BLOCK items);
- ``grid_kernel``: one program per tile; the GPU's block scheduler hands them out as SMs free up;
- ``lane_queue_kernel``: every lane takes its own next ITEMS items per atomic (the unbatched extreme).

Importable without perflab, so the offline sm_90 compile in the tests can use it.
"""
import triton
import triton.language as tl

BLOCK = 1024         # items per tile: two per thread of a 16-warp program (two independent chains)
WARPS = 16
PROGRAMS_PER_SM = 1  # persistent programs per SM: one, so a program's speed never depends on its neighbours


@triton.jit
def work_tile(x_ptr, c_ptr, y_ptr, n, a, b, tile, BLOCK: tl.constexpr, UNIT: tl.constexpr):
    offs = tile * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    c = tl.load(c_ptr + offs, mask=mask, other=0)
    for k in range(0, tl.max(c, axis=0)):           # the tile runs as long as its costliest item
        z = x
        for _ in tl.static_range(UNIT):
            z = z * a + b
        x = tl.where(k < c, z, x)                     # lanes that are done keep their value
    tl.store(y_ptr + offs, x, mask=mask)


@triton.jit
def static_kernel(x_ptr, c_ptr, y_ptr, n, a, b, per_program, BLOCK: tl.constexpr, UNIT: tl.constexpr):
    tiles = tl.cdiv(n, BLOCK)
    first = tl.program_id(0) * per_program            # a fixed, contiguous range of tiles
    for t in range(first, tl.minimum(first + per_program, tiles)):
        work_tile(x_ptr, c_ptr, y_ptr, n, a, b, t, BLOCK, UNIT)


@triton.jit
def dynamic_kernel(x_ptr, c_ptr, y_ptr, counter_ptr, n, a, b, CHUNK: tl.constexpr, BLOCK: tl.constexpr,
                   UNIT: tl.constexpr):
    tiles = tl.cdiv(n, BLOCK)
    start = tl.atomic_add(counter_ptr, CHUNK)         # one atomic grabs CHUNK tiles for the program
    while start < tiles:
        for t in range(start, tl.minimum(start + CHUNK, tiles)):
            work_tile(x_ptr, c_ptr, y_ptr, n, a, b, t, BLOCK, UNIT)
        start = tl.atomic_add(counter_ptr, CHUNK)


@triton.jit
def grid_kernel(x_ptr, c_ptr, y_ptr, n, a, b, BLOCK: tl.constexpr, UNIT: tl.constexpr):
    work_tile(x_ptr, c_ptr, y_ptr, n, a, b, tl.program_id(0), BLOCK, UNIT)


@triton.jit
def lane_queue_kernel(x_ptr, c_ptr, y_ptr, counter_ptr, n, a, b, ITEMS: tl.constexpr, BLOCK: tl.constexpr,
                      UNIT: tl.constexpr):
    zero = tl.zeros([BLOCK], dtype=tl.int32)
    first = tl.atomic_add(counter_ptr + zero, ITEMS)  # BLOCK atomics: each lane grabs ITEMS items
    while tl.min(first, axis=0) < n:
        live = first < n
        for j in range(ITEMS):                          # a loop, not unrolled: quick to compile
            i = first + j
            mask = live & (i < n)
            x = tl.load(x_ptr + i, mask=mask, other=0.0)
            c = tl.load(c_ptr + i, mask=mask, other=0)
            for k in range(0, tl.max(c, axis=0)):
                z = x
                for _ in tl.static_range(UNIT):
                    z = z * a + b
                x = tl.where(k < c, z, x)
            tl.store(y_ptr + i, x, mask=mask)
        first = tl.where(live, tl.atomic_add(counter_ptr + zero, ITEMS, mask=live), first)


def persistent_programs(device) -> int:
    """P for the persistent kernels: PROGRAMS_PER_SM per SM (the SM count is read from the device); 4 on a CPU."""
    import torch
    if getattr(device, "type", str(device)) != "cuda":
        return 4                                      # the interpreter runs programs one after another
    return PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count
