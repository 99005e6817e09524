"""Tensor parallelism on the engine: Megatron-style shards of every block, in one process or under torchrun.

Each rank keeps 1/R of every block's weights:
- attention: the q, k, v rows of its H/R heads (column-parallel ``qkv``) and the matching input columns of
  ``proj`` (row-parallel), so each rank attends with its own heads and KV cache;
- MLP: 4d/R of the ``fc`` outputs (column-parallel) and the matching input columns of ``out`` (row-parallel).
A row-parallel layer yields a partial sum of the full output, so each block needs two all-reduces (after
attention and after the MLP). Embeddings, LayerNorms and the LM head are replicated.

    shards = [shard_model(model, r, 2) for r in range(2)]
    logits = simulate(shards, tokens)          # ranks run in turn, all-reduce = a sum: equals model(tokens)
    res = launch()                             # the same under torchrun: gloo on CPU, NCCL on ≥2 GPUs
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from labs.inference.kv_cache import KVCache
from labs.inference.model import ModelConfig

HERE = Path(__file__).resolve().parent
WORKER = HERE / "tp_worker.py"


@dataclass
class BlockShard:
    ln1: torch.nn.LayerNorm
    ln2: torch.nn.LayerNorm
    qkv_w: torch.Tensor         # (3·d/R, d): q, k, v rows of this rank's heads
    qkv_b: torch.Tensor
    proj_w: torch.Tensor        # (d, d/R): the columns that read those heads
    proj_b: torch.Tensor | None # added by rank 0 only, so the all-reduce counts it once
    fc_w: torch.Tensor          # (4d/R, d)
    fc_b: torch.Tensor
    out_w: torch.Tensor         # (d, 4d/R)
    out_b: torch.Tensor | None


@dataclass
class ModelShard:
    """One rank's share of the engine's Transformer."""
    model: torch.nn.Module      # the full model: embeddings, final LayerNorm and LM head are used as is
    rank: int
    world: int
    blocks: list

    @property
    def config(self) -> ModelConfig:
        """The per-rank shape: 1/R of the heads and of the width (head_dim unchanged), for its KV cache."""
        c = self.model.config
        return ModelConfig(c.vocab_size, c.d_model // self.world, c.n_layers, c.n_heads // self.world, c.max_seq_len)


def shard_model(model, rank: int, world: int) -> ModelShard:
    """Cut rank ``rank``'s slices out of a full engine model (views share its memory)."""
    cfg = model.config
    if cfg.n_heads % world or (4 * cfg.d_model) % world:
        raise ValueError(f"{world} ranks must divide n_heads={cfg.n_heads} and 4·d_model={4 * cfg.d_model}")
    d, dr = cfg.d_model, cfg.d_model // world
    heads = slice(rank * dr, (rank + 1) * dr)                       # this rank's slice of the d columns of q, k, v
    hidden = slice(rank * 4 * dr, (rank + 1) * 4 * dr)
    blocks = []
    for blk in model.blocks:
        a, m = blk.attn, blk.mlp
        rows = torch.cat([torch.arange(d)[heads] + i * d for i in range(3)])     # q, k, v rows of these heads
        blocks.append(BlockShard(
            blk.ln1, blk.ln2, a.qkv.weight[rows], a.qkv.bias[rows], a.proj.weight[:, heads],
            a.proj.bias if rank == 0 else None, m.fc.weight[hidden], m.fc.bias[hidden],
            m.out.weight[:, hidden], m.out.bias if rank == 0 else None))
    return ModelShard(model, rank, world, blocks)


def attention_partial(s: BlockShard, h: torch.Tensor, head_dim: int, cache: KVCache | None, layer: int, pos):
    """This rank's heads: q, k, v for H/R heads, attention, and its partial sum of the output projection."""
    B, T, _ = h.shape
    q, k, v = F.linear(h, s.qkv_w, s.qkv_b).chunk(3, dim=2)
    q, k, v = (t.view(B, T, -1, head_dim).transpose(1, 2) for t in (q, k, v))      # (B, H/R, T, hd)
    if cache is None:
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        k, v = cache.update(layer, k, v, pos)
        keys = torch.arange(k.shape[2], device=h.device)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keys[None, None, None, :] <= pos[:, None, :, None])
    return F.linear(y.transpose(1, 2).reshape(B, T, -1), s.proj_w, s.proj_b)


def mlp_partial(s: BlockShard, h: torch.Tensor) -> torch.Tensor:
    """Column-parallel fc (no communication: GELU is elementwise), row-parallel out: a partial sum."""
    return F.linear(F.gelu(F.linear(h, s.fc_w, s.fc_b), approximate="tanh"), s.out_w, s.out_b)


@torch.no_grad()
def forward(shard: ModelShard, tokens: torch.Tensor, all_reduce: Callable, cache: KVCache | None = None):
    """One rank's forward; ``all_reduce(t)`` sums t over the ranks in place (torch.distributed.all_reduce)."""
    m, cfg = shard.model, shard.model.config
    B, T = tokens.shape
    pos = torch.arange(T, device=tokens.device)[None].expand(B, T) if cache is None else cache.positions(T)
    x = m.wte(tokens) + m.wpe(pos.clamp(max=cfg.max_seq_len - 1))
    for layer, s in enumerate(shard.blocks):
        a = attention_partial(s, s.ln1(x), cfg.head_dim, cache, layer, pos)
        all_reduce(a)                                     # communication 1 of 2 per block
        x = x + a
        f = mlp_partial(s, s.ln2(x))
        all_reduce(f)                                     # communication 2 of 2 per block
        x = x + f
    if cache is not None:
        cache.advance(T)
    return m.lm_head(m.ln_f(x))


