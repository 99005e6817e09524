"""ch13 memory snapshot: the allocator-log replay by hand (alloc, free, phases, what was there before), the CPU
skip line and the profiler's timeline on the CPU, checkpointing lowering the step's peak, the dataclasses'
views, and the GPU recording where a GPU exists."""
from __future__ import annotations

import pytest
import torch

from labs.ch13_profiling_pytorch import memory_snapshot as MS

CUDA = torch.cuda.is_available()


def ev(action, addr, size):
    return {"action": action, "addr": addr, "size": size}


ENDS = {"forward": 3, "backward": 6, "optimizer": 8}        # the log's length as each phase ended


def test_replay_by_hand():
    trace = [ev("segment_alloc", 0, 4096), ev("alloc", 0, 100), ev("alloc", 100, 50),          # forward
             ev("alloc", 200, 30), ev("free_requested", 0, 100), ev("free_completed", 0, 100),  # backward
             ev("alloc", 300, 7), ev("free_completed", 999, 20),                                # optimizer
             ev("alloc", 400, 1)]                                                               # after
    rows, peak = MS.allocator_timeline(trace, start_bytes=1000, ends=ENDS)
    assert len(rows) == 7, "segment and free_requested events do not change allocated bytes"
    assert [r["forward"] for r in rows] == [100, 150, 150, 50, 50, 50, 50]
    assert rows[2]["backward"] == 30 and rows[4]["optimizer"] == 7
    assert rows[5]["before the step"] == 980, "a block allocated before recording is charged there when freed"
    assert rows[6]["after the step"] == 1, "an event past the last phase's end is 'after the step'"
    assert peak == 1000 + 150 + 30


def test_replay_catches_a_wrong_free_rule():
    """Counting frees at free_requested instead of free_completed would double-free here: the totals differ."""
    trace = [ev("alloc", 0, 100), ev("free_requested", 0, 100), ev("free_completed", 0, 100)]
    rows, _ = MS.allocator_timeline(trace, 0, {"forward": 3})
    assert sum(rows[-1].values()) == 0 and len(rows) == 2


@pytest.mark.skipif(CUDA, reason="the CPU tier")
def test_cpu_says_what_it_cannot_record_and_measures_what_it_can():
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        MS.record_gpu()
    c = MS.compare()
    assert c.skipped == MS.NEEDS_GPU and "\n" not in c.skipped
    assert c.plain.source.startswith("torch.profiler") and c.plain.allocator_peak_bytes is None
    assert 0 < c.checkpointed.peak_bytes < 0.9 * c.plain.peak_bytes, "checkpointing must lower the step's peak"
    assert "activation" in c.plain.frame.columns and "parameter" in c.plain.frame.columns
    params = sum(v.numel() * 4 for v in MS.M.init_state(MS.M.Config(d_model=52, layers=MS.LAYERS, seq=53), 0).values())
    assert c.plain.peak_by_category()["parameter"] == params, "the parameter category is exactly the weights"
    text = str(c.table())
    assert "needs a CUDA GPU" in text and "lowers this step's peak" in text
    fig = c.figure()
    assert {t.name for t in fig.data} >= {"activation", "parameter"}
    assert len({t.stackgroup for t in fig.data}) == 2


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_gpu_snapshot_agrees_with_the_allocator_counter():
    size = (4, 53, 52)
    plain, ckpt = MS.record_gpu(size, False), MS.record_gpu(size, True)
    for t in (plain, ckpt):
        # the counter counts whole allocator blocks; the log's sizes can be a few KB smaller in all
        assert t.peak_bytes == pytest.approx(t.allocator_peak_bytes, rel=1e-3)
        assert t.frame["forward"].max() > 0 and t.frame["backward"].max() > 0 and t.frame["optimizer"].max() > 0
    assert ckpt.frame["forward"].max() < 0.5 * plain.frame["forward"].max()
    assert ckpt.frame["backward"].max() > plain.frame["backward"].max(), "recomputation happens in backward"


def test_checkpoint_every_wraps_the_named_blocks_and_refuses_nonsense():
    c = MS.M.Config(layers=5)
    model = MS.checkpoint_every(MS.M.TinyLM(c), 2)
    assert [isinstance(b, MS.Checkpointed) for b in model.blocks] == [True, False, True, False, True]
    assert not any(isinstance(b, MS.Checkpointed) for b in MS.checkpoint_every(MS.M.TinyLM(c), 0).blocks)
    for bad in (-1, 1.5, "all"):
        with pytest.raises(ValueError, match="block stride"):
            MS.checkpoint_every(MS.M.TinyLM(c), bad)
