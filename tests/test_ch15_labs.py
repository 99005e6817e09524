"""Chapter 15 labs: speculative output = the target's greedy output, tensor parallel = one process (in-process
and under torchrun), and the grader (shape, variants at two sizes, planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import threading

import pytest
import torch

import perflab as pl
import bugs_late as bugs
from labs.ch15_parallel_decoding import solutions, spec_decode as sd, tp
from labs.inference.kv_cache import KVCache
from labs.inference.model import ModelConfig, build_model


def test_greedy_verify_inputs_cover_every_accepted_length():
    inp = pl.load("ch15.greedy_verify").make_inputs((61, 5, 101), "cpu", "int64", seed=3)
    out = pl.load("ch15.greedy_verify").reference(**inp)
    accepted = (out >= 0).sum(1) - 1
    assert set(accepted.tolist()) == set(range(6))


# ---- the exercise (variants at two sizes and planted bugs: tests/test_contract.py) ---------------------

def test_grader_fails_wrong_and_passes_the_solution():
    assert not pl.grade("ch15.greedy_verify", bugs.ch15_verify_off_by_one)
    assert not pl.grade("ch15.greedy_verify", lambda logits, draft: logits.argmax(-1))
    g = pl.grade("ch15.greedy_verify", solutions.vectorized)
    assert g.correct


# ---- speculative decoding: the output is the target's greedy output ----------------------------

@pytest.fixture(scope="module")
def pair():
    return sd.setup("cpu", "cpu", seed=7, extra=8)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("k", [1, 3, 8])
def test_speculative_equals_greedy(pair, p, k):
    target, draft, prompt, greedy = pair
    n = 29
    out, st = sd.speculative_generate(target, sd.ControlledDraft(draft, greedy, p, seed=k), prompt, n, k)
    assert out == greedy[:n] == sd.target_greedy(target, prompt, n)
    assert sum(st.per_round) >= n - 1 and st.rounds == len(st.per_round)
    if p == 1.0:
        assert st.alpha == 1 and st.rounds == -(-(n - 1) // (k + 1))        # every round adds k+1 tokens
    if p == 0.0:
        assert st.alpha == 0 and st.rounds == n - 1                           # every round adds one token


def test_controlled_draft_match_rate(pair):
    target, draft, prompt, greedy = pair
    d = sd.ControlledDraft(draft, greedy, 0.7, seed=1)
    same = sum(a == b for a, b in zip(d.tokens, greedy)) / len(greedy)
    assert 0.5 < same < 0.9 and all(0 <= t < draft.config.vocab_size for t in d.tokens)
    with pytest.raises(ValueError, match="must be in"):
        sd.ControlledDraft(draft, greedy, 1.5)


def test_k_sweep_check_line():
    def row(k, speedup, predicted):             # only k, speedup and predicted matter to check()
        return sd.SweepRow(k, True, 0.8, 2.0, 2.0, 1.0, 0.1, speedup, predicted, predicted)
    rows = [row(2, 1.5, 1.6), row(4, 1.9, 2.0)]
    ok = sd.KSweep(0.8, 10, "cpu", 1.0, 0.1, rows)
    assert ok.check().startswith("✅") and "k=2" in ok.check()
    bad = sd.KSweep(0.8, 10, "cpu", 1.0, 0.1, rows + [row(8, 1.0, 2.0)])
    assert bad.check().startswith("❌") and "k=8" in bad.check()


# ---- tensor parallel ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    return build_model(ModelConfig.tiny(), "cpu", seed=3)


@pytest.mark.parametrize("world", [2, 4])
def test_tp_simulation_equals_one_process(tiny, world):
    tokens = torch.randint(0, 512, (2, 23), generator=torch.Generator().manual_seed(0))
    shards = [tp.shard_model(tiny, r, world) for r in range(world)]
    with torch.no_grad():
        full = tiny(tokens)
    assert torch.allclose(tp.simulate(shards, tokens), full, atol=1e-5, rtol=1e-4)


def _lockstep_forward(model, world, tokens, caches):
    """Run tp.forward on `world` threads; all_reduce = sum through a shared slot and a barrier."""
    barrier, slots, outs = threading.Barrier(world), [None] * world, [None] * world

    def rank(r):
        def all_reduce(t):
            slots[r] = t.clone()
            barrier.wait()
            total = sum(slots)
            barrier.wait()
            t.copy_(total)
        outs[r] = tp.forward(tp.shard_model(model, r, world), tokens, all_reduce, caches[r])
    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outs


def test_tp_forward_with_kv_cache_equals_one_process(tiny):
    world, g = 2, torch.Generator().manual_seed(1)
    prompt = torch.randint(0, 512, (3, 11), generator=g)
    step = torch.randint(0, 512, (3, 1), generator=g)
    shard_cfg = tp.shard_model(tiny, 0, world).config
    caches = [KVCache.empty(shard_cfg, 3, 16) for _ in range(world)]
    full_cache = KVCache.empty(tiny.config, 3, 16)
    with torch.no_grad():
        ref = [tiny(prompt, full_cache), tiny(step, full_cache)]
    got = [_lockstep_forward(tiny, world, prompt, caches), _lockstep_forward(tiny, world, step, caches)]
    for r, outs in zip(ref, got):
        for o in outs:                       # every rank ends with the same, full logits
            assert torch.allclose(o, r, atol=1e-5, rtol=1e-4)


def test_shard_rejects_uneven_split(tiny):
    with pytest.raises(ValueError, match="must divide"):
        tp.shard_model(tiny, 0, 3)


def test_torchrun_tp_equals_one_process():
    """The real launch: 2 processes with gloo (GPUs hidden on a 1-GPU machine, NCCL on ≥2)."""
    res = tp.launch(verbose=False)
    assert res and res.world_size == 2 and [r.phase.split()[0] for r in res.runs] == ["prefill", "decode"]
    for r in res.runs:
        assert r.tokens_equal and r.max_abs_diff < 1e-4, r
        assert r.single_s > 0 and r.tp_s > 0 and r.allreduce_s > 0
    assert "✅" in str(tp.table(res)) and "not measured" in str(tp.table(None))


def test_whole_decodes_are_timed_with_at_least_five_samples(monkeypatch):
    """A decode is a host-driven loop of ~0.45 s on an H100; CUDA events in a 100-300 ms window timed ONE
    call there. The lab and the k sweep use the CPU timer, which takes >= 5 whole calls however slow."""
    import time
    m = pl.bench(lambda: time.sleep(0.12), rep_ms=100, mode="cpu")
    assert m.n >= 5 and m.median >= 0.12
    assert pl.load("ch15.speculative").options.timing == "cpu"
    modes, real = {}, pl.bench

    def spy(fn, **kw):
        modes[kw.get("label")] = kw.get("mode")
        return real(fn, **{**kw, "rep_ms": 1})
    monkeypatch.setattr(pl, "bench", spy, raising=False)
    sweep = sd.k_sweep(p=0.8, ks=(2,))
    assert modes["target greedy"] == modes["draft greedy"] == modes["spec k=2"] == "cpu"
    assert sweep.rows[0].equal and sweep.target_s > 0


def test_tp_claims_read_a_tprun_and_catch_wrong_tokens():
    from labs.ch15_parallel_decoding._claims import CLAIMS
    run = dict(max_abs_diff=1e-6, tokens_equal=True, single_s=2e-3, tp_s=4e-3, allreduce_s=1e-3, allreduce_bytes=1)
    def tp_run(**change):
        return tp.TPRun(2, "gloo", "CPU", {}, (tp.PhaseRun("prefill 1×8", **run),
                                              tp.PhaseRun("decode B=2", **{**run, **change})))
    same, slower = [c for c in CLAIMS if c.lab == "ch15.tp"]
    assert same.measure(tp_run()) and not same.measure(tp_run(tokens_equal=False))
    assert slower.measure(tp_run()) == 0.5 and tp_run().phase("decode").speedup == 0.5
