"""Every engine feature gives the plain greedy loop's tokens, token for token: static and continuous
batching, chunked prefill, paged KV at several block sizes, prefix caching, the static CUDA-graph step."""
import pytest
import torch

from labs.inference.cuda_graph import GraphDecoder
from labs.inference.generate import generate
from labs.inference.model import ModelConfig, build_model
from labs.inference.scheduler import EngineConfig, EngineStats, serve
from labs.inference.workload import Request, make_workload, skewed


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig.tiny(), "cpu", seed=0)


def plain(model, reqs):
    return {r.id: generate(model, [list(r.prompt)], r.max_new_tokens, use_cache=False)[0] for r in reqs}


@pytest.fixture(scope="module")
def workload(model):
    reqs = make_workload(14, vocab_size=model.config.vocab_size, prompt_len=("uniform", 1, 45),
                         output_len=("uniform", 1, 23), seed=21)
    return reqs, plain(model, reqs)


CONFIGS = [
    EngineConfig(policy="static", max_batch=5),
    EngineConfig(max_batch=5),
    EngineConfig(max_batch=3, chunk=7),
    EngineConfig(max_batch=6, chunk=1),
    EngineConfig(max_batch=4, block_size=5),
    EngineConfig(max_batch=4, block_size=1, chunk=13),
    EngineConfig(max_batch=5, block_size=80),
    EngineConfig(max_batch=4, block_size=4, prefix_cache=True, chunk=9),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.policy}-b{c.max_batch}-c{c.chunk}-bs{c.block_size}"
                         f"{'-prefix' if c.prefix_cache else ''}")
def test_engine_matches_plain_loop(model, workload, cfg):
    reqs, want = workload
    traces = serve(model, reqs, cfg)
    assert [t.id for t in traces] == [r.id for r in reqs]
    for t in traces:
        assert t.tokens == want[t.id], f"request {t.id} differs under {cfg}"
        assert len(t.token_times) == len(t.tokens) and t.token_times == sorted(t.token_times)


def test_tight_pool_waits_for_blocks(model, workload):
    reqs, want = workload
    stats = EngineStats()
    # 9 blocks of 8 tokens: at most one or two requests fit at a time
    traces = serve(model, reqs, EngineConfig(max_batch=6, block_size=8, num_blocks=10), stats=stats)
    assert {t.id: t.tokens for t in traces} == want
    assert stats.peak_blocks <= 9
    stats.allocator.check()
    assert stats.allocator.stats().owned == 0, "every block is back after the run"


def test_prefix_cache_reuses_the_document(model):
    doc, *questions = make_workload(6, vocab_size=model.config.vocab_size, prompt_len=("fixed", 53),
                                    output_len=("fixed", 3), seed=3)         # one document, five questions
    reqs = [Request(i, doc.prompt + q.prompt[:7], 3, 0.0 if i == 0 else 1e-9) for i, q in enumerate(questions)]
    want = plain(model, reqs)
    stats = EngineStats()
    traces = serve(model, reqs, EngineConfig(max_batch=5, block_size=8, prefix_cache=True), stats=stats)
    assert {t.id: t.tokens for t in traces} == want
    assert traces[0].cached_tokens == 0 and traces[0].computed_tokens == 60
    for t in traces[1:]:                         # 53-token document: 6 full blocks of 8 are shared
        assert t.cached_tokens == 48 and t.computed_tokens == 60 - 48
    alloc = stats.allocator
    alloc.check()
    assert alloc.stats().cached >= 6         # the document's blocks stay cached (evictable) afterwards


def test_prefix_cache_never_reuses_the_last_prompt_token(model):
    doc = list(range(1, 17))                    # exactly two 8-token blocks
    reqs = [Request(0, tuple(doc), 2), Request(1, tuple(doc), 2, 1e-9)]
    traces = serve(model, reqs, EngineConfig(max_batch=2, block_size=8, prefix_cache=True))
    assert traces[1].cached_tokens == 8 and traces[1].computed_tokens == 8
    assert traces[0].tokens == traces[1].tokens == plain(model, reqs[:1])[0]


def test_static_step_matches_plain_loop(model):
    dec = GraphDecoder(model, 90, use_graph=False)
    g = torch.Generator().manual_seed(5)
    for n in (1, 17, 60):
        prompt = torch.randint(0, model.config.vocab_size, (n,), generator=g).tolist()
        assert dec.generate(prompt, 29) == generate(model, [prompt], 29)[0]
    with pytest.raises(ValueError, match="max_len"):
        dec.generate([1] * 80, 20)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graph_matches_plain_loop():
    m = build_model(ModelConfig.tiny(), "cuda", seed=0)
    dec = GraphDecoder(m, 100)
    prompt = list(range(3, 40))
    assert dec.generate(prompt, 30) == generate(m, [prompt], 30)[0]


def test_config_errors():
    with pytest.raises(ValueError, match="policy"):
        EngineConfig(policy="dynamic")
    with pytest.raises(ValueError, match="continuous"):
        EngineConfig(policy="static", chunk=8)
    with pytest.raises(ValueError, match="chunk"):
        EngineConfig(chunk=0)


def test_serve_rejects_requests_that_do_not_fit(model):
    with pytest.raises(ValueError, match="max_seq_len"):
        serve(model, [Request(0, (1,) * 500, 20)])
    with pytest.raises(ValueError, match="num_blocks"):
        serve(model, [Request(0, (1,) * 40, 9)], EngineConfig(block_size=8, num_blocks=4))


def test_skewed_workload_has_one_long_request_per_eight(model):
    reqs = skewed(40, 512, 100, seed=0)
    outs = [r.max_new_tokens for r in reqs]
    for i in range(0, 40, 8):
        block = outs[i:i + 8]
        assert sum(o >= 88 for o in block) == 1 and all(2 <= o <= 8 for o in block if o < 88)
