import time

import pytest

import perflab as pl
from perflab.measure import Measurement


def test_statistics_and_rates():
    m = Measurement([1e-3, 2e-3, 3e-3, 4e-3, 5e-3], label="x", bytes=1e9, flops=2e12)
    assert m.median == 3e-3
    assert m.p20 == pytest.approx(1.8e-3) and m.p80 == pytest.approx(4.2e-3)
    assert m.gbps == pytest.approx(1e9 / 3e-3 / 1e9)
    assert m.tflops == pytest.approx(2e12 / 3e-3 / 1e12)
    assert "WARNING" in repr(m)                     # spread 80% of the median


def test_significance_uses_the_spread():
    fast = Measurement([1.0, 1.01, 0.99])
    slow = Measurement([2.0, 2.01, 1.99])
    noisy = Measurement([0.8, 1.0, 1.5, 2.1])
    assert fast.faster_than(slow) is True and slow.faster_than(fast) is False
    assert fast.faster_than(noisy) is None


@pytest.mark.parametrize("samples, kw, error, match", [
    ([], {}, ValueError, "no samples"), ([1.0, 0.0], {}, ValueError, "> 0, got 0.0"),
    *[([1.0, bad], {}, ValueError, "sample 1") for bad in (float("nan"), float("inf"), -1e-3)],
    (["1"], {}, TypeError, "sample 0"), ([1.0], {"bytes": -5}, ValueError, "bytes")])
def test_empty_or_negative_samples_are_rejected(samples, kw, error, match):
    with pytest.raises(error, match=match):
        Measurement(samples, **kw)


def test_bench_times_first_call_apart():
    calls = []

    def fn():
        if not calls:
            time.sleep(0.05)                        # a slow first call, like a compile
        calls.append(1)
        sum(range(200))

    m = pl.bench(fn, rep_ms=20, bytes=800)
    assert m.first_call_s >= 0.05
    assert m.median < 0.01                          # the first call is not in the samples
    assert m.n >= 5 and m.method in ("cpu-timer", "cuda-events+l2-flush") and m.gbps > 0


def test_bench_rejects_bad_arguments():
    with pytest.raises(TypeError, match="zero-argument callable"):
        pl.bench(42)
    with pytest.raises(ValueError, match="not one of"):
        pl.bench(lambda: None, mode="fast")
    if pl.env().tier == "cpu":
        with pytest.raises(ValueError, match="needs a CUDA GPU"):
            pl.bench(lambda: None, mode="cudagraph")


def test_cpu_bench_keeps_the_callers_thread_count():
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        m = pl.bench(lambda: seen.append(torch.get_num_threads()), rep_ms=5, mode="cpu")
        assert set(seen) == {m.threads}                 # one deliberate count for every call, recorded
        assert m.threads == 2 or "timed with 1 torch thread " in m.busy    # fewer only on a busy machine
        assert torch.get_num_threads() == 2             # and the caller's count is restored
    finally:
        torch.set_num_threads(before)


def test_ncu_values_over_kernels_add_counts_and_average_percentages():
    from perflab.nsight import ProfileResult, _over_kernels
    res = ProfileResult(True, rows=[("k1", "dram__bytes.sum", 100.0, "byte"), ("k2", "dram__bytes.sum", 50.0, "byte"),
                                    ("k1", "sm__throughput.avg.pct_of_peak_sustained_elapsed", 80.0, "%"),
                                    ("k2", "sm__throughput.avg.pct_of_peak_sustained_elapsed", 20.0, "%"),
                                    ("k1", "gpu__time_duration.sum", 3.0, "us"), ("k2", "gpu__time_duration.sum", 1.0, "us")])
    assert _over_kernels(res, "dram__bytes.sum") == 150.0
    assert _over_kernels(res, "sm__throughput.avg.pct_of_peak_sustained_elapsed") == (80 * 3 + 20 * 1) / 4
    assert _over_kernels(res, "missing") is None


def test_bench_ranks_returns_one_measurement_of_the_slowest_rank(tmp_path):
    import torch.distributed as dist
    from perflab.timer import bench_ranks
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdzv'}", rank=0, world_size=1)
    try:
        calls = []
        m = bench_ranks(lambda: calls.append(1), iters=5, device="cpu", warmup=2,
                        before_timing=calls.clear, bytes=1e6)
        assert m.n == 5 and len(calls) == 5 and "max over 1 ranks" in m.method and m.gbps > 0
        with pytest.raises(ValueError, match="iters"):
            bench_ranks(lambda: None, iters=0, device="cpu")
    finally:
        dist.destroy_process_group()
