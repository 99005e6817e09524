"""Chapter 13's measured outcomes as checked claims (perflab.claims), beside the book check.

Lab claims read ``pl.run`` records; ``ch13.activations`` is the Checkpointing ``memory.compare()`` returns and
``ch13.ddp_fsdp`` the DistTrain ``dist_launch.measure()`` returns (``values={...}`` in ``claims.show``)."""
from perflab.claims import About, Faster, Holds, ratio

_TINY = ("this tiny model is launch-bound: autocast adds cast kernels and the matmuls are too small for the "
         "tensor cores to pay them back")


def _saved_share(act):
    """Saved activations with checkpointing over storing every activation (memory.Checkpointing)."""
    return getattr(act, "saved_share", None)


def _runs(res):
    from labs.ch13_profiling_pytorch.dist_train import DistTrain
    return res.by_strategy() if isinstance(res, DistTrain) else {}


def _held_share(res):
    """Largest FSDP rank's params + grads + AdamW bytes over the largest DDP rank's."""
    from labs.ch13_profiling_pytorch.dist_launch import held
    runs = _runs(res)
    if not {"ddp", "fsdp"} <= runs.keys():
        return None
    return max(held(runs["fsdp"])) / max(held(runs["ddp"]))


def _losses_match(res):
    from labs.ch13_profiling_pytorch.dist_launch import loss_check
    check = loss_check(res) if _runs(res) else {}
    return all(c.ok for c in check.values()) if check else None


def _step_s(strategy):
    """A reader of one strategy's median step time (None where it did not run or was not timed)."""
    return lambda res: getattr(_runs(res).get(strategy), "median_s", None)


CLAIMS = [
    Faster("ch13.train_step", "fast_loader", than="baseline", by=1.3, tier="gpu",
           text="slicing a pinned batch and copying it asynchronously is ≥ 1.3× the per-sample Python loader"),
    Faster("ch13.train_step", "no_sync", than="fast_loader", by=0.95, tier="gpu",
           text="on a GPU, dropping the per-step loss.item() sync never costs time (≥ 0.95×) (the gain depends on how far the host runs ahead of the GPU: compare the reference columns)"),
    Faster("ch13.train_step", "no_sync", than="bf16", by=1.1, tier="gpu", why_not={"gpu": _TINY},
           text="on this tiny model bf16 autocast is slower than fp32, even on a GPU with bf16 tensor cores"),
    Faster("ch13.train_step", "fused_adamw", than="bf16", by=1.15, tier="gpu",
           text="the fused AdamW (one kernel for every parameter) gains ≥ 1.15× over the for-loop AdamW"),
    Faster("ch13.train_step", "cuda_graph", than="compiled", by=4.0, tier="gpu",
           text="the CUDA graph of the whole step is the largest single gain: ≥ 4× the compiled step"),
    About("ch13.checkpointing", "store_all", "checkpoint_blocks", 1.2, within=0.2, tier="gpu",
          text="recomputing every block in backward costs about +20% (±20%) forward + backward time"),
    Holds("ch13.activations", "checkpointing 4 blocks keeps ≤ 25% of the saved activations", _saved_share,
          at_most=0.25, unit="%"),
    Holds("ch13.ddp_fsdp", "each FSDP rank holds ≤ 60% of DDP's parameter + gradient + AdamW bytes (2 ranks)",
          _held_share, at_most=0.6, unit="%"),
    Holds("ch13.ddp_fsdp", "DDP and FSDP reproduce the one-process losses step for step", _losses_match),
    Holds("ch13.ddp_fsdp", "on this tiny model FSDP's step is slower than DDP's (its collectives cost more than "
          "the arithmetic)", ratio(_step_s("fsdp"), _step_s("ddp")), at_least=1.0),
]
