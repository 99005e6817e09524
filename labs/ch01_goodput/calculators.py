"""Chapter 1's back-of-envelope models: goodput, training FLOPs, memory per parameter, GPUs to hold a model.

Each function returns numbers; the ``explain_*`` functions return the one-line text that the notebook's
calculators print. Units are explicit: TB = 1e12 bytes, TiB = 2**40 bytes, GB = 1e9 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

from perflab.validate import calculator_inputs

TB, TIB, GB = 1e12, 2 ** 40, 1e9

# bytes per value by storage format
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "fp4": 0.5}


# ---- goodput -----------------------------------------------------------------------------------------

def goodput_fraction(useful_units: float, wall_s: float, n_gpus: int, peak_units_per_gpu_s: float) -> float:
    """Useful units per second over what the GPUs could deliver at their peak."""
    return (useful_units / wall_s) / (n_gpus * peak_units_per_gpu_s)


@calculator_inputs(positive="tokens seconds gpus peak_tok_s_per_gpu")
def explain_goodput(tokens=100_000, seconds=10.0, gpus=8, peak_tok_s_per_gpu=1500) -> str:
    rate = tokens / seconds
    f = goodput_fraction(tokens, seconds, gpus, peak_tok_s_per_gpu)
    return (f"{tokens:,} tokens in {seconds:g} s = {rate:,.0f} tok/s; peak {gpus} × {peak_tok_s_per_gpu:,} = "
            f"{gpus * peak_tok_s_per_gpu:,} tok/s → goodput {f:.1%}")


# ---- training compute ----------------------------------------------------------------------------------

def training_flops(params: float, tokens: float, flops_per_param_token: float = 6.0) -> float:
    """C ≈ k·N·D: forward 2·N·D + backward 4·N·D gives k = 6 for a dense model (no attention term)."""
    return flops_per_param_token * params * tokens


@calculator_inputs(positive="params_T tokens_T flops_per_param_token gpu_pflops gpus mfu", fraction="mfu")
def explain_training(params_T=100.0, tokens_T=29.0, flops_per_param_token=6.0, gpu_pflops=0.989, gpus=100_000,
                     mfu=0.4) -> str:
    c = training_flops(params_T * 1e12, tokens_T * 1e12, flops_per_param_token)
    days = c / (gpu_pflops * 1e15 * gpus * mfu) / 86400
    return (f"{params_T:g}T params × {tokens_T:g}T tokens × {flops_per_param_token:g} FLOP = {c:.2e} FLOP; "
            f"on {gpus:,} GPUs at {gpu_pflops:g} PFLOP/s each (default: H200 dense bf16, datasheet) and {mfu:.0%} "
            f"utilization: {days:,.0f} days")


# ---- memory per parameter -------------------------------------------------------------------------------

# recipe -> (weights, gradients, fp32 master copy, optimizer states) bytes per parameter
RECIPES = {
    "fp32 + Adam": dict(weights="fp32", grads="fp32", master=False, optimizer="adam"),
    "bf16 mixed + Adam": dict(weights="bf16", grads="bf16", master=True, optimizer="adam"),
    "fp8 mixed + Adam": dict(weights="fp8", grads="bf16", master=True, optimizer="adam"),
    "bf16 + SGD momentum": dict(weights="bf16", grads="bf16", master=True, optimizer="momentum"),
    "inference bf16": dict(weights="bf16", grads=None, master=False, optimizer=None),
    "inference fp8": dict(weights="fp8", grads=None, master=False, optimizer=None),
    "inference fp4": dict(weights="fp4", grads=None, master=False, optimizer=None),
}
OPTIMIZER_STATES = {None: 0, "sgd": 0, "momentum": 1, "adam": 2}     # fp32 values per parameter


@dataclass(frozen=True)
class ParamBytes:
    """Bytes per parameter by part: weights, gradients, the fp32 master copy, optimizer states, and their total."""
    weights: float
    gradients: float
    fp32_master: float
    optimizer_states: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.fp32_master + self.optimizer_states


def bytes_per_param(weights="bf16", grads="bf16", master=True, optimizer="adam") -> ParamBytes:
    """Bytes per parameter by part (activations excluded: they scale with batch and sequence, not N)."""
    return ParamBytes(weights=BYTES[weights], gradients=BYTES[grads] if grads else 0,
                      fp32_master=4 if master else 0, optimizer_states=4 * OPTIMIZER_STATES[optimizer])


def memory_table(params: float = 100e12):
    from perflab.table import Table
    rows = []
    for name, r in RECIPES.items():
        b = bytes_per_param(**r)
        rows.append([name, f"{b.weights:g}", f"{b.gradients:g}", f"{b.fp32_master:g}",
                     f"{b.optimizer_states:g}", f"{b.total:g}", f"{b.total * params / TB:,.0f} TB",
                     f"{b.total * params / TIB:,.0f} TiB"])
    return Table(["recipe", "weights B", "grads B", "master B", "optimizer B", "B/param",
                  f"for {params:.3g} params", "same in TiB"], rows,
                 title="Memory per parameter by precision and optimizer (activations excluded)",
                 notes=["Adam keeps two fp32 states (m, v); mixed precision keeps an fp32 master copy of the weights",
                        "1 TB = 1e12 B; 1 TiB = 2^40 B ≈ 1.0995e12 B"])


def gpus_to_hold(params: float, bytes_per_p: float, usable_gb_per_gpu: float) -> float:
    return params * bytes_per_p / (usable_gb_per_gpu * GB)


@calculator_inputs(positive="params_T usable_gb_per_gpu")
def explain_memory(params_T=100.0, recipe="inference bf16", usable_gb_per_gpu=180) -> str:
    b = bytes_per_param(**RECIPES[recipe]).total
    total = params_T * 1e12 * b
    n = gpus_to_hold(params_T * 1e12, b, usable_gb_per_gpu)
    return (f"{params_T:g}T params × {b:g} B = {total / TB:,.0f} TB = {total / TIB:,.0f} TiB; at {usable_gb_per_gpu} GB "
            f"usable per GPU: {n:,.0f} GPUs ({n / 8:,.0f} eight-GPU nodes), weights and states only")
