"""The correctness gate cannot be fooled: NaN/Inf references, wrong dtypes, exotic tensors, empty seeds."""
import types

import pytest
import torch

import perflab as pl
from perflab import peaks
from perflab.check import BadReference, compare
from perflab.runner import check_variant

import toylab

INF, NAN = float("inf"), float("nan")


def test_a_reference_with_nan_or_inf_passes_nothing():
    with pytest.raises(BadReference, match="1 NaN/Inf"):
        compare(torch.zeros(4), torch.tensor([1., INF, 2., 3.]))
    overflowed = torch.tensor([1000., 70000.]).half()           # float16 overflows to inf
    with pytest.raises(BadReference, match="float64"):
        compare(overflowed.clone(), overflowed)


def test_a_lab_that_expects_infinities_compares_them_position_by_position():
    ref = torch.tensor([1., INF, -INF, NAN, 3.])
    assert compare(ref.clone(), ref, expect_inf=True).ok
    flipped = ref.clone(); flipped[1] = -INF
    assert "NaN/Inf positions" in compare(flipped, ref, expect_inf=True).reason
    finite_wrong = ref.clone(); finite_wrong[4] = 4.0
    check = compare(finite_wrong, ref, expect_inf=True)
    assert not check.ok and check.first_bad[0] == (4,)       # the index is the real one, not a masked one


@pytest.mark.parametrize("make, why", [
    (lambda r: r.to(torch.complex64), "complex"),
    (lambda r: r.double(), "float64 in a float32 lab"),
    (lambda r: r.to(torch.bfloat16), "declare the arithmetic"),
    (lambda r: r.to_sparse(), "sparse_coo"),
    (lambda r: torch.empty_like(r, device="meta"), "meta tensor"),
    (lambda r: torch.nested.nested_tensor([r, r]), "nested"),
    (lambda r: r[:-1], "shape"),
    (lambda r: [1.0] * r.numel(), "list, not a tensor"),
])
def test_wrong_kinds_and_dtypes_are_wrong_with_a_reason(make, why):
    ref = torch.randn(6)
    check = compare(make(ref), ref, "float32", dtype="float32")
    assert not check.ok and why in check.reason


def test_integer_labs_check_the_exact_dtype_and_declared_precision_may_narrow():
    ids = torch.arange(5)
    assert "int64" in compare(ids.int(), ids, "int64", dtype="int64").reason
    assert "int64" in compare(ids.float(), ids, "int64", dtype="int64").reason
    assert compare(ids.clone(), ids, "int64", dtype="int64").ok
    x = torch.randn(8)
    assert compare(x.to(torch.bfloat16), x, "bfloat16", dtype="float32").ok    # @pl.variant(precision="bfloat16")


def _exotic_lab():
    """The toy lab with variants that return exotic tensors: each must be a wrong row, not a crash."""
    lab = types.ModuleType("exotic_toy")
    for name in ("TITLE", "SIZES", "DTYPES", "make_inputs", "reference", "bytes", "flops"):
        setattr(lab, name, getattr(toylab, name))

    def sparse(x): return (2 * x + 1).to_sparse()
    def meta(x): return torch.empty_like(x, device="meta")
    def nested(x): return torch.nested.nested_tensor([2 * x + 1])
    def complex_(x): return (2 * x + 1).to(torch.complex64)
    def float64(x): return 2 * x.double() + 1
    def nothing(x): return None
    lab.variants = [toylab.two_ops, sparse, meta, nested, complex_, float64, nothing]
    return pl.load(lab)


def test_exotic_outputs_become_wrong_rows_in_a_run():
    lab = _exotic_lab()
    rows = [check_variant(lab, fn, 37, "float32", 3) for fn in lab.variants]
    assert rows[0].status == "correct"
    assert [r.status for r in rows[1:]] == ["wrong"] * 6
    assert all(r.why for r in rows[1:])


def test_a_bad_reference_is_an_error_row_naming_the_reference(monkeypatch):
    lab = _exotic_lab()
    monkeypatch.setattr(lab.module, "reference", lambda x: torch.full_like(x, INF))
    row = check_variant(lab, toylab.two_ops, 37, "float32", 3)
    assert row.status == "error" and "reference holds" in row.why


def test_grade_checks_at_least_one_seed_and_only_int_seeds():
    with pytest.raises(ValueError, match="at least one seed"):
        pl.grade(toylab, toylab.two_ops, seeds=())
    with pytest.raises(TypeError, match="seed must be an int"):
        pl.grade(toylab, toylab.two_ops, seeds=("0",))
    wrong = pl.grade(toylab, toylab.skips_last, seeds=(1,))
    assert not wrong.correct


def test_run_checks_its_arguments_before_any_work(monkeypatch):
    def no_work():
        raise AssertionError("validation must come before the ceilings are measured")
    monkeypatch.setattr(peaks, "ceilings", no_work)
    bad = [dict(size=-5), dict(size=0), dict(size=True), dict(size=12.0), dict(size="37"), dict(size=(3, 4)),
           dict(variants="one_kernal"), dict(variants=[]), dict(variants=[3]), dict(seed="0"), dict(seed=1.5),
           dict(dtype="float16"), dict(dtype=32), dict(rep_ms=float("nan")), dict(rep_ms=float("inf")),
           dict(rep_ms=-1), dict(rep_ms=0)]
    for kwargs in bad:
        with pytest.raises((ValueError, TypeError)) as e:
            pl.run("ch00.scale_shift", record=False, **kwargs)
        assert str(e.value), kwargs
    with pytest.raises(ValueError, match=r"sizes are one int.*e\.g\. size=1_000_003; got -5"):
        pl.run("ch00.scale_shift", size=-5, record=False)
    with pytest.raises(TypeError, match=r"a tuple of 2 ints \(rows, cols\)"):
        pl.run("ch07.transpose", size=301, record=False)
    with pytest.raises(ValueError, match="no variant 'one_kernel'"):        # a bare string is one name, not 'o'
        pl.run("ch07.copy_ladder", variants="one_kernel", record=False)
    from perflab import validate
    assert [f.__name__ for f in validate.variants(pl.load("ch00.scale_shift"), "one_kernel")] == ["one_kernel"]
