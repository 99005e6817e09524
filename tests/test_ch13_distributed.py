"""Chapter 13, DDP vs FSDP: the 2-process gloo run, loss equality with one process, FSDP's half share of
the model state, a planted bug caught, the ring-model arithmetic, and the H200-pair reference file."""
from __future__ import annotations

import dataclasses
import json

import pytest

from labs.ch04_distributed import launch
from labs.ch13_profiling_pytorch import book_check, dist_launch as D, dist_train


@pytest.fixture(scope="module")
def res():
    """One real launch: torchrun, 2 gloo processes on the CPU (any machine, GPUs or not)."""
    r = D.measure(verbose=False, tier="cpu")
    assert r is not None, "torchrun with 2 gloo processes did not produce a result"
    return r


def test_gloo_run_finishes(res):
    assert isinstance(res, dist_train.DistTrain)
    assert res.backend == "gloo" and res.world_size == 2 and res.bug == "none"
    runs = res.by_strategy()
    assert set(runs) == {"single", "ddp", "fsdp"}
    for r in runs.values():
        assert not r.error, r.error
        assert len(r.losses) == res.config.steps and r.median_s > 0
    assert runs["ddp"].batch_per_rank * 2 == runs["single"].batch_per_rank
    assert dist_train.DistTrain.from_json(json.loads(json.dumps(res.to_json()))) == res   # the JSON reads back


def test_losses_match_one_process_step_for_step(res):
    check = D.loss_check(res)
    assert set(check) == {"ddp", "fsdp"}
    for name, c in check.items():
        assert c.ok and c.max_rel <= D.TOL["gloo"] == 1e-4, (name, c)
    runs = {r.strategy: r.losses for r in res.runs}
    assert runs["single"][-1] < 0.5 * runs["single"][0]          # it trains: the check compares moving numbers


def test_fsdp_holds_half_of_ddps_state_per_rank(res):
    runs = res.by_strategy()
    ddp, fsdp = runs["ddp"], runs["fsdp"]
    assert D.held(ddp)[0] == D.held(ddp)[1] == D.held(runs["single"])[0]      # DDP: a full replica per rank
    for kind in ("params", "grads", "optimizer"):
        d = getattr(ddp.state_bytes[0], kind)
        parts = [getattr(s, kind) for s in fsdp.state_bytes]
        assert all(0.49 * d <= p <= 0.51 * d for p in parts), (kind, parts, d)   # ½ within 1% (odd dim-0 chunks)
    # the shards add up to the replica: params and grads exactly, AdamW's per-parameter step counter once per rank
    assert sum(s.params for s in fsdp.state_bytes) == ddp.state_bytes[0].params == 4 * res.params
    assert sum(s.grads for s in fsdp.state_bytes) == ddp.state_bytes[0].grads
    assert res.params == 71_321


def test_collectives_per_step(res):
    runs = res.by_strategy()
    layers = res.config.layers
    assert runs["single"].collectives == {}
    assert set(runs["ddp"].collectives) == {"all-reduce"}
    assert runs["ddp"].collectives["all-reduce"].calls == 1                         # one 25 MiB bucket holds 285 KB
    f = runs["fsdp"].collectives
    assert f["all-gather"].calls == 2 * layers + 1                                 # root once, each block fwd + bwd
    assert f["reduce-scatter"].calls == layers + 1
    assert 1.3 < D.sent_bytes(runs["fsdp"], 2) / D.sent_bytes(runs["ddp"], 2) < 1.6  # ≈ 3/2 of DDP's bytes


def test_planted_bug_is_caught():
    """Rank 1 seeds its weights and data with seed + 1: DDP hides the weights (it broadcasts rank 0's), not
    the data; FSDP keeps rank 1's wrong shards. Both miss the 1-process losses by far more than the tolerance."""
    bad = D.measure(verbose=False, tier="cpu", bug="seed")
    assert bad is not None and bad.bug == "seed"
    check = D.loss_check(bad)
    assert set(check) == {"ddp", "fsdp"}
    assert all(not c.ok and c.max_rel > 100 * c.tol for c in check.values()), check
    assert "❌" in str(D.table(bad))


def test_loss_check_by_hand():
    def run_of(**losses):
        return dist_train.DistTrain(backend="gloo", world_size=2, runs=tuple(
            dist_train.StrategyRun(strategy=name, losses=tuple(ls)) for name, ls in losses.items()))
    res = run_of(single=[2.0, 1.0, 0.5],
                 ddp=[2.0, 1.00005, 0.5],                            # 5e-5 relative: inside 1e-4
                 fsdp=[2.0, 1.0, 0.5002])                            # 4e-4 relative at step 2: outside
    c = D.loss_check(res)
    assert c["ddp"].ok and c["ddp"].max_rel == pytest.approx(5e-5) and c["ddp"].step == 1
    assert not c["fsdp"].ok and c["fsdp"].step == 2 and c["fsdp"].max_rel == pytest.approx(4e-4)
    assert D.loss_check(res, tol=1e-3)["fsdp"].ok
    short = run_of(single=[2.0, 1.0, 0.5], ddp=[2.0, 1.0, 0.5], fsdp=[2.0, 1.0])   # a run cut short never passes
    assert not D.loss_check(short, tol=1.0)["fsdp"].ok


