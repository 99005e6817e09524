"""Chapter 13: planted training bugs are caught, and the profiling, memory and book-check helpers give
hand-checked answers (every train_step and checkpointing variant at both sizes: tests/test_contract.py)."""
import pytest
import torch

import perflab as pl
from perflab.check import compare
from perflab.runner import availability

from labs.ch13_profiling_pytorch import book_check, checkpointing, memory, model as M, profiling, solutions
from labs.ch13_profiling_pytorch import train_step as T

def _check(lab, fn, size, seed, precision=None):
    inputs = lab.make_inputs(size, "cpu", "float32", seed)
    ref = lab.reference(**inputs)
    meta = getattr(fn, "perflab", None)
    return compare(fn(**inputs), ref, precision or (meta.precision if meta and meta.precision else "float32"))


def test_cuda_graph_needs_cuda_here():
    runs, _, why = availability(T.cuda_graph, pl.env())
    assert runs == torch.cuda.is_available()
    if not runs:
        assert "cuda" in why


def _stale_batch(x, y, state, device):
    """Planted bug: the input buffer is never refilled (a CUDA-graph static input left stale)."""
    x, y = x.clone(), y.clone()
    x[1:], y[1:] = x[0].clone(), y[0].clone()
    return T.train(x, y, state, device, fast_loader=True, sync_every_step=False)


def _no_zero_grad(x, y, state, device):
    """Planted bug: gradients accumulate across steps."""
    c = M.Config(batch=x.shape[1], seq=x.shape[2], d_model=state["emb.weight"].shape[1], steps=x.shape[0])
    model = M.TinyLM(c)
    model.load_state_dict(state)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr)
    losses = []
    for i in range(c.steps):
        loss = M.loss_fn(model, x[i], y[i])
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses)


@pytest.mark.parametrize("bug", [_stale_batch, _no_zero_grad], ids=lambda f: f.__name__)
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_planted_training_bugs_are_caught(bug, precision):
    # also at the bf16 tolerance: the gate of the bf16 variants must still see a wrong loop
    assert not _check(T, bug, T.SIZES["cpu"][0], seed=23, precision=precision)


def test_losses_fall():
    inputs = T.make_inputs(T.SIZES["cpu"][0], "cpu", seed=24)
    losses = T.reference(**inputs)
    assert losses[-1] < 0.95 * losses[0]        # the gate compares a curve that moves, not a constant


def test_checkpointing_planted_bug():
    def wrong(x, y, state):       # forgets to load the weights: gradients of some other model
        return checkpointing.checkpoint_blocks(x, y, {k: v * 1.01 for k, v in state.items()})
    assert not _check(checkpointing, wrong, checkpointing.SIZES["cpu"][0], seed=26)


def test_saved_bytes_hand_count():
    a = torch.randn(100, requires_grad=True)
    b = torch.randn(100, requires_grad=True)
    nbytes, _ = memory.saved_bytes(lambda: (a * b).sum())
    assert nbytes == 2 * 100 * 4                  # mul saves both fp32 operands
    assert memory.saved_bytes(lambda: (a * b).sum(), exclude=[a, b])[0] == 0


def test_checkpointing_saves_less():
    act = memory.compare((4, 53, 52))
    assert act.checkpointed.saved_bytes < 0.25 * act.plain.saved_bytes
    assert act.saved_share == act.checkpointed.saved_bytes / act.plain.saved_bytes
    assert act.table().rows[1][0] == "checkpoint every block" and act.table().rows[1][-1] == f"{act.saved_share:.0%}"
    from labs.ch13_profiling_pytorch import _claims
    assert _claims._saved_share(act) == act.saved_share and _claims._saved_share(None) is None


def test_range_nesting_book_vs_fixed():
    book, fixed = profiling.profile_step("book"), profiling.profile_step("fixed")
    (root_b,), (root_f,) = book.tree, fixed.tree
    assert [n.name for n in root_f.children] == ["forward", "backward", "optimizer_step"]
    assert [n.name for n in root_b.children] == ["forward", "backward"]
    assert [n.name for n in root_b.children[1].children] == ["optimizer_step"]
    assert "under backward" in profiling.nesting_summary(book, fixed)


def test_amdahl_hand_values():
    assert "×1.82" in profiling.amdahl("py::forward", 100)          # 1 / (1 − 0.45)
    assert "×1.05 faster" in profiling.amdahl("dataloader_iter_next", 50)   # 1 / (1 − 0.051)


def test_book_check_helpers():
    assert "4 metric names become separate words" in book_check.ncu_parse()
    modes = book_check.compile_modes()
    assert "reduce-overhead" in modes and "default adds no options" in modes
    assert "PYTORCH_CUDA_ALLOC_CONF" in book_check.allocator_names()


def test_grader_passes_solution_and_fails_bug():
    assert pl.grade("ch13.train_step", solutions.no_sync, seeds=(31,)).correct
    assert not pl.grade("ch13.train_step", _stale_batch, seeds=(31,)).correct
