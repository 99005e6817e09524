"""Chapter 18 transfer labs: byte counts, every variant equal to the reference (bit for bit), planted bugs, the grader."""
from __future__ import annotations

import pytest
import torch

import perflab as pl
from perflab.lab import REQUIRED_NAMES, info

from labs.ch18_kv_tuning import kv_to_host, kv_transfer, page_sweep, paging, solutions

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
LABS = {"ch18.kv_transfer": kv_transfer, "ch18.kv_to_host": kv_to_host}
SECOND = (1_237, 192)                     # a second size: tokens not a multiple of 16 or 128


def test_list_labs_has_exactly_the_chapter_labs():
    tested_elsewhere = {"ch18.paged_decode"}      # their own test files
    assert sorted(n for n in pl.list_labs() if n.startswith("ch18.") and n not in tested_elsewhere) == sorted(LABS)


@pytest.mark.parametrize("name", LABS)
def test_lab_shape(name):
    lab = pl.load(name)
    assert not [n for n in REQUIRED_NAMES if not hasattr(lab.module, n)]
    assert lab.variant_names()[0] == "per_page_16" and lab.variant_names()[1] == "collated_128"
    for size in [*lab.SIZES["cpu"], *lab.SIZES["gpu"], SECOND]:
        tokens, width = size
        assert tokens % 16 and tokens % 128, f"{size}: the last page must be partial"
        assert lab.flops(size, "bfloat16") == 0


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


CASES = [(name, fn.__name__, i) for name, mod in LABS.items() for fn in mod.variants for i in (0, 1)]


@pytest.mark.parametrize("name, variant, size_index", CASES)
def test_variant_equals_reference(name, variant, size_index):
    """Copies must be exact: compare bit for bit (the D2H variants run on the CPU here as host copies)."""
    mod = LABS[name]
    size = [mod.SIZES["cpu"][0], SECOND][size_index]
    for dtype in mod.DTYPES:
        x = _inputs(mod, size, 100 + 7 * size_index, dtype=dtype)
        out = getattr(mod, variant)(**x)
        ref = mod.reference(**x)
        assert torch.equal(out.cpu(), ref.cpu()), f"{name}.{variant} at {size}, {dtype}"


def test_pools_hold_other_kv_and_the_request_in_random_slots():
    x = _inputs(kv_transfer, SECOND, 3)
    kv = kv_transfer.reference(**x)
    assert x["pool16"].shape[0] > x["pages16"].numel()                   # spare pages of other requests
    assert not torch.equal(x["pages16"].cpu(), torch.arange(x["pages16"].numel()))   # scattered
    assert torch.equal(x["pool128"][x["pages128"]].reshape(-1, SECOND[1])[:SECOND[0]].cpu(), kv.cpu())
    assert torch.isnan(x["out"]).all()                                    # unwritten rows would fail


def test_same_seed_same_pools_other_seed_other_pools():
    a, b, c = (_inputs(kv_transfer, SECOND, s) for s in (5, 5, 6))
    assert torch.equal(a["pool16"], b["pool16"]) and torch.equal(a["pages16"], b["pages16"])
    assert not torch.equal(a["pages16"], c["pages16"])


# ---- planted bugs ----------------------------------------------------------------------------

def skips_partial_last_page(pool16, pages16, pool128, pages128, out):
    full = out.shape[0] // 16
    for i, slot in enumerate(pages16[:full].tolist()):
        out[16 * i:16 * i + 16].copy_(pool16[slot])
    return out


def pages_in_pool_order(pool16, pages16, pool128, pages128, out):
    ordered, _ = torch.sort(pages16)                     # loses the request's page order
    return paging.copy_pages(pool16, ordered, out)


def copies_whole_pool_prefix(pool16, pages16, pool128, pages128, out):
    return out.copy_(pool16.reshape(-1, out.shape[1])[:out.shape[0]])     # ignores the page table


@pytest.mark.parametrize("bug", [skips_partial_last_page, pages_in_pool_order, copies_whole_pool_prefix])
@pytest.mark.parametrize("size_index", (0, 1))
def test_planted_bug_is_caught(bug, size_index):
    from perflab.check import compare
    size = [kv_transfer.SIZES["cpu"][0], SECOND][size_index]
    x = _inputs(kv_transfer, size, 200 + size_index)
    ref = kv_transfer.reference(**x)
    out = bug(**x)
    assert not torch.equal(out.cpu(), ref.cpu())
    assert not compare(out, ref, "bfloat16").ok


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
    g = pl.grade("ch18.kv_transfer", skips_partial_last_page)
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
