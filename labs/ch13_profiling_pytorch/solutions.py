"""Answer to the chapter 13 exercise (lab ``ch13.train_step``).

The starter loop builds every batch through Python lists and calls ``loss.item()`` every step. The answer
slices a pinned batch and copies it with ``non_blocking=True``, and keeps the losses on the device so the
host reads them once, at the end. It is the lab's ``no_sync`` variant."""
from labs.ch13_profiling_pytorch.train_step import no_sync


from labs.ch13_profiling_pytorch.checkpointing import checkpoint_blocks  # noqa: E402
from perflab.exercise import Exercise, HostSyncs, Holds, Speedup, Step, probe  # noqa: E402


def _recomputes(c):
    plain, _ = probe(c.lab.get_variant("store_all"), c.inputs)
    mine = c.probe.ops["mm"] + c.probe.ops["addmm"] + c.probe.ops["bmm"]
    base = plain.ops["mm"] + plain.ops["addmm"] + plain.ops["bmm"]
    return mine > base, f"{mine} matmuls per step vs {base} when every activation is stored"


RECOMPUTES = Holds("checkpointed blocks run their forward again in backward", _recomputes)
EXERCISES = [
    Exercise("ch13.train_step", answer=no_sync,
             evidence="H100 run 2026-12-07 at (24, 125, 256): baseline 147 ms, no_sync 65 ms (2.2×); the matmul "
                      "ceiling fraction (2-5%) says little for a small model, so the GPU grade is a speedup",
             steps=[Step("no host sync inside the loop",
                         hint="losses[i] = loss.detach(): the host reads the losses once, after the loop",
                         cpu=[HostSyncs(at_most=0)],
                         gpu=[HostSyncs(at_most=0), Speedup(at_least=1.6, over="baseline")])]),
    Exercise("ch13.checkpointing", answer=checkpoint_blocks,
             evidence="the peak drops by the stored activations (claims: 59% on an H200, 36% on a CPU); graded by "
                      "structure on every tier: the wrapped blocks recompute their forward",
             steps=[Step("wrap blocks with checkpointing", hint="net = ms.checkpoint_every(net, EVERY)",
                         cpu=[RECOMPUTES], gpu=[RECOMPUTES])]),
]

__all__ = ["no_sync", "checkpoint_blocks", "EXERCISES"]
