"""The chapter's Triton kernel: y = x @ (q * scale)^T + bias with int8 weights dequantized in registers.

It imports only triton (no perflab, no torch), so it can be compiled offline for sm_90 in a process where
Triton is not in interpreter mode (see ``tests/test_ch19_quant.py``).

One program owns BLOCK_N output channels of one row of x. It walks K in BLOCK_K slices: loads a
BLOCK_N x BLOCK_K tile of int8 weights (1 byte each: the whole point), widens it to fp32 in registers,
multiplies by the matching slice of x and accumulates. The per-channel scale is applied once at the end,
because scale[n] multiplies every term of output n: sum_k x[k] * q[n, k] * s[n] = s[n] * sum_k x[k] * q[n, k].

The weight rows are stored ``stride_qn`` bytes apart, a multiple of 16 with zeros after column K
(``quant.quantize_int8`` pads them). Masking the weight loads with ``stride_qn`` instead of K keeps the mask
constant over every 16 bytes, so Triton can issue 16-byte vector loads; x is masked with K, so the padding
multiplies zeros.
"""
import triton
import triton.language as tl


@triton.jit
def w8_gemv_kernel(x_ptr, q_ptr, s_ptr, b_ptr, y_ptr, N, K, stride_xm, stride_qn, stride_ym,
                   HAS_BIAS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_n, m = tl.program_id(0), tl.program_id(1)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)                    # output channels of this program
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)             # summed over K once, at the end
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + rk
        xk = tl.load(x_ptr + m * stride_xm + kk, mask=kk < K, other=0.0).to(tl.float32)
        w = tl.load(q_ptr + rn[:, None] * stride_qn + kk[None, :],
                    mask=(rn[:, None] < N) & (kk[None, :] < stride_qn), other=0)  # int8: 1 byte per weight
        acc += w.to(tl.float32) * xk[None, :]
    y = tl.sum(acc, axis=1) * tl.load(s_ptr + rn, mask=rn < N, other=0.0)
    if HAS_BIAS:
        y += tl.load(b_ptr + rn, mask=rn < N, other=0.0).to(tl.float32)
    tl.store(y_ptr + m * stride_ym + rn, y.to(y_ptr.dtype.element_ty), mask=rn < N)


def blocks(n: int, k: int, sms: int = 132) -> tuple[int, int]:
    """(BLOCK_N, BLOCK_K): enough programs to fill the GPU (at least 2 per SM) with wide K slices.

    >>> blocks(20483, 20477), blocks(768, 768), blocks(384, 100)
    ((16, 256), (4, 256), (4, 128))
    """
    block_k = min(256, triton.next_power_of_2(max(k, 16)))
    for block_n in (16, 8):
        if triton.cdiv(n, block_n) >= 2 * sms:
            return block_n, block_k
    return 4, block_k


SIGNATURE = {"x_ptr": "*bf16", "q_ptr": "*i8", "s_ptr": "*fp32", "b_ptr": "*bf16", "y_ptr": "*bf16",
             "N": "i32", "K": "i32", "stride_xm": "i32", "stride_qn": "i32", "stride_ym": "i32",
             "HAS_BIAS": "constexpr", "BLOCK_N": "constexpr", "BLOCK_K": "constexpr"}
