"""KV reservation policies of the continuous engine (max_len, the final-length oracle, on demand with
preemption) and the Triton decode kernel inside the engine: all give the plain greedy loop's tokens."""
import pytest
import torch

from labs.inference.generate import generate
from labs.inference.model import ModelConfig, build_model, default_dtype
from labs.inference.scheduler import EngineConfig, EngineStats, serve
from labs.inference.workload import make_workload


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig.tiny(), "cpu", seed=0)


@pytest.fixture(scope="module")
def workload(model):
    reqs = make_workload(12, vocab_size=model.config.vocab_size, prompt_len=("uniform", 1, 40),
                         output_len=("uniform", 4, 30), seed=5)
    want = {r.id: generate(model, [list(r.prompt)], r.max_new_tokens, use_cache=False)[0] for r in reqs}
    return reqs, want


def run(model, reqs, **cfg):
    stats = EngineStats()
    traces = serve(model, reqs, EngineConfig(**cfg), stats=stats)
    stats.allocator.check()
    assert stats.allocator.stats().owned == 0, "blocks leaked after every request finished"
    return traces, stats


@pytest.mark.parametrize("reserve", ["final", "max_len", "on_demand"])
@pytest.mark.parametrize("blocks", [None, 24])
def test_every_reservation_policy_gives_the_plain_loops_tokens(model, workload, reserve, blocks):
    reqs, want = workload
    traces, stats = run(model, reqs, max_batch=6, block_size=4, num_blocks=blocks, reserve=reserve, chunk=11)
    assert all(t.tokens == want[t.id] for t in traces)


def test_on_demand_preempts_when_the_pool_runs_dry_and_recomputes(model, workload):
    reqs, want = workload
    traces, stats = run(model, reqs, max_batch=6, block_size=4, num_blocks=20, reserve="on_demand")
    assert stats.preempted > 0, "a 19-block pool for 6 growing sequences must preempt"
    assert all(t.tokens == want[t.id] for t in traces)
    prompt_tokens = sum(len(r.prompt) for r in reqs)
    assert sum(t.computed_tokens for t in traces) > prompt_tokens, "a preempted sequence is recomputed"


def test_same_reservation_same_concurrency_and_on_demand_admits_more(model):
    """The attribution the ch16 table makes: blocks reserving max_len admit exactly as many sequences as
    max_len slabs; on-demand blocks admit more without knowing any output length."""
    reqs = make_workload(16, vocab_size=model.config.vocab_size, prompt_len=("uniform", 4, 20),
                         output_len=("uniform", 2, 12), seed=8)
    max_len = -(-max(len(r.prompt) + r.max_new_tokens for r in reqs) // 4) * 4     # whole 4-token blocks
    budget = 4 * max_len
    peak = {}
    for name, block, reserve in (("slab", max_len, "max_len"), ("blocks", 4, "max_len"), ("on_demand", 4, "on_demand")):
        _, st = run(model, reqs, max_batch=16, block_size=block, num_blocks=budget // block + 1, reserve=reserve)
        peak[name] = st.peak_running
    assert peak["slab"] == peak["blocks"] == 4
    assert peak["on_demand"] > 2 * peak["slab"]


def test_triton_decode_kernel_in_the_engine_matches_the_plain_loop(model):
    """The kernel the engine uses on a GPU, here through Triton's interpreter (slow: a tiny workload)."""
    reqs = make_workload(2, vocab_size=model.config.vocab_size, prompt_len=("uniform", 3, 20),
                         output_len=("fixed", 4), seed=4)
    want = {r.id: generate(model, [list(r.prompt)], r.max_new_tokens, use_cache=False)[0] for r in reqs}
    traces, _ = run(model, reqs, max_batch=2, block_size=5, attention="triton")
    assert all(t.tokens == want[t.id] for t in traces)


def test_config_errors_and_default_dtype():
    with pytest.raises(ValueError, match="reserve must be"):
        EngineConfig(reserve="oracle")
    with pytest.raises(ValueError, match="attention must be"):
        EngineConfig(attention="flash")
    assert default_dtype("cpu") == torch.float32 and default_dtype("cuda") == torch.bfloat16
    assert build_model(ModelConfig.tiny(), "cpu", dtype=None).wte.weight.dtype == torch.float32


def test_alone_too_big_for_the_pool_is_refused(model):
    reqs = make_workload(1, vocab_size=model.config.vocab_size, prompt_len=("fixed", 10), output_len=("fixed", 30),
                         seed=1)
    with pytest.raises(ValueError, match="num_blocks"):
        serve(model, reqs, EngineConfig(max_batch=2, block_size=4, num_blocks=6, reserve="on_demand"))