@torch.no_grad()
def simulate(shards: list, tokens: torch.Tensor) -> torch.Tensor:
    """All ranks in one process, in lock step: each all-reduce is the sum of every rank's partial.

    Written for clarity, not speed: rank r's forward runs up to its first all-reduce, then r+1's, ...
    (each rank's whole forward is replayed per layer, so keep the model small).
    """
    m, cfg = shards[0].model, shards[0].model.config
    B, T = tokens.shape
    pos = torch.arange(T, device=tokens.device)[None].expand(B, T)
    x = m.wte(tokens) + m.wpe(pos)
    for layer in range(cfg.n_layers):
        blocks = [sh.blocks[layer] for sh in shards]
        x = x + sum(attention_partial(s, s.ln1(x), cfg.head_dim, None, layer, pos) for s in blocks)
        x = x + sum(mlp_partial(s, s.ln2(x)) for s in blocks)
    return m.lm_head(m.ln_f(x))


def allreduce_bytes_per_forward(config: ModelConfig, tokens: int, dtype_bytes: int = 4) -> int:
    """Bytes each all-reduce carries × 2 per block: the activations (tokens × d) after attention and MLP."""
    return 2 * config.n_layers * tokens * config.d_model * dtype_bytes


# ---- the real thing: torchrun ------------------------------------------------------------------------

@dataclass(frozen=True)
class PhaseRun:
    """One phase (prefill or decode) of the TP run: TP's logits against one process's, then the slowest rank's
    median time per forward for one process, for TP=2 and for the same all-reduces alone."""
    phase: str
    max_abs_diff: float
    tokens_equal: bool
    single_s: float
    tp_s: float
    allreduce_s: float
    allreduce_bytes: int

    @property
    def speedup(self) -> float:
        return self.single_s / self.tp_s


@dataclass(frozen=True)
class TPRun:
    """What tp_worker.py measured (rank 0's JSON, read at the torchrun boundary by ``from_json``)."""
    world_size: int
    backend: str
    device: str
    config: dict                 # the full model's vocab_size, d_model, n_layers, n_heads
    runs: tuple[PhaseRun, ...]
    note: str = ""

    @classmethod
    def from_json(cls, d: dict) -> "TPRun":
        return cls(d["world_size"], d["backend"], d["device"], d["config"],
                   tuple(PhaseRun(**{k: r[k] for k in PhaseRun.__dataclass_fields__}) for r in d["runs"]),
                   d.get("note", ""))

    def phase(self, prefix: str) -> "PhaseRun | None":
        """The run whose phase name starts with ``prefix`` ('prefill' or 'decode'), None when absent."""
        return next((r for r in self.runs if r.phase.startswith(prefix)), None)


def launch(timeout_s: int = 300, verbose: bool = True) -> TPRun | None:
    """Run tp_worker.py in 2 processes and return what it measured: NCCL on ≥2 GPUs; on 0 or 1 GPU, gloo with
    2 CPU processes (on a 1-GPU machine the GPUs are hidden from them). None if the launch failed."""
    from perflab.distributed import gpu_count, run_torchrun
    one_gpu = gpu_count() == 1
    if one_gpu:
        print("1 GPU: the 2 ranks run with gloo on CPU processes (the engine's CPU-sized model); measuring "
              "NCCL tensor parallelism needs a 2-GPU machine and is its own run")
    res = run_torchrun(WORKER, timeout_s=timeout_s, hide_gpus=one_gpu, verbose=verbose)
    return TPRun.from_json(res) if res else None


def table(res: TPRun | None):
    """Correctness (TP vs one process) and time per forward, with the all-reduce share."""
    from perflab.table import Table
    if not res:
        return Table(["tensor parallel"], [["not measured: the torchrun launch did not complete"]])
    rows = [[r.phase, f"{r.max_abs_diff:.1e}", "✅" if r.tokens_equal else "❌", f"{r.single_s * 1e3:,.2f}",
             f"{r.tp_s * 1e3:,.2f}", f"{r.speedup:.2f}×", f"{r.allreduce_s * 1e3:,.2f}",
             f"{r.allreduce_s / r.tp_s:.0%}", f"{r.allreduce_bytes / 2**20:,.2f}"] for r in res.runs]
    cfg = res.config
    return Table(["phase", "max |Δ logits|", "same argmax", "1 process ms", "TP=2 ms", "speedup",
                  "all-reduces alone ms", "÷ TP ms", "MiB reduced"], rows,
                 title=f"Tensor parallel engine forward, {res.world_size} ranks · {res.backend} on {res.device} · "
                       f"{cfg['n_layers']} layers, d={cfg['d_model']}, {cfg['n_heads']} heads",
                 notes=["2 all-reduces per block (after attention, after the MLP); 'all-reduces alone' times the same "
                        "number of all-reduces of the same size back to back; inside the forward each one is also a "
                        "barrier, so a rank that is late (slower, or descheduled) makes the other wait",
                        "slowest rank per iteration, median over iterations (fixed count on every rank: a collective "
                        "waits for all ranks)", res.note])
