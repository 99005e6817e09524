"""CUDA C sources of the chapter 7 labs, compiled on first use through CuPy (NVRTC) and launched on torch's stream.

Every kernel is ``extern "C"`` and takes raw pointers plus ``long long`` sizes, so the same text
compiles with NVRTC here and with ``nvcc -cubin`` for a check. CuPy is imported inside functions
only, so importing this module costs nothing on a machine without a GPU.

    >>> sorted(SOURCES)[:2]
    ['copy_float4', 'copy_scalar']
"""
from __future__ import annotations

from perflab.cuda import grid_stride_blocks, kernels, launch  # noqa: F401  (launch: the shared launcher)

COPY = r"""
// One float per thread and step; a grid-stride loop covers any n with a grid sized to the GPU.
extern "C" __global__ void copy_scalar(const float* __restrict__ x, float* __restrict__ y, long long n)
{
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
        y[i] = x[i];
}

// Four floats per thread and step through 16-byte loads and stores (ld/st.global.v4.f32).
// x and y must be 16-byte aligned (fresh torch allocations are 256-byte aligned).
extern "C" __global__ void copy_float4(const float* __restrict__ x, float* __restrict__ y, long long n)
{
    const long long step = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long n4 = n / 4;                                   // whole float4 groups
    const float4* __restrict__ x4 = reinterpret_cast<const float4*>(x);
    float4* __restrict__ y4 = reinterpret_cast<float4*>(y);
    for (long long i = first; i < n4; i += step)
        y4[i] = x4[i];
    for (long long i = 4 * n4 + first; i < n; i += step)          // the n % 4 tail: at most 3 floats
        y[i] = x[i];
}
"""

PARTICLES = r"""
// One particle per thread; the six loads come first so they are all in flight together.
// Array of structures: particle i is 16 consecutive floats (x y z vx vy vz mass charge ...), so
// neighbouring lanes read addresses 64 bytes apart and each field load touches 32 sectors.
extern "C" __global__ void particles_aos(const float* __restrict__ p, float* __restrict__ out,
                                         long long n, float dt)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float* q = p + 16 * i;
    const float x = q[0], y = q[1], z = q[2], vx = q[3], vy = q[4], vz = q[5];
    out[i] = x + dt * vx;
    out[n + i] = y + dt * vy;
    out[2 * n + i] = z + dt * vz;
}

// Structure of arrays: field f of particle i is s[f * n + i]; every load is contiguous across lanes.
extern "C" __global__ void particles_soa(const float* __restrict__ s, float* __restrict__ out,
                                         long long n, float dt)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float x = s[i], y = s[n + i], z = s[2 * n + i];
    const float vx = s[3 * n + i], vy = s[4 * n + i], vz = s[5 * n + i];
    out[i] = x + dt * vx;
    out[n + i] = y + dt * vy;
    out[2 * n + i] = z + dt * vz;
}
"""

MATMUL = r"""
// C = A B, all n x n row-major. Block (32, 8): threadIdx.x picks the ROW, so the 32 lanes of a
// warp read A and write C n floats apart (uncoalesced); their B reads share one address.
extern "C" __global__ void matmul_naive_rows(const float* __restrict__ A, const float* __restrict__ B,
                                             float* __restrict__ C, long long n)
{
    const long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long col = (long long)blockIdx.y * blockDim.y + threadIdx.y;
    if (row >= n || col >= n) return;
    const float* a = A + row * n;
    const float* b = B + col;
    float acc = 0.0f;
    for (long long k = 0; k < n; ++k)
        acc += a[k] * b[k * n];
    C[row * n + col] = acc;
}

// The same loop with threadIdx.x picking the COLUMN: a warp reads 32 consecutive floats of B,
// broadcasts one float of A and writes 32 consecutive floats of C (coalesced).
extern "C" __global__ void matmul_naive_cols(const float* __restrict__ A, const float* __restrict__ B,
                                             float* __restrict__ C, long long n)
{
    const long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long row = (long long)blockIdx.y * blockDim.y + threadIdx.y;
    if (row >= n || col >= n) return;
    const float* a = A + row * n;
    const float* b = B + col;
    float acc = 0.0f;
    for (long long k = 0; k < n; ++k)
        acc += a[k] * b[k * n];
    C[row * n + col] = acc;
}

// 32 x 32 shared-memory tiles, block (32, 32): each global float is loaded once per tile
// instead of once per multiply, cutting global loads by 32. Edge tiles are padded with zeros.
extern "C" __global__ void matmul_tiled_32(const float* __restrict__ A, const float* __restrict__ B,
                                           float* __restrict__ C, long long n)
{
    __shared__ float sA[32][32];
    __shared__ float sB[32][32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const long long row = (long long)blockIdx.y * 32 + ty;
    const long long col = (long long)blockIdx.x * 32 + tx;
    float acc = 0.0f;
    for (long long k0 = 0; k0 < n; k0 += 32) {
        sA[ty][tx] = (row < n && k0 + tx < n) ? A[row * n + k0 + tx] : 0.0f;
        sB[ty][tx] = (k0 + ty < n && col < n) ? B[(k0 + ty) * n + col] : 0.0f;
        __syncthreads();
        #pragma unroll
        for (int k = 0; k < 32; ++k)
            acc += sA[ty][k] * sB[k][tx];
        __syncthreads();
    }
    if (row < n && col < n)
        C[row * n + col] = acc;
}
"""

