"""Train the speculative-decoding pair: a 6-layer character-level target and a 1-layer draft on our own prose.

    python -m labs.ch15_parallel_decoding._spec_train            # train and write data/ch15_spec/pair.pt
    target, draft, meta = load()                                  # the shipped weights, on any device

The text is ``data/ch15_spec/corpus.txt``: the prose of this workbook's own notebooks (our words, in ASCII),
snapshotted once by ``build_corpus`` so the weights stay reproducible while the notebooks change. Both models
are the engine's Transformer (``labs.inference.model``) over a 96-character vocabulary; they are trained
independently on the same batches (no distillation) with a fixed seed. The shipped file holds both
state_dicts in float16 (about 2.6 MB) plus plain metadata: how they were trained and the acceptance measured
on the held-out text right after. Load it with ``torch.load(..., weights_only=True)``: tensors and plain
values, no pickled code.
"""
from __future__ import annotations

import argparse
import math
import platform
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from labs.inference.model import ModelConfig, build_model
from perflab.paths import REPO

DATA = REPO / "data" / "ch15_spec"
CORPUS = DATA / "corpus.txt"
WEIGHTS = DATA / "pair.pt"
VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))          # newline + printable ASCII: 96 symbols
HELD_OUT = 0.05                                                  # the last 5% of the text: prompts only


def target_config() -> ModelConfig:
    return ModelConfig(vocab_size=len(VOCAB), d_model=128, n_layers=6, n_heads=4, max_seq_len=256)


def draft_config() -> ModelConfig:
    return ModelConfig(vocab_size=len(VOCAB), d_model=64, n_layers=1, n_heads=2, max_seq_len=256)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1500           # optimizer steps, both models (the file's metadata says where and how long)
    batch: int = 16             # windows per step
    seq_len: int = 64           # characters per window
    lr: float = 3e-3            # AdamW peak learning rate (linear warm-up, cosine decay)
    warmup: int = 50
    seed: int = 0               # weights, batch order: the same seed gives the same run (up to GPU atomics)

    @classmethod
    def smoke(cls) -> "TrainConfig":
        """A few steps at a small batch: checks the training code on a CPU in seconds."""
        return cls(steps=12, batch=8, seq_len=64, warmup=2)


# ---- text ------------------------------------------------------------------------------------------

_ASCII = {"—": "-", "–": "-", "−": "-", "×": "x", "→": "->", "←": "<-", "≈": "~", "≤": "<=", "≥": ">=",
          "÷": "/", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"', "·": "*", "µ": "u", "α": "a",
          "β": "b", "ε": "e", "λ": "l", "τ": "t", "Σ": "sum", "√": "sqrt", "²": "^2", "³": "^3", "½": "1/2"}


def to_ascii(text: str) -> str:
    """Map common symbols to ASCII spellings and drop every other character outside VOCAB."""
    text = "".join(_ASCII.get(ch, ch) for ch in text)
    return "".join(ch for ch in text if ch in VOCAB)


def build_corpus(max_chars: int = 120_000) -> str:
    """The markdown prose of notebooks/ch*.ipynb, in chapter order, in ASCII, cut at a paragraph boundary."""
    import json
    parts = []
    for path in sorted((REPO / "notebooks").glob("ch*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        parts += ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    text = to_ascii("\n\n".join(parts))
    return text[:text.rfind("\n\n", 0, max_chars)] + "\n"


def encode(text: str) -> torch.Tensor:
    bad = sorted({ch for ch in text if ch not in VOCAB})
    if bad:
        raise ValueError(f"characters outside the 96-symbol vocabulary: {bad[:10]}; pass the text through to_ascii()")
    index = {ch: i for i, ch in enumerate(VOCAB)}
    return torch.tensor([index[ch] for ch in text], dtype=torch.long)


def decode(ids) -> str:
    return "".join(VOCAB[i] for i in ids)


def corpus(split: str = "train") -> torch.Tensor:
    """The shipped text as token ids: 'train' (first 95%) or 'held_out' (the rest, for prompts)."""
    if split not in ("train", "held_out"):
        raise ValueError(f"split is 'train' or 'held_out', got {split!r}")
    ids = encode(CORPUS.read_text())
    cut = int(len(ids) * (1 - HELD_OUT))
    return ids[:cut] if split == "train" else ids[cut:]


# ---- training --------------------------------------------------------------------------------------

@dataclass
class TrainLog:
    """What one training run did, per model: loss at the start and the end, held-out loss, seconds."""
    config: TrainConfig
    device: str
    seconds: float
    loss: dict                  # {"target": (first, last), "draft": (first, last)} in nats per character
    held_out: dict              # {"target": loss, "draft": loss} on the held-out text

    def __str__(self):
        parts = [f"{m}: loss {a:.2f} → {b:.2f} (held-out {self.held_out[m]:.2f}) nats/char"
                 for m, (a, b) in self.loss.items()]
        return (f"trained {self.config.steps} steps × {self.config.batch} × {self.config.seq_len} chars in "
                f"{self.seconds:.1f} s on {self.device}: " + "; ".join(parts))


def _lr(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * t)))


