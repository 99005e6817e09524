"""CUDA C sources of the cluster lab, compiled on first use through CuPy (NVRTC), launched on torch's stream.

Normalize long rows, y[r] = x[r] / ||x[r]||, three ways. The row's sum of squares needs every block
that holds a piece of the row, so splitting a row over several blocks needs a way to combine their
partial sums: a second kernel (through global memory), or a thread-block cluster whose blocks read
each other's shared memory (distributed shared memory, DSMEM; sm_90+).

The cluster kernel uses a few PTX instructions instead of ``cooperative_groups`` so that it needs
no header (NVRTC and nvcc both compile it as is); each helper says what the cooperative-groups
call would be. Check both files offline: ``nvcc -arch=sm_90 -cubin -Xptxas -v``.

    >>> sorted(SOURCES)
    ['row_normalize_block', 'row_normalize_cluster', 'row_scale', 'row_sumsq_partial']
"""
from __future__ import annotations

from perflab.cuda import kernels, launch  # noqa: F401  (launch: the shared launcher)

THREADS = 256            # threads per block in every kernel
SPLIT = 8                # blocks per row in the split kernels = the cluster size (8 is the portable maximum)

COMMON = r"""
#define THREADS 256

// Sum of v over the block's 256 threads; every thread gets the total. scratch: 8 floats of shared memory.
__device__ float block_sum(float v, float* scratch)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);   // within each warp
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();                                   // scratch may still be read from a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < THREADS / 32 ? scratch[lane] : 0.0f;    // the 8 warp sums (0 in lanes 8-31), added
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);   // by every warp
    return v;
}

// The piece [begin, end) of a row of `cols` that block `part` of `parts` owns.
__device__ void piece(long long cols, int part, int parts, long long* begin, long long* end)
{
    const long long len = (cols + parts - 1) / parts;
    *begin = part * len;
    *end = *begin + len < cols ? *begin + len : cols;
}
"""

SPLIT_SOURCE = COMMON + r"""
// 1 block per row: walks the whole row twice (sum of squares, then scale). Needs no cooperation, but
// with few rows there are few blocks: most SMs have nothing to do.
extern "C" __global__ void row_normalize_block(const float* __restrict__ x, float* __restrict__ y,
                                               long long rows, long long cols)
{
    __shared__ float scratch[THREADS / 32];
    const float* xr = x + blockIdx.x * cols;
    float s = 0.0f;
    for (long long c = threadIdx.x; c < cols; c += THREADS) s += xr[c] * xr[c];
    const float inv = rsqrtf(block_sum(s, scratch));
    for (long long c = threadIdx.x; c < cols; c += THREADS) y[blockIdx.x * cols + c] = xr[c] * inv;
}

// Split kernel 1 of 2, grid (parts, rows): each block writes the sum of squares of its piece.
extern "C" __global__ void row_sumsq_partial(const float* __restrict__ x, float* __restrict__ partial,
                                             long long rows, long long cols)
{
    __shared__ float scratch[THREADS / 32];
    long long begin, end;
    piece(cols, blockIdx.x, gridDim.x, &begin, &end);
    const float* xr = x + blockIdx.y * cols;
    float s = 0.0f;
    for (long long c = begin + threadIdx.x; c < end; c += THREADS) s += xr[c] * xr[c];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) partial[blockIdx.y * gridDim.x + blockIdx.x] = s;
}

// Split kernel 2 of 2, same grid: read the row's partial sums back from global memory, scale the piece.
extern "C" __global__ void row_scale(const float* __restrict__ x, const float* __restrict__ partial,
                                     float* __restrict__ y, long long rows, long long cols)
{
    long long begin, end;
    piece(cols, blockIdx.x, gridDim.x, &begin, &end);
    float total = 0.0f;
    for (int p = 0; p < gridDim.x; ++p) total += partial[blockIdx.y * gridDim.x + p];
    const float inv = rsqrtf(total);
    const long long row = blockIdx.y * cols;
    for (long long c = begin + threadIdx.x; c < end; c += THREADS) y[row + c] = x[row + c] * inv;
}
"""

CLUSTER_SOURCE = COMMON + r"""
#define SPLIT 8

// This block's rank in its cluster (cg::this_cluster().block_rank()).
__device__ unsigned cluster_rank()
{
    unsigned r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}

// Barrier over every thread of every block in the cluster, with release/acquire ordering of shared
// memory (cg::this_cluster().sync()).
__device__ void cluster_sync()
{
    asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// Read a float that block `rank` of this cluster holds at the same shared-memory variable as `mine`
// (*cg::this_cluster().map_shared_rank(mine, rank)): mapa turns our address into rank's, then an
// ld.shared::cluster goes over the SM-to-SM network.
__device__ float read_remote(float* mine, unsigned rank)
{
    unsigned local, remote;
    float v;
    asm volatile("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(local) : "l"(mine));
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local), "r"(rank));
    asm volatile("ld.shared::cluster.f32 %0, [%1];" : "=f"(v) : "r"(remote) : "memory");
    return v;
}

// One kernel, grid (SPLIT, rows), clusters of SPLIT blocks along x: the blocks of a cluster share one row.
extern "C" __global__ void __cluster_dims__(SPLIT, 1, 1)
row_normalize_cluster(const float* __restrict__ x, float* __restrict__ y, long long rows, long long cols)
{
    __shared__ float scratch[THREADS / 32];
    __shared__ float my_sum;                       // this block's partial sum, read by the whole cluster
    const unsigned rank = cluster_rank();
    long long begin, end;
    piece(cols, rank, SPLIT, &begin, &end);
    const long long row = blockIdx.y * cols;
    float s = 0.0f;
    for (long long c = begin + threadIdx.x; c < end; c += THREADS) s += x[row + c] * x[row + c];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) my_sum = s;
    cluster_sync();                                // every block's my_sum is written and visible
    if (threadIdx.x < 32) {                        // warp 0 gathers the SPLIT partial sums over DSMEM
        float v = threadIdx.x < SPLIT ? read_remote(&my_sum, threadIdx.x) : 0.0f;
        for (int o = 4; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (threadIdx.x == 0) scratch[0] = v;
    }
    __syncthreads();
    const float inv = rsqrtf(scratch[0]);
    cluster_sync();                                // no block leaves while another may still read its my_sum
    for (long long c = begin + threadIdx.x; c < end; c += THREADS) y[row + c] = x[row + c] * inv;
}
"""

SOURCES = {"row_normalize_block": SPLIT_SOURCE, "row_sumsq_partial": SPLIT_SOURCE, "row_scale": SPLIT_SOURCE,
           "row_normalize_cluster": CLUSTER_SOURCE}


kernel = kernels(SOURCES)     # kernel(name): the compiled cupy.RawKernel (NVRTC once per process)
