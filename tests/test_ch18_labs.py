"""Chapter 18 transfer labs: byte counts, pools and page tables, the grader (every variant bit for bit at two
sizes and planted bugs: tests/test_contract.py)."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
import bugs_late as bugs
from labtests import DEVICE, LABS
from perflab.lab import info

from labs.ch18_kv_tuning import kv_to_host, kv_transfer, page_sweep, paging, solutions

SECOND = LABS["ch18.kv_transfer"][1]


def test_byte_counts():
    # device to device: every page read once and the output written once; to the host: what crosses the link
    assert kv_transfer.bytes((7_501, 2048), "bfloat16") == 2 * 7_501 * 2048 * 2
    assert kv_transfer.bytes((1_237, 192), "float16") == 2 * 1_237 * 192 * 2
    assert kv_to_host.bytes((7_501, 2048), "bfloat16") == 7_501 * 2048 * 2
    assert kv_to_host.OPTIONS.bandwidth == "d2h_pinned"
    # the GPU default is the book's 7,500-token request, 4 KiB per token: about 31 MB
    assert kv_to_host.bytes(kv_transfer.SIZES["gpu"][0], "bfloat16") == 30_724_096


def test_page_counts_match_the_book_case():
    assert paging.n_pages(7_500, 16) == 469 and paging.n_pages(7_500, 128) == 59
    assert paging.n_pages(16, 16) == 1 and paging.n_pages(17, 16) == 2
    with pytest.raises(ValueError, match="must be ≥ 1"):
        paging.n_pages(0, 16)


def _inputs(module, size, seed, device=DEVICE, dtype="bfloat16"):
    return module.make_inputs(size, device, dtype, seed)


def test_pools_hold_other_kv_and_the_request_in_random_slots():
    x = _inputs(kv_transfer, SECOND, 3)
    kv = kv_transfer.reference(**x)
    assert x["pool16"].shape[0] > x["pages16"].numel()                   # spare pages of other requests
    assert not torch.equal(x["pages16"].cpu(), torch.arange(x["pages16"].numel()))   # scattered
    assert torch.equal(x["pool128"][x["pages128"]].reshape(-1, SECOND[1])[:SECOND[0]].cpu(), kv.cpu())
    assert torch.isnan(x["out"]).all()                                    # unwritten rows would fail


def test_triton_gather_handles_a_single_partial_page():
    x = _inputs(kv_transfer, (5, 64), 9)
    assert torch.equal(kv_transfer.triton_gather(**x).cpu(), kv_transfer.reference(**x).cpu())


def test_to_host_variants_need_cuda_and_say_so():
    for fn in kv_to_host.variants:
        assert "cuda" in info(fn).needs
    if DEVICE == "cpu":
        r = pl.run("ch18.kv_to_host", record=False)
        assert all(row.status == "skipped" and "needs cuda" in row.why for row in r.rows)


# ---- exercise ------------------------------------------------------------------------------------

def test_grader_passes_the_solution_and_the_slow_starter_on_correctness():
    assert solutions.collate is kv_transfer.gather_kernel
    g = pl.grade("ch18.kv_transfer", solutions.collate)
    assert g.correct
    starter = lambda pool16, pages16, pool128, pages128, out: paging.copy_pages(pool16, pages16, out)  # noqa: E731
    assert pl.grade("ch18.kv_transfer", starter).correct


def test_grader_fails_a_wrong_answer():
    g = pl.grade("ch18.kv_transfer", bugs.ch18_skips_partial_last_page)
    assert not g.correct and not g.passed and "❌" in repr(g)
    g = pl.grade("ch18.kv_transfer", lambda pool16, pages16, pool128, pages128, out: pool16[pages16])
    assert not g.passed                                  # unflattened pages: wrong shape


# ---- page-size sweep ---------------------------------------------------------------------------------

def test_fit_alpha_recovers_a_planted_overhead():
    copies = [938, 469, 235, 118, 59, 30, 15]
    byte_s = 2e-4
    times = [n * 7e-6 + byte_s for n in copies]
    assert page_sweep.fit_alpha(copies, times, byte_s) == pytest.approx(7e-6, rel=1e-9)
    assert page_sweep.fit_alpha([10], [1e-4], 2e-4) == 0.0         # bytes alone exceed the time: α clamps at 0
    with pytest.raises(ValueError, match="one time per copy count"):
        page_sweep.fit_alpha([1, 2], [1.0], 0.0)


def test_sweep_runs_small_and_is_exact():
    s = page_sweep.run(301, 32, "d2d", page_sizes=(16, 128), rep_ms=5)
    assert [p for p, _, _ in s.rows] == [16, 128] and [n for _, n, _ in s.rows] == [19, 3]
    assert s.fit is not None and s.fit.alpha_s >= 0 and "fitted α" in str(s.table())
    if DEVICE == "cpu":
        assert page_sweep.run(301, 32, "d2h") is None
    with pytest.raises(ValueError, match="direction"):
        page_sweep.run(301, 32, "h2h")