TRANSPOSE = r"""
// y (cols x rows) = transpose of x (rows x cols). Every kernel uses block (32, 8) and a grid of
// 32 x 32 tiles: (ceil(cols / 32), ceil(rows / 32)); each thread moves 4 elements of its tile.

// Reads are coalesced (lanes walk a row of x); writes land rows floats apart (uncoalesced).
extern "C" __global__ void transpose_naive(const float* __restrict__ x, float* __restrict__ y,
                                           long long rows, long long cols)
{
    const long long c = (long long)blockIdx.x * 32 + threadIdx.x;
    for (int j = 0; j < 32; j += 8) {
        const long long r = (long long)blockIdx.y * 32 + threadIdx.y + j;
        if (r < rows && c < cols)
            y[c * rows + r] = x[r * cols + c];
    }
}

// Stage the tile in shared memory so that both the read and the write are coalesced. The write
// phase reads a COLUMN of the tile: with PAD = 0 the 32 lanes hit words 32 apart, all in one bank
// (a 32-way conflict); PAD = 1 shifts each row by one bank and the conflict disappears.
template <int PAD>
__device__ __forceinline__ void transpose_tile(const float* __restrict__ x, float* __restrict__ y,
                                               long long rows, long long cols)
{
    __shared__ float tile[32][32 + PAD];
    const long long c = (long long)blockIdx.x * 32 + threadIdx.x;
    for (int j = 0; j < 32; j += 8) {
        const long long r = (long long)blockIdx.y * 32 + threadIdx.y + j;
        if (r < rows && c < cols)
            tile[threadIdx.y + j][threadIdx.x] = x[r * cols + c];
    }
    __syncthreads();
    const long long out_c = (long long)blockIdx.y * 32 + threadIdx.x;        // a row index of x
    for (int j = 0; j < 32; j += 8) {
        const long long out_r = (long long)blockIdx.x * 32 + threadIdx.y + j; // a column index of x
        if (out_r < cols && out_c < rows)
            y[out_r * rows + out_c] = tile[threadIdx.x][threadIdx.y + j];
    }
}

extern "C" __global__ void transpose_smem_32(const float* __restrict__ x, float* __restrict__ y,
                                             long long rows, long long cols)
{
    transpose_tile<0>(x, y, rows, cols);
}

extern "C" __global__ void transpose_smem_32_padded(const float* __restrict__ x, float* __restrict__ y,
                                                    long long rows, long long cols)
{
    transpose_tile<1>(x, y, rows, cols);
}
"""

SOURCES = {
    "copy_scalar": COPY, "copy_float4": COPY,
    "particles_aos": PARTICLES, "particles_soa": PARTICLES,
    "matmul_naive_rows": MATMUL, "matmul_naive_cols": MATMUL, "matmul_tiled_32": MATMUL,
    "transpose_naive": TRANSPOSE, "transpose_smem_32": TRANSPOSE, "transpose_smem_32_padded": TRANSPOSE,
}


kernel = kernels(SOURCES)     # kernel(name): the compiled cupy.RawKernel (NVRTC once per process)