def test_ring_model_bytes_by_hand():
    C = dist_train.Collective
    ddp = dist_train.StrategyRun("ddp", collectives={"all-reduce": C(calls=1, bytes=1000)})
    fsdp = dist_train.StrategyRun("fsdp", collectives={"all-gather": C(calls=3, bytes=2000),
                                                       "reduce-scatter": C(calls=2, bytes=1000)})
    assert D.sent_bytes(ddp, 2) == 1000                              # 2·(N−1)/N·B, N = 2
    assert D.sent_bytes(ddp, 4) == 1500
    assert D.sent_bytes(fsdp, 2) == 1500                             # (N−1)/N·(2000 + 1000)


def test_state_bytes_walk_counts_local_tensors():
    import torch
    m = torch.nn.Linear(3, 5)                                        # 15 + 5 parameters
    opt = torch.optim.AdamW(m.parameters(), lr=0.1)
    m(torch.randn(2, 3)).sum().backward()
    opt.step()
    s = dist_train.state_bytes(m, opt)
    assert s == dist_train.StateBytes(params=80, grads=80, optimizer=2 * 80 + 2 * 4)   # exp_avg, exp_avg_sq, 2 steps


def test_tables_without_a_measurement_say_so(monkeypatch, tmp_path):
    monkeypatch.setattr(launch, "REFERENCE", tmp_path / "missing.json")
    t = D.table(None)
    assert "not measured here" in t.title and "not recorded yet" in t.notes[-1]
    assert D.loss_table(None).rows == []


def test_one_gpu_machine_prints_one_line(monkeypatch, capsys):
    monkeypatch.setattr(D, "gpu_count", lambda: 1)
    assert D.measure() is None
    assert capsys.readouterr().out.count("\n") == 1


def test_reference_is_added_beside_ch04(monkeypatch, tmp_path, res):
    path = tmp_path / "nvidia-h200x2.json"
    ch04 = {"backend": "nccl", "world_size": 2, "device": "NVIDIA H200", "allreduce": []}
    path.write_text(json.dumps({"manifest": {"device": "x"}, "records": [], "ch04": ch04}))
    monkeypatch.setattr(launch, "REFERENCE", path)
    monkeypatch.setattr(D, "measure", lambda: res)
    assert D.main(["--reference"]) == 0
    data = json.loads(path.read_text())
    assert data["ch04"] == ch04 and data["manifest"] == {"device": "x"} and data["records"] == []
    assert launch.reference() == launch.DistBench.from_json(ch04)       # Chapter 4's reader is unchanged
    assert D.reference().backend == "gloo" and D.reference().manifest
    t = D.table(None)                                                 # 1-GPU machine: the reference's own rows
    assert "nothing measured here" in t.title and len(t.columns) == 9 and t.rows[2][-1].startswith("✅")
    assert "H200-pair reference: 2 × CPU processes" in t.notes[-1]
    mine = D.table(res)                                               # a measurement: the pair beside it
    assert mine.columns[-2:] == ["H200×2 peak", "H200×2 ms"] and all(r[-1] != "—" for r in mine.rows)
    assert [len(r) for r in D.loss_table(None).rows] == [4] * res.config.steps


def test_book_check_reads_the_fsdp_signature():
    s = book_check.fsdp_args()
    assert "activation_checkpointing_policy no" in s and "cpu_offload yes" in s


def test_a_launch_past_its_limit_is_stopped(capsys):
    assert D.measure(timeout_s=1, tier="cpu") is None
    assert "did not finish in 1 s" in capsys.readouterr().out


def test_missing_fsdp2_is_reported_not_raised(monkeypatch, tmp_path, res):
    monkeypatch.setattr(launch, "REFERENCE", tmp_path / "missing.json")
    why = "torch 2.3 has no torch.distributed.fsdp.fully_shard (FSDP2, torch ≥ 2.6)"
    old = dataclasses.replace(res, runs=tuple(r for r in res.runs if r.strategy != "fsdp")
                              + (dist_train.StrategyRun("fsdp", error=why),))
    assert set(D.loss_check(old)) == {"ddp"}
    row = D.table(old).rows[2]
    assert row[0] == "FSDP2 (fully_shard)" and row[1] == why[:60] and set(row[2:]) == {"—"}
