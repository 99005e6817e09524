"""ch09.sparse24: the lab shape, inputs really 2:4, the sparse kernels skip on a CPU with one line, planted format
bugs are caught, and the book ratio's verdict follows the measured records. Every variant against the dense product
of the pruned weight, at both sizes and dtypes: tests/test_contract.py::test_variant_matches_reference."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from perflab.check import compare
from perflab.runner import availability

from labs.ch09_arithmetic_intensity import sparse24 as S
from labs.ch09_arithmetic_intensity.sparsity import compress_24, decompress_24

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
ODD = (37, 44, 92)          # M, N and K aligned to nothing (K a multiple of 4: 2:4 groups K in fours)


def test_lab_shape_and_sizes():
    lab = pl.load("ch09.sparse24")
    assert lab.variant_names()[0] == "dense"
    assert lab.DTYPES == ["float16", "bfloat16"]
    for m, n, k in lab.SIZES["gpu"]:
        assert n % 64 == 0 and k % 64 == 0, "both sparse backends need the weight in multiples of 64"
        assert m % 8 == 0 and m % 16, "M: a multiple of 8 (no padded copy of X) but aligned to no tile"
    assert max(lab.SIZES["gpu"], key=lambda s: s[0] * s[1] * s[2]) == lab.SIZES["gpu"][0], "largest first"
    for size in lab.SIZES["cpu"]:
        assert size[2] % 4 == 0 and any(d % 16 for d in size)
    assert lab.flops((2, 3, 4)) == 48 and lab.bytes((2, 3, 4), "float16") == 2 * (8 + 12 + 6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_weight_is_two_of_four_and_seeded(dtype):
    w = S.make_inputs(ODD, "cpu", dtype, seed=3)["w"]
    nonzero = (w.reshape(ODD[1], -1, 4) != 0).sum(-1)
    assert int(nonzero.max()) == 2 and float(nonzero.float().mean()) > 1.99
    assert torch.equal(w, S.make_inputs(ODD, "cpu", dtype, seed=3)["w"])
    assert not torch.equal(w, S.make_inputs(ODD, "cpu", dtype, seed=4)["w"])


def test_k_not_a_multiple_of_four_is_refused():
    with pytest.raises(ValueError, match="multiple of 4"):
        S.make_inputs((8, 8, 10))


@pytest.mark.skipif(DEVICE == "cuda", reason="the CPU-tier skip")
def test_sparse_kernels_skip_on_cpu_with_one_line():
    runs, _, why = availability(S.sparse_cusparselt, pl.env())
    assert not runs and why == "needs sm_80"
    run = pl.run("ch09.sparse24", record=False)
    assert run["sparse_cusparselt"].status == "skipped"
    assert run["emulated"].check.ok and run["dense"].check.ok


def test_compressed_format_round_trips_and_halves_values():
    w = S.make_inputs(ODD, "cpu", "float16", seed=5)["w"]
    values, positions = compress_24(w)
    assert values.shape == (ODD[1], ODD[2] // 2) and int(positions.max()) <= 3
    assert torch.equal(decompress_24(values, positions), w)


# ---- planted bugs: the lab's own gate must reject them -------------------------------------------------

def positions_off_by_one(x, w):
    """Decompress with every 2-bit position shifted by one inside its group: values land in wrong columns."""
    values, positions = compress_24(w)
    return torch.nn.functional.linear(x, decompress_24(values, (positions + 1) % 4))


def prunes_again(x, w):
    """Prunes the already-pruned weight to 1:4: a 'faster' kernel that silently drops more of W."""
    groups = w.reshape(w.shape[0], -1, 4)
    keep = groups.abs().argmax(-1, keepdim=True)
    return torch.nn.functional.linear(x, torch.zeros_like(groups).scatter(-1, keep, groups.gather(-1, keep))
                                      .reshape(w.shape))


@pytest.mark.parametrize("bug", [positions_off_by_one, prunes_again])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_planted_bug_is_caught(bug, dtype):
    inputs = S.make_inputs(S.SIZES["cpu"][0], "cpu", dtype, seed=2024)
    assert not compare(bug(**inputs), S.reference(**inputs), dtype).ok


# ---- the book's 2x: a verdict from records -------------------------------------------------------------

class _Rec:
    def __init__(self, variant, median_s):
        self.lab, self.variant, self.median_s, self.correct = "ch09.sparse24", variant, median_s, True
        self.size, self.dtype = [8200, 8192, 8192], "float16"


def test_book_verdict_follows_the_records():
    assert S.BOOK.lab == "ch09.sparse24" and S.BOOK.before == "dense" and S.BOOK.after == "sparse_cusparselt"
    near = [_Rec("dense", 2.0e-3), _Rec("sparse_cusparselt", 1.1e-3)]
    far = [_Rec("dense", 2.0e-3), _Rec("sparse_cusparselt", 1.6e-3)]
    assert "1.82×" in S.verdict(near) and "reproduced" in S.verdict(near)
    assert "1.25×" in S.verdict(far) and "differs" in S.verdict(far)
    assert "not measured" in S.verdict([_Rec("dense", 2.0e-3)])


def test_pruning_error_is_large_for_random_weights():
    err = S.pruning_error((64, 64, 128))
    assert 0.2 < err < 0.8, "half the weights of a random matrix carry about a third of the output"
