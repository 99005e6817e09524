"""The chapter's Triton matmul: its launch knobs are the tuning space, and two planted shortcuts make the
"faster but wrong" candidates a verifier must reject."""
import triton
import triton.language as tl

# SHORTCUT values: what a careless (or reward-hacking) generated kernel does to look faster
EXACT, SKIP_HALF_K, DROP_K_TAIL = 0, 1, 2


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, k_tiles, sam, sak, sbk, sbn, scm, scn,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                  GROUP_M: tl.constexpr, K_STEP: tl.constexpr):
    """One program per BLOCK_M × BLOCK_N tile of C; programs walk the tiles in groups of GROUP_M rows so
    neighbours share A and B tiles in L2. K_STEP > 1 skips K tiles (wrong on purpose)."""
    pid = tl.program_id(0)
    grid_m, grid_n = tl.cdiv(M, BLOCK_M), tl.cdiv(N, BLOCK_N)
    group = pid // (GROUP_M * grid_n)
    first_m = group * GROUP_M
    rows_in_group = tl.minimum(grid_m - first_m, GROUP_M)
    pid_m = first_m + (pid % rows_in_group)
    pid_n = (pid % (GROUP_M * grid_n)) // rows_in_group
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for t in range(0, k_tiles, K_STEP):
        kk = t * BLOCK_K + rk
        a = tl.load(a_ptr + rm[:, None] * sam + kk[None, :] * sak, mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * sbk + rn[None, :] * sbn, mask=(kk[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + rm[:, None] * scm + rn[None, :] * scn, acc.to(c_ptr.dtype.element_ty),
             mask=(rm[:, None] < M) & (rn[None, :] < N))


def launch(a, b, c, block_m: int, block_n: int, block_k: int, num_warps: int, num_stages: int,
           group_m: int = 8, shortcut: int = EXACT):
    m, k = a.shape
    n = b.shape[1]
    k_tiles = k // block_k if shortcut == DROP_K_TAIL else triton.cdiv(k, block_k)
    grid = (triton.cdiv(m, block_m) * triton.cdiv(n, block_n),)
    matmul_kernel[grid](a, b, c, m, n, k, k_tiles, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                        c.stride(0), c.stride(1), BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
                        GROUP_M=group_m, K_STEP=2 if shortcut == SKIP_HALF_K else 1,
                        num_warps=num_warps, num_stages=num_stages)
    return c
