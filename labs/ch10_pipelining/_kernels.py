"""The chapter's Triton kernels. Imports only triton (no perflab), so ``compiled`` can build them for sm_90
offline in a process where Triton is not in interpreter mode.

Matmul: one program computes a BLOCK_M × BLOCK_N tile of C = A @ B, walking K in BLOCK_K slices; the
launch option ``num_stages`` sets how many K slices are in flight in shared memory (1 = load, wait,
multiply; 3 = two slices loading while one is multiplied). ``GROUP_M`` sets the order in which tiles
are handed out (1 = row by row). Tasks: a row L2-normalization as one tiny task, launched once per
task, once for all tasks, or looped over by a persistent grid.
"""
import triton
import triton.language as tl


@triton.jit
def tile_of(pid, grid_m, grid_n, GROUP_M: tl.constexpr):
    """Program number -> (tile row, tile column). Tiles are handed out in bands of GROUP_M tile rows:
    down a column of the band first, then the next column, so programs running together share A rows
    and B columns. GROUP_M = 1 is plain row-major order."""
    band = pid // (GROUP_M * grid_n)                       # which band of GROUP_M tile rows
    first_row = band * GROUP_M
    rows_here = tl.minimum(grid_m - first_row, GROUP_M)    # the last band can be shorter
    within = pid - band * GROUP_M * grid_n                 # position inside the band
    return first_row + within % rows_here, within // rows_here


@triton.jit
def _tile(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn, pid_m, pid_n,
          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, UPCAST: tl.constexpr):
    """C[tile] = A[rows, :] @ B[:, cols], accumulated in fp32 over K slices."""
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    # rows past M / columns past N wrap round to valid ones: the loads need no row or column mask,
    # and the store below drops those results
    ra, rb = rm % M, rn % N
    rk = tl.arange(0, BLOCK_K)
    a_tile = a_ptr + ra[:, None] * sam + rk[None, :] * sak
    b_tile = b_ptr + rk[:, None] * sbk + rb[None, :] * sbn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):            # num_stages (a launch option) pipelines this loop
        a = tl.load(a_tile, mask=rk[None, :] < K - k0, other=0.0)
        b = tl.load(b_tile, mask=rk[:, None] < K - k0, other=0.0)
        if UPCAST:                              # CPU interpreter only: numpy has no bf16 matmul
            a, b = a.to(tl.float32), b.to(tl.float32)
        acc = tl.dot(a, b, acc)                 # tensor cores: wgmma on sm_90, mma.sync on sm_80
        a_tile += BLOCK_K * sak
        b_tile += BLOCK_K * sbk
    c = c_ptr + rm[:, None] * scm + rn[None, :] * scn
    tl.store(c, acc.to(c_ptr.dtype.element_ty), mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                  GROUP_M: tl.constexpr, UPCAST: tl.constexpr):
    """One program per output tile; grid = (number of tiles,)."""
    pid_m, pid_n = tile_of(tl.program_id(0), tl.cdiv(M, BLOCK_M), tl.cdiv(N, BLOCK_N), GROUP_M)
    _tile(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn, pid_m, pid_n,
          BLOCK_M, BLOCK_N, BLOCK_K, UPCAST)


@triton.jit
def matmul_persistent_kernel(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn,
                             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                             GROUP_M: tl.constexpr, UPCAST: tl.constexpr, PROGRAMS: tl.constexpr):
    """PROGRAMS programs (one per SM) stay resident and take tiles pid, pid + PROGRAMS, ..."""
    grid_m, grid_n = tl.cdiv(M, BLOCK_M), tl.cdiv(N, BLOCK_N)
    for t in range(tl.program_id(0), grid_m * grid_n, PROGRAMS):
        pid_m, pid_n = tile_of(t, grid_m, grid_n, GROUP_M)
        _tile(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn, pid_m, pid_n,
              BLOCK_M, BLOCK_N, BLOCK_K, UPCAST)


# ---- tiny tasks: y[row] = x[row] / ||x[row]|| ----------------------------------------------------

@triton.jit
def _normalize_row(x_ptr, y_ptr, row, cols, BLOCK: tl.constexpr):
    base = row * cols                           # < 2^31 elements at every lab size
    sq = tl.zeros((BLOCK,), dtype=tl.float32)
    for c0 in range(0, cols, BLOCK):
        offs = c0 + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + base + offs, mask=offs < cols, other=0.0)
        sq += x * x
    inv = 1.0 / tl.sqrt(tl.sum(sq, axis=0))
    for c0 in range(0, cols, BLOCK):            # second pass: the row is still in L1/L2
        offs = c0 + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + base + offs, mask=offs < cols, other=0.0)
        tl.store(y_ptr + base + offs, x * inv, mask=offs < cols)


@triton.jit(do_not_specialize=["first"])     # one compiled kernel for every task number
def task_kernel(x_ptr, y_ptr, first, cols, BLOCK: tl.constexpr):
    """Task first + program id: grid (1,) is one tiny launch per task; grid (tasks,) one launch for all."""
    _normalize_row(x_ptr, y_ptr, first + tl.program_id(0), cols, BLOCK)


@triton.jit
def task_persistent_kernel(x_ptr, y_ptr, tasks, cols, BLOCK: tl.constexpr, PROGRAMS: tl.constexpr):
    """A grid the size of the machine; program p takes tasks p, p + PROGRAMS, p + 2·PROGRAMS, ..."""
    for row in range(tl.program_id(0), tasks, PROGRAMS):
        _normalize_row(x_ptr, y_ptr, row, cols, BLOCK)


@triton.jit
def task_queue_kernel(x_ptr, y_ptr, counter_ptr, tasks, cols, BLOCK: tl.constexpr):
    """A grid the size of the machine; each program pulls the next task from a global counter
    (atomicAdd), so a program that finishes early simply takes more tasks."""
    row = tl.atomic_add(counter_ptr, 1)
    while row < tasks:
        _normalize_row(x_ptr, y_ptr, row, cols, BLOCK)
        row = tl.atomic_add(counter_ptr, 1)


MATMUL_SIGNATURE = {"a_ptr": "*bf16", "b_ptr": "*bf16", "c_ptr": "*bf16", "M": "i32", "N": "i32", "K": "i32",
                    "sam": "i32", "sak": "i32", "sbk": "i32", "sbn": "i32", "scm": "i32", "scn": "i32",
                    "BLOCK_M": "constexpr", "BLOCK_N": "constexpr", "BLOCK_K": "constexpr",
                    "GROUP_M": "constexpr", "UPCAST": "constexpr"}
