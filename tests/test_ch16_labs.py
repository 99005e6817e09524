"""Chapter 16 labs: a cache rewound to the wrong length is caught; cost models and the grader checked by hand
(every variant at two sizes and a wrong last token: tests/test_contract.py)."""
from types import SimpleNamespace

import pytest
import torch

import perflab as pl

from labs.ch16_inference_profiling import simulators as S
from labs.ch16_inference_profiling import solutions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cache_rewound_to_the_wrong_length_is_caught():
    """A decode that rewinds the cache one token too far (overwriting the prompt's last K/V) is wrong."""
    lab = pl.load("ch16.kv_cache")
    inputs = lab.make_inputs((2, 41, 3), "cpu", "float32", 7)
    ref = lab.reference(**inputs)

    @torch.no_grad()
    def off_by_one(model, prompts, first, cache, n_new):
        cache.set_lengths([prompts.shape[1] - 1] * prompts.shape[0])
        nxt, out = first, []
        for _ in range(n_new):
            nxt = model(nxt[:, None], cache)[:, -1].argmax(-1)
            out.append(nxt)
        return torch.stack(out, 1)
    assert torch.equal(solutions.decode_with_cache(**inputs), ref)
    assert not torch.equal(off_by_one(**inputs), ref)


def test_prefix_lab_computes_fewer_tokens():
    lab = pl.load("ch16.prefix_caching")
    inputs = lab.make_inputs((5, 70, 6), "cpu", "float32", 1)
    from labs.ch16_inference_profiling.prefix_caching import answer
    answer(inputs["model"], inputs["prompts"], prefix_cache=False)
    full = sum(t.computed_tokens for t in answer.last)
    answer(inputs["model"], inputs["prompts"], prefix_cache=True)
    cached = sum(t.computed_tokens for t in answer.last)
    assert full == 5 * 76 and cached == 76 + 4 * (76 - 64)     # 70-token document: 4 full 16-token blocks


def test_grader_passes_the_solution_and_fails_a_wrong_answer():
    assert pl.grade("ch16.kv_cache", solutions.decode_with_cache).correct

    def skips_a_token(model, prompts, first, cache, n_new):
        out = solutions.decode_with_cache(model, prompts, first, cache, n_new + 1)
        return out[:, 1:]
    assert not pl.grade("ch16.kv_cache", skips_a_token).correct


def test_attention_ops_and_table_16_5():
    assert S.attention_ops(4) == 10
    assert S.chunk_ops(20_000, 5_000) == [12_502_500, 37_502_500, 62_502_500, 87_502_500]
    assert sum(S.chunk_ops(20_000, 5_000)) == S.attention_ops(20_000) == 200_010_000
    assert S.chunk_ops(10, 4) == [10, 26, 19] and sum(S.chunk_ops(10, 4)) == 55
    assert "200.0M" in str(S.table_16_5())


def test_batching_model_by_hand():
    # 2 slots, outputs [5, 1, 1, 1]: static = (5+1) + (1+1) = 8 passes
    # continuous: it1 admit a,b (prefill) + decode; it2 admit c + decode; it3 admit d + decode; it4, it5 decode
    m = S.batching_model([5, 1, 1, 1], 2)
    assert m.static_passes == 8
    assert m.continuous_passes == 8
    assert m.static_slot_use == pytest.approx(8 / (2 * 6))
    assert S.batching_model([3, 3, 3, 3], 2).ratio == pytest.approx(1.0, abs=0.35)


def test_kv_calculator_by_hand():
    text = S.kv_calculator("gpt2-small (ours on GPU)", context=512, batch=16, dtype_bytes=2)
    assert "36.0 KiB per token" in text                  # 2 · 12 layers · 768 · 2 bytes = 36,864 B
    assert "0.28 GiB for 16 sequences" in text           # 36,864 · 512 · 16 / 2^30 = 0.28


def test_allocator_simulator_orders_the_policies():
    reqs = S.kv_requests(80, seed=3)
    r = {p: S.simulate_allocator(reqs, 8192, p) for p in ("max_len", "cap", "exact", "paged")}
    assert r["paged"].waste < 0.1 < r["exact"].waste <= r["cap"].waste <= r["max_len"].waste
    assert r["paged"].peak_running > r["exact"].peak_running >= r["max_len"].peak_running == 8
    # every request finishes under every policy
    assert all(v.steps > 0 for v in r.values())


def test_book_check_and_headlines_work_without_gpu_results():
    from labs.ch16_inference_profiling import book_check, serving
    text = str(book_check.table())
    assert "L6746" in text and "L6558" in text and "200M" in text
    sweep = serving.BatchSweep(200, {1: 100.0, 2: 190.0, 8: 640.0})
    assert "batch 8: 6.4× batch 1" in str(book_check.table(sweep=sweep))
    lines = serving.headlines(None, SimpleNamespace(ratio=2.5), None).splitlines()
    assert lines[0].endswith("not measured") and "2.5×" in lines[1] and "needs a CUDA GPU" in lines[2]