def _loss(model, ids: torch.Tensor, starts: torch.Tensor, seq_len: int) -> torch.Tensor:
    window = starts[:, None] + torch.arange(seq_len + 1, device=ids.device)       # (B, T+1)
    chunk = ids[window]
    logits = model(chunk[:, :-1])                                                   # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1))


@torch.no_grad()
def held_out_loss(model, seq_len: int = 128) -> float:
    """Mean next-character loss over non-overlapping windows of the held-out text."""
    ids = corpus("held_out").to(next(model.parameters()).device)
    starts = torch.arange(0, len(ids) - seq_len - 1, seq_len, device=ids.device)
    return float(_loss(model.eval(), ids, starts, seq_len))


def train(cfg: TrainConfig = TrainConfig(), device: str = "cpu") -> tuple:
    """Train target and draft from their seeded initial weights on the same batches; (target, draft, TrainLog).
    On a CPU it runs on one thread (at these sizes a busy machine's OpenMP threads cost ~10×, not gain)."""
    from labs.ch15_parallel_decoding.spec_decode import one_cpu_thread
    with one_cpu_thread(device):
        return _train(cfg, device)


def _train(cfg: TrainConfig, device: str) -> tuple:
    torch.manual_seed(cfg.seed)
    ids = corpus("train").to(device)
    models = {"target": build_model(target_config(), device, seed=cfg.seed),
              "draft": build_model(draft_config(), device, seed=cfg.seed + 1)}
    opts = {m: torch.optim.AdamW(models[m].parameters(), lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.98))
            for m in models}
    gen = torch.Generator().manual_seed(cfg.seed)
    first, last = {}, {}
    if device != "cpu":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for model in models.values():
        model.train()
    for step in range(cfg.steps):
        starts = torch.randint(0, len(ids) - cfg.seq_len - 1, (cfg.batch,), generator=gen).to(device)
        for name, model in models.items():
            for group in opts[name].param_groups:
                group["lr"] = _lr(step, cfg)
            loss = _loss(model, ids, starts, cfg.seq_len)
            opts[name].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opts[name].step()
            if step == 0:
                first[name] = loss.detach()
            last[name] = loss.detach()
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    for model in models.values():
        model.eval()
    log = TrainLog(cfg, str(device), seconds, {m: [float(first[m]), float(last[m])] for m in models},
                   {m: held_out_loss(models[m]) for m in models})
    return models["target"], models["draft"], log


# ---- the shipped file ------------------------------------------------------------------------------

def save(target, draft, meta: dict, path=WEIGHTS) -> None:
    """Both state_dicts in float16 plus plain metadata (no code objects)."""
    half = lambda m: {k: v.detach().to("cpu", torch.float16) for k, v in m.state_dict().items()}   # noqa: E731
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"target": half(target), "draft": half(draft), "meta": meta}, path)


def load(device="cpu", path=WEIGHTS) -> tuple:
    """(target, draft, meta) from the shipped file, as float32 models on ``device``."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m labs.ch15_parallel_decoding._spec_train` "
                                "to train and write it")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    models = []
    for name, cfg in (("target", target_config()), ("draft", draft_config())):
        model = build_model(cfg, "cpu")
        model.load_state_dict({k: v.float() for k, v in blob[name].items()})
        models.append(model.to(device).eval())
    return models[0], models[1], blob["meta"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=TrainConfig.steps)
    p.add_argument("--batch", type=int, default=TrainConfig.batch)
    p.add_argument("--seq-len", type=int, default=TrainConfig.seq_len)
    p.add_argument("--out", default=str(WEIGHTS))
    p.add_argument("--corpus", action="store_true", help="rebuild data/ch15_spec/corpus.txt from the notebooks first")
    args = p.parse_args(argv)
    from pathlib import Path
    from labs.ch15_parallel_decoding import _spec_real
    if args.corpus:
        CORPUS.parent.mkdir(parents=True, exist_ok=True)
        CORPUS.write_text(build_corpus())
    cfg = TrainConfig(steps=args.steps, batch=args.batch, seq_len=args.seq_len)
    target, draft, log = train(cfg, args.device)
    print(log)
    save(target, draft, {}, Path(args.out))
    target, draft, _ = load(args.device, Path(args.out))            # measure what is shipped: float16-rounded
    acc = _spec_real.acceptance(target, draft)
    meta = {"train": asdict(cfg), "trained_on": torch.cuda.get_device_name() if args.device != "cpu" else
            f"cpu ({platform.processor() or platform.machine()}, 1 thread)",
            "seconds": round(log.seconds, 2), "loss": log.loss, "held_out_loss": log.held_out,
            "torch": str(torch.__version__), "acceptance": acc.as_meta()}
    save(target, draft, meta, Path(args.out))
    print(acc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
