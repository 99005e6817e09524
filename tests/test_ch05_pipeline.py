"""Chapter 5 storage readers and DataLoader configs (same bytes, same batches), planted bugs, calculators."""
from __future__ import annotations

import os

import pytest

from labs.ch05_data_pipeline import book_check, calculators as calc, loader, storage


# ---- storage: every reader returns exactly the bytes written ------------------------------------

@pytest.fixture(scope="module", params=[(131, 1_001, 3), (37, 4_099, 5)], ids=["131x1001", "37x4099"])
def dataset(request):
    n, record_bytes, shards = request.param
    with storage.SyntheticDataset(n_records=n, record_bytes=record_bytes, n_shards=shards, seed=n) as ds:
        yield ds
    assert not os.path.exists(ds.dir or "/nonexistent-ch05") and ds.dir is None


@pytest.mark.parametrize("reader", storage.READERS, ids=lambda r: r.name)
@pytest.mark.parametrize("cold", [False, True])
def test_reader_returns_the_written_bytes(dataset, reader, cold):
    assert storage.check(dataset, reader, cold) == ""


def test_dataset_is_removed_on_exit():
    with storage.SyntheticDataset(n_records=7, record_bytes=33, n_shards=2) as ds:
        path = ds.dir
        assert len(os.listdir(os.path.join(path, "npy"))) == 7
    assert not os.path.exists(path)


def _drops_last_byte(ds, cold=False):
    out = storage.shards_1m(ds, cold).copy()
    out[-1, -1] ^= 0xFF
    return out


def _reads_in_wrong_order(ds, cold=False):
    return storage.many_raw(ds, cold)[::-1].copy()


@pytest.mark.parametrize("fn", [_drops_last_byte, _reads_in_wrong_order])
def test_planted_reader_bugs_are_caught(dataset, fn):
    bad = storage.Reader("bad", fn, lambda ds: 1, lambda ds: 1)
    assert "differ" in storage.check(dataset, bad)


def test_request_counts_are_hand_checked():
    with storage.SyntheticDataset(n_records=10, record_bytes=1_000, n_shards=2) as ds:   # two 5,000-byte shards
        by = {r.name: r for r in storage.READERS}
        assert by["shards, 4 KiB reads"].requests(ds) == 4           # 2 requests per 5,000-byte shard
        assert by["shards, 1 MiB reads"].requests(ds) == 2
        assert by["many raw files"].files(ds) == 10


def test_time_reads_runs_and_checks(dataset):
    reads = storage.time_reads(dataset, readers=storage.READERS[2:4], modes=("warm",), rep_ms=5)
    t = reads.table()
    assert all(row[2] == "✅ same bytes" for row in t.rows) and len(t.rows) == 2
    names = [r.name for r in storage.READERS[2:4]]
    assert all(reads.seconds(n, "warm") > 0 for n in names) and reads.seconds(names[0], "cold") is None
    from labs.ch05_data_pipeline import _claims
    assert _claims.read_ratio(reads, (names[0], "warm"), (names[1], "warm")) == pytest.approx(
        reads.seconds(names[0], "warm") / reads.seconds(names[1], "warm"))


# ---- loader: every config yields the plain loop's batches ---------------------------------------

SMALL = loader.Pipeline(n_images=29, length=1_003, batch_size=7, fetch_us=0.0, step_ms=0.0)


@pytest.mark.parametrize("cfg", [c for c in loader.SWEEP if not c.get("pin_memory")], ids=loader.label)
def test_loader_config_yields_the_same_batches(cfg):
    assert loader.check(SMALL, cfg, n_batches=6) == ""


def test_planted_loader_bug_is_caught(monkeypatch):
    real = loader.expected_batches
    monkeypatch.setattr(loader, "expected_batches", lambda p, n: [b.flip(0) for b in real(p, n)])
    assert "differs" in loader.check(SMALL, {"num_workers": 0})


def test_loader_sweep_runs_quickly():
    p = loader.Pipeline(n_images=13, batch_size=5, fetch_us=200.0, step_ms=1.0)
    s = loader.run_sweep([{"num_workers": 0}, {"num_workers": 0, "step_ms": 0.0},
                          {"num_workers": 1, "prefetch_factor": 2}], p, rep_ms=5)
    assert [q.why for q in s.points] == [""] * 3 and all(q.median_s > 0 for q in s.points)
    assert [row[1] for row in s.table().rows] == ["✅ same batches"] * 3
    assert s.stall is not None and 0 < s.stall.busy_before <= 1
    assert s.step_ratio("workers=0", "workers=0, step=0 ms") > 1            # the step adds to the loader's time
    assert "DataLoader sweep" in str(s)                                    # it shows as its table


# ---- calculators, against hand-computed values ---------------------------------------------------

def test_bandwidth_calculators():
    assert calc.read_bandwidth_gbps(8, 200) == pytest.approx(1.6)                 # L2012
    assert calc.read_bandwidth_gbps(72, 200) == pytest.approx(14.4)               # L2014
    assert calc.mb_per_s_per_gpu(sample_kb=150, samples_per_s=2000) == pytest.approx(300)
    assert "1.60 GB/s aggregate" in calc.explain_io(8, 200, 1000, 1.25)
    assert calc.striped_gbps(4, 0.5) == pytest.approx(2.0)                         # L2223
    assert calc.nic_limit_tbps(68, 2, 100) == pytest.approx(1.7)                  # 68 × 25 GB/s
    with pytest.raises(ValueError, match="gpus"):
        calc.read_bandwidth_gbps(0, 200)


def test_stall_and_pipeline_models():
    assert calc.stall_speedup(0.30, 0.05) == pytest.approx(0.95 / 0.70)          # ≈ 1.357, not 6× (L2267)
    assert calc.stall_speedup(0.5, 0.0) == pytest.approx(2.0)
    assert calc.scaling_efficiency(5, 8) == pytest.approx(0.625)                  # L2382
    assert calc.queue_depth(8, 4) == 32 and calc.queue_depth(0, 2) == 0           # L2299
    assert calc.pipeline_batch_s(11, 9, 0) == 20
    assert calc.pipeline_batch_s(11, 9, 1) == 11 and calc.pipeline_batch_s(11, 9, 2) == 9
    assert "input pipeline" in calc.explain_pipeline(14, 9, 1)
    with pytest.raises(ValueError, match="wait fractions"):
        calc.stall_speedup(1.0, 0.0)


def test_book_check_flags_l2267():
    rows = book_check.table(measured_stall=loader.Stall(0.4, 0.9, 2.2)).rows
    l2267 = next(r for r in rows if r[0].startswith("L2267 ·"))
    assert l2267[1] == "6×" and l2267[2] == "1.36×"
    assert any("1.7 TB/s" in r[4] for r in rows)
