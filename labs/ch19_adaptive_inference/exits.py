"""Early exit, cascades and a precision controller, as tables over the simulators (confidence is synthetic).

Real early exit needs trained exit heads (or a trained small model for a cascade) whose confidence
means something; the course's engine has random weights, so its confidences would be noise. These
tables use ``simulators.synthetic_confidence`` instead and say so. The *costs* are the engine's: an exit
head is a LayerNorm plus the vocabulary projection, which :func:`head_share` prices against the blocks.
"""
from __future__ import annotations

from labs.ch19_adaptive_inference import engine
from labs.ch19_adaptive_inference.simulators import (early_exit, exit_costs, margin_trace, precision_controller,
                                                     synthetic_confidence)

DEPTHS = (0.25, 0.5, 0.75, 1.0)
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def head_share(size) -> float:
    """Weight bytes of one exit head (vocab x d) as a share of one full decode step (blocks + final head).

    >>> round(head_share((768, 12, 127)), 3)        # GPT-2 small: the head is a third of the step
    0.312
    """
    cfg = engine.config_for(size)
    head, blocks = cfg.vocab_size * cfg.d_model, cfg.n_layers * 12 * cfg.d_model ** 2
    return head / (head + blocks)


def exit_table(size=(4096, 32, 127), n: int = 4000, sharpness: float = 8.0, seed: int = 0):
    from perflab.table import Table
    h = head_share(size)
    costs = exit_costs([d * (1 - h) for d in DEPTHS], h)
    conf = synthetic_confidence(n, list(DEPTHS), sharpness, seed)
    rows = []
    for t in THRESHOLDS:
        r = early_exit(conf, t, costs)
        rows.append([f"{t:.2f}", *[f"{f:.0%}" for f in r.fractions], f"{r.mean_cost:.2f}×", f"{r.agreement:.1%}"])
    return Table(["threshold", *[f"exit @ {d:.0%} depth" for d in DEPTHS], "cost vs full model",
                  "agrees with full model"], rows,
                 title=f"Early exit (synthetic confidence), engine shape d_model {size[0]}, {size[1]} layers",
                 notes=[f"an exit head costs {h:.0%} of a full step here (vocab {engine.config_for(size).vocab_size} "
                        f"x d_model {size[0]}); cost counts every head evaluated on the way, so never exiting "
                        f"costs {costs[-1]:.2f}×",
                        f"confidence = sigmoid({sharpness:g} · (depth − difficulty)), difficulty ~ U(0,1), read as "
                        "calibrated: agreement is its expected value; trained exit heads would have to earn that",
                        "[derived, not in book] the book lists early exit (L8535) without numbers"])


def cascade_table(small_cost: float = 0.1, small_depth: float = 0.5, n: int = 4000, seed: int = 1):
    """Small model first; escalate to the large one when the small one's confidence is under the threshold."""
    from perflab.table import Table
    conf = [[c[0], 1.0] for c in synthetic_confidence(n, [small_depth], seed=seed)]
    rows = []
    for t in THRESHOLDS:
        r = early_exit(conf, t, [small_cost, small_cost + 1.0])
        rows.append([f"{t:.2f}", f"{r.fractions[1]:.0%}", f"{r.mean_cost:.2f}×", f"{r.agreement:.1%}"])
    return Table(["threshold", "escalated to large", "cost vs large alone", "agrees with large"], rows,
                 title=f"Cascade: a small model at {small_cost:.0%} of the cost, escalating when unsure",
                 notes=[f"the small model is as sure as the large model's {small_depth:.0%}-depth exit would be "
                        "(synthetic); escalated requests pay for both models"])


def controller_table(n: int = 4000, seed: int = 2, tau: float = 1.5):
    """Precision switching on a synthetic margin trace: flapping without smoothing and hysteresis (L8405-L8410)."""
    from perflab.table import Table
    margins = margin_trace(n, seed)
    configs = [("per step, one threshold", dict(enter=tau, exit=tau)),
               ("per step, hysteresis ±0.5", dict(enter=tau + 0.5, exit=tau - 0.5)),
               ("EMA 0.2 + hysteresis, every 8 steps (book)", dict(enter=tau + 0.5, exit=tau - 0.5, ema=0.2, every=8))]
    rows = []
    for name, kw in configs:
        r = precision_controller(margins, risk=tau, **kw)
        rows.append([name, f"{r.low_fraction:.0%}", f"{r.switches:,}", f"{r.risky_steps:,} ({r.risky_steps / n:.1%})"])
    return Table(["controller", "steps in low precision", "switches", f"low precision while margin < {tau:g}"], rows,
                 title=f"Confidence-driven precision switching over {n:,} decode steps (synthetic margins)",
                 notes=["margin = top-1 minus top-2 logit, AR(1) around 2.0 (a stand-in: random weights have "
                        "near-zero margins); every switch may swap kernels or CUDA graphs, and a per-step decision "
                        "needs a device-to-host read every step, which is why the book re-evaluates every 8"])
