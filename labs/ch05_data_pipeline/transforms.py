"""Per-sample Python loop vs vectorized batch transforms: flip and normalize uint8 images to float32."""
from __future__ import annotations

import perflab as pl  # first: sets TRITON_INTERPRET on machines without a GPU
import numpy as np
import torch

TITLE = "Image transform (random flip + per-channel normalize, uint8 → float32): Python loop vs batched"
SIZES = {"cpu": [1_003, 301, 3_001], "gpu": [1_001, 301, 2_003]}   # images; the loop syncs per image on a GPU
DTYPES = ["float32"]

SHAPE = (3, 30, 30)                       # channels, height, width of one image (2,700 bytes as uint8)
MEAN = (0.485, 0.456, 0.406)              # per-channel mean and std of the normalization, on the 0..1 scale
STD = (0.229, 0.224, 0.225)


OPTIONS = pl.LabOptions(gate_note=(
    "a data-pipeline lab on 1,001 small samples: the batched transform takes tens of microseconds, most of it"
    " launches and host work, while its bytes would move in a few microseconds at the copy rate. The lesson "
    "is the host loop against one batched call, not bandwidth."))


def make_inputs(size: int, device="cpu", dtype="float32", seed: int = 0) -> dict:
    g = torch.Generator(device="cpu").manual_seed(seed)
    images = torch.randint(0, 256, (size, *SHAPE), generator=g, dtype=torch.uint8)    # (N, C, H, W)
    flip = torch.rand(size, generator=g) < 0.5                                         # (N,) which to mirror
    return {"images": images.to(device), "flip": flip.to(device), "mean": MEAN, "std": STD}


def reference(images, flip, mean, std) -> torch.Tensor:
    x = torch.where(flip[:, None, None, None], images.flip(-1), images).double() / 255
    m = torch.tensor(mean, dtype=torch.float64, device=images.device)[:, None, None]
    s = torch.tensor(std, dtype=torch.float64, device=images.device)[:, None, None]
    return (x - m) / s


def bytes(size: int, dtype="float32") -> int:
    n = size * SHAPE[0] * SHAPE[1] * SHAPE[2]
    return n * (1 + 4) + size                 # read uint8 pixels and the flip flags, write float32


def flops(size: int, dtype="float32") -> int:
    return 2 * size * SHAPE[0] * SHAPE[1] * SHAPE[2]   # one multiply and one add per pixel


def _scale_shift(mean, std, device):
    """(x/255 - m)/s == x * scale + shift, per channel, as (C, 1, 1) float32 tensors."""
    s = torch.tensor(std, dtype=torch.float64)
    m = torch.tensor(mean, dtype=torch.float64)
    scale, shift = 1 / (255 * s), -m / s
    return (scale.float().to(device)[:, None, None], shift.float().to(device)[:, None, None])


@pl.variant(backend="torch", note="what a Dataset.__getitem__ does: a few small torch ops per image, N times")
def python_loop(images, flip, mean, std):
    m = torch.tensor(mean, device=images.device)[:, None, None]
    s = torch.tensor(std, device=images.device)[:, None, None]
    out = torch.empty(images.shape, dtype=torch.float32, device=images.device)
    for i in range(images.shape[0]):
        img = images[i].flip(-1) if flip[i] else images[i]     # (C, H, W) uint8
        out[i] = (img.float() / 255 - m) / s                    # four small ops on one image
    return out


@pl.variant(backend="numpy", note="the whole batch in three numpy expressions (np.where, one multiply-add)")
def numpy_vectorized(images, flip, mean, std):
    x = images.cpu().numpy()
    f = flip.cpu().numpy()[:, None, None, None]
    x = np.where(f, x[..., ::-1], x).astype(np.float32)
    scale, shift = (t.cpu().numpy() for t in _scale_shift(mean, std, "cpu"))
    return torch.from_numpy(x * scale + shift).to(images.device)


@pl.variant(backend="torch", note="the whole batch in torch ops, as a collate_fn or on the GPU would do it")
def torch_batched(images, flip, mean, std):
    scale, shift = _scale_shift(mean, std, images.device)
    x = torch.where(flip[:, None, None, None], images.flip(-1), images)
    return torch.addcmul(shift, x.float(), scale)


variants = [python_loop, numpy_vectorized, torch_batched]
