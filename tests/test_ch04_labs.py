"""Chapter 4: the ring schedule's edges, the grader on planted bugs, the α–β / overlap models, the torchrun
launch (variants and the gate on planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import json
import math

import pytest
import torch

import perflab as pl
import bugs_early as bugs
from labs.ch04_distributed import book_check, dist_bench, launch, models, ring_allreduce, solutions
from perflab.check import compare

LAB = "ch04.ring_allreduce"


def test_ring_with_more_ranks_than_elements():
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
    assert compare(ring_allreduce.ring_schedule(x), ring_allreduce.reference(x), "float32").ok


def test_planted_bugs_fail_the_grader():
    assert not pl.grade(LAB, bugs.ch04_ring_missing_a_step)
    assert not pl.grade(LAB, lambda x: x.clone())


def test_solution_passes_the_grader():
    assert pl.grade(LAB, solutions.my_allreduce).correct


def test_alpha_beta_models_by_hand():
    # ring, N=4, S=1e6 B, α=1e-5 s, β=1e9 B/s: 6α + 1.5·S/β = 6e-5 + 1.5e-3
    assert models.ring_allreduce_s(4, 1e6, 1e-5, 1e9) == pytest.approx(1.56e-3)
    # tree, N=4: 2·2α + 2·S/β = 4e-5 + 2e-3
    assert models.tree_allreduce_s(4, 1e6, 1e-5, 1e9) == pytest.approx(2.04e-3)
    assert models.ring_allreduce_s(1, 1e6, 1e-5, 1e9) == 0
    assert models.busbw(10.0, 2) == 10.0 and models.busbw(10.0, 8) == pytest.approx(17.5)
    assert models.ring_bytes_per_rank(8, 8.0) == pytest.approx(14.0)
    # crossover N=8, α=5 µs, β=50 GB/s: (14−6)α / (2 − 1.75)/β = 40e-6·50e9/0.25 = 8e6 B
    assert models.crossover_bytes(8, 5e-6, 50e9) == pytest.approx(8e6)
    s = 8e6
    assert models.ring_allreduce_s(8, s, 5e-6, 50e9) == pytest.approx(models.tree_allreduce_s(8, s, 5e-6, 50e9))


def test_overlap_and_accumulation_models():
    assert models.overlap_step_s(10, 20, 12, 0, overlap=False) == 42
    assert models.overlap_step_s(10, 20, 12, 2, overlap=True) == 32       # all but nothing hidden: max(20, 10) + 2
    assert models.overlap_step_s(10, 5, 12, 2, overlap=True) == 22        # comm longer than backward: 10 + 10 + 2
    assert "24% faster" in models.explain_overlap()


def test_bucket_default_is_mebibytes():
    assert book_check.default_bucket_bytes() == 25 * 1024 * 1024


def test_torchrun_gloo_measurement(tmp_path):
    """The real launch: 2 gloo processes write every table's numbers (skipped on a 1-GPU machine)."""
    if launch.gpu_count() == 1:
        pytest.skip("1 GPU: the launch needs 0 or ≥2")
    res = launch.measure(verbose=False)
    assert isinstance(res, dist_bench.DistBench) and res.world_size == 2
    assert [r.bytes for r in res.allreduce] == sorted(r.bytes for r in res.allreduce)
    assert all(r.median_s > 0 and math.isclose(r.busbw_gbps, r.algbw_gbps) for r in res.allreduce)
    calls = {r.bucket_cap_mb: r.allreduces_per_step for r in res.buckets}
    assert calls[min(calls)] > calls[max(calls)] >= 1                   # smaller buckets → more all-reduces
    acc = {r.no_sync: r.allreduces_per_step for r in res.accum}
    assert acc[False] == pytest.approx(4 * acc[True])
    for t in (launch.allreduce_table(res), launch.ddp_table(res), launch.bucket_table(res),
              launch.accum_table(res), book_check.table(res)):
        assert t.rows and "—" not in t.rows[0][1]
    (tmp_path / "r.json").write_text(json.dumps(res.to_json()))         # the JSON form reads back equal
    assert dist_bench.DistBench.from_json(json.loads((tmp_path / "r.json").read_text())) == res


def test_tables_without_a_measurement_say_so():
    t = launch.allreduce_table(None)
    assert "not measured here" in t.title
    assert "4.0×" not in str(book_check.table(None)) and "25 MiB" in str(book_check.table(None))


def test_tables_read_the_h200_pair_reference(tmp_path, monkeypatch):
    fake = {"backend": "nccl", "world_size": 2, "device": "NVIDIA H200", "params": 10, "grad_bytes": 40,
            "allreduce": [{"bytes": 1 << 20, "median_s": 1e-4, "p20_s": 1e-4, "p80_s": 1e-4, "n": 5,
                           "algbw_gbps": 10.5, "busbw_gbps": 10.5}],
            "ddp": [{"mode": "one all-reduce per gradient after backward", "median_s": 0.010, "p20_s": 0.01, "p80_s": 0.01},
                    {"mode": "DDP (overlapped, 25 MB buckets)", "median_s": 0.007, "p20_s": 0.007, "p80_s": 0.007}],
            "buckets": [], "accum": [{"no_sync": False, "micro_batches": 4, "median_s": 1, "p20_s": 1, "p80_s": 1,
                                      "allreduces_per_step": 8.0},
                                     {"no_sync": True, "micro_batches": 4, "median_s": 1, "p20_s": 1, "p80_s": 1,
                                      "allreduces_per_step": 2.0}]}
    path = tmp_path / "nvidia-h200x2.json"
    path.write_text(json.dumps({"manifest": {}, "records": [], "ch04": fake}))
    monkeypatch.setattr(launch, "REFERENCE", path)
    monkeypatch.setattr(launch, "REPO", tmp_path)
    t = launch.allreduce_table(None)
    assert t.rows == [["1 MiB", "—", "—", "—", "0.100", "10.5"]]
    assert "H200-pair reference: 2 × NVIDIA H200, backend nccl" in t.notes[-1]
    bc = book_check.table(None)
    assert bc.rows[0][3] == "30%" and bc.rows[2][3] == "4.0×"
    assert launch.ddp_table(None).rows[1][-1] == "7.000"
