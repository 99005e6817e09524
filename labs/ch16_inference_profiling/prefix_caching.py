"""Ten questions about one long document: prefill every prompt in full, or reuse the document's KV
blocks (block-hash prefix caching on the paged cache). Output: each question's first answer token."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import torch

from labs.ch16_inference_profiling import _common as C
from labs.inference.scheduler import EngineConfig, serve
from labs.inference.workload import Request

TITLE = "Shared-document questions: full prefill each time → prefix-cached document"
# (questions, document tokens, question tokens); prompts fill most of the context
SIZES = {"cpu": [(10, 457, 23), (6, 301, 13), (10, 201, 9)],
         "gpu": [(10, 957, 23), (10, 501, 23), (6, 957, 41)]}
DTYPES = ["float32"]
BLOCK = 16


def make_inputs(size, device="cpu", dtype="float32", seed: int = 0) -> dict:
    n_q, doc_len, q_len = size
    model = C.model_for(str(device), dtype)
    V = model.config.vocab_size
    doc = C.random_tokens((1, doc_len), V, seed).expand(n_q, doc_len)
    questions = C.random_tokens((n_q, q_len), V, seed + 1)
    return {"model": model, "prompts": torch.cat([doc, questions], 1).to(device)}


@torch.no_grad()
def reference(model, prompts) -> torch.Tensor:
    """One plain forward over every full prompt (no cache), logits at each last token."""
    last = torch.full((prompts.shape[0],), prompts.shape[1] - 1)
    return model(prompts, logits_for=last)[:, -1].argmax(-1).cpu()


def requests(prompts) -> list[Request]:
    """The first question arrives alone; the others right after it (they all ask about one document)."""
    rows = prompts.tolist()
    return [Request(i, tuple(p), 1, 0.0 if i == 0 else 1e-9) for i, p in enumerate(rows)]


def answer(model, prompts, prefix_cache: bool) -> torch.Tensor:
    cfg = EngineConfig(max_batch=prompts.shape[0], block_size=BLOCK, prefix_cache=prefix_cache)
    traces = serve(model, requests(prompts), cfg)
    answer.last = traces
    return torch.tensor([t.tokens[0] for t in traces])


def bytes(size, dtype="float32") -> int:
    n_q, doc_len, q_len = size
    cfg = C.current_config()
    return cfg.n_params() * 4 + n_q * (doc_len + q_len) * cfg.kv_bytes_per_token(4)


def flops(size, dtype="float32") -> int:
    """The work with the cache: the document once, then only the questions (over the full context)."""
    n_q, doc_len, q_len = size
    cfg = C.current_config()
    weights = cfg.n_params() - (cfg.vocab_size + cfg.max_seq_len) * cfg.d_model
    tokens = doc_len + n_q * q_len
    return 2 * weights * tokens + 2 * cfg.n_layers * cfg.d_model * (doc_len ** 2 + n_q * q_len * doc_len)


@pl.variant(note="no prefix cache: every question prefills the whole document again")
def recompute(model, prompts):
    return answer(model, prompts, prefix_cache=False)


@pl.variant(note="prefix cache: the document's full 16-token blocks are computed once, then shared")
def prefix_cache(model, prompts):
    return answer(model, prompts, prefix_cache=True)


variants = [recompute, prefix_cache]
