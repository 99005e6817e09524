"""Lab: speculative decoding with a trained draft: the target alone vs a 1-layer draft proposing k characters.

The pair is trained on this workbook's own prose (``_spec_train``; the weights ship in data/ch15_spec/) so
the draft's proposals are its own guesses and the acceptance is measured, not set. Every variant must
return the target's greedy continuation exactly (token ids, compared exactly). ``controlled_draft`` is the
calibration control: the controlled draft of ``spec_decode``, matching the target with p = the acceptance
recorded for the shipped pair, i.i.d., with the same draft model's cost: the formula's own case.

    target, draft, meta = load_pair()                 # shipped weights (float16 on disk, float32 here)
    sweep = k_sweep(target, draft)                    # acceptance per position, speedup vs k, predictions
"""
from __future__ import annotations

import functools

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch15_parallel_decoding import _spec_real, _spec_train
from labs.ch15_parallel_decoding import spec_decode as sd
from labs.ch15_parallel_decoding._spec_real import (Acceptance, TrainedSweep, acceptance, expected_from_positions,
                                                    k_sweep, prompts, speculative_generate)
from labs.ch15_parallel_decoding._spec_train import TrainConfig, TrainLog, decode, train
from perflab.claims import Holds

__all__ = ["load_pair", "train", "TrainConfig", "TrainLog", "acceptance", "Acceptance", "k_sweep", "TrainedSweep",
           "speculative_generate", "expected_from_positions", "prompts", "decode"]

TITLE = "Speculative decoding, trained draft: target alone vs a 1-layer draft proposing k characters (measured α)"
# (k draft tokens per round, new characters)
SIZES = {"gpu": [(4, _spec_real.NEW_TOKENS["gpu"]), (2, _spec_real.NEW_TOKENS["gpu"]),
                 (6, _spec_real.NEW_TOKENS["gpu"])],
         "cpu": [(4, _spec_real.NEW_TOKENS["cpu"]), (2, _spec_real.NEW_TOKENS["cpu"]), (7, 23)]}
DTYPES = ["int64"]          # the answer is token ids, compared exactly; the models run in float32


OPTIONS = pl.LabOptions(gate_note=(
    "a host-driven decode loop of a small character model: each step is many tiny kernels launched from "
    "Python, so the time is launches and host work; the bytes column counts the weights read per token."))


@functools.lru_cache(maxsize=2)
def load_pair(device: str = "cpu"):
    """(target, draft, meta): the shipped pair on ``device``, loaded once per process."""
    return _spec_train.load(device)


def make_inputs(size, device="cpu", dtype="int64", seed: int = 0) -> dict:
    """One held-out prompt (picked by the seed), the shipped pair, and the target's greedy continuation
    (n + k characters) that the controlled draft copies from."""
    k, n = size
    target, draft, meta = load_pair(str(device))
    prompt = prompts(1, seed=seed)[0]
    return {"prompt": torch.tensor(prompt), "target": target, "draft": draft, "k": k, "new_tokens": n,
            "greedy": sd.target_greedy(target, prompt, n + k)}


def reference(prompt, target, draft, k, new_tokens, greedy) -> torch.Tensor:
    """Plain greedy decoding with the engine's generate (one target pass per token)."""
    return torch.tensor(sd.target_greedy(target, prompt.tolist(), new_tokens))


def bytes(size, dtype="int64") -> int:
    """Plain decoding reads the target's float32 weights once per new token (embeddings: one row each)."""
    k, n = size
    cfg = _spec_train.target_config()
    return n * 4 * (cfg.n_params() - (cfg.vocab_size + cfg.max_seq_len) * cfg.d_model)


def flops(size, dtype="int64") -> int:
    return 0          # compared by time, not placed on the roofline


@pl.variant(note="the engine's generate: one target pass per character (the baseline)")
def target_only(prompt, target, draft, k, new_tokens, greedy):
    return torch.tensor(sd.target_greedy(target, prompt.tolist(), new_tokens))


@pl.variant(note="the trained draft proposes k characters (its own argmax); one (k+1)-token target pass verifies")
def trained_draft(prompt, target, draft, k, new_tokens, greedy):
    return torch.tensor(speculative_generate(target, draft, prompt.tolist(), new_tokens, k)[0])


def recorded_alpha(device: str = "cpu") -> float:
    """The acceptance rate recorded for the shipped pair when it was trained (k = 4, held-out prompts)."""
    return float(load_pair(device)[2]["acceptance"]["alpha"])


@pl.variant(note="calibration control: the same draft model's cost, proposals matching with p = recorded α, i.i.d.")
def controlled_draft(prompt, target, draft, k, new_tokens, greedy):
    d = sd.ControlledDraft(draft, greedy, recorded_alpha(str(next(target.parameters()).device)))
    return torch.tensor(sd.speculative_generate(target, d, prompt.tolist(), new_tokens, k)[0])


variants = [target_only, trained_draft, controlled_draft]


# ---- the lessons, as checked claims (values: a TrainedSweep from k_sweep) -----------------------------

def _typical_vs_prediction(sweep) -> float:
    """The median over k of |measured speedup ÷ E(α̂,k)/(k·c+v) − 1| (one noisy k does not decide it)."""
    devs = sorted(abs(r.speedup / r.predicted_verify - 1) for r in sweep.rows)
    return devs[len(devs) // 2]


def _control_vs_formula(sweep) -> float:
    return max(abs(r.control_tpr / r.expected_iid - 1) for r in sweep.rows)


CLAIMS = [
    Holds("ch15.spec_trained", "speculative output equals the target's greedy output at every k",
          lambda sweep: all(r.equal for r in sweep.rows)),
    Holds("ch15.spec_trained", "the controlled draft at p = α̂ yields E(α̂,k) tokens per round within 20% at every k",
          _control_vs_formula, at_most=0.2, unit="%"),
    Holds("ch15.spec_trained", "the measured speedup is within 25% of E(α̂,k)/(k·c+v) at the median k",
          _typical_vs_prediction, at_most=0.25, unit="%", tier="gpu"),
]
