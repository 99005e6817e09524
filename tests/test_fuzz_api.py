"""Property-based fuzzing of the public API: any input either works or raises the documented ValueError /
TypeError with a message; nothing hangs (small rep_ms, a per-test timeout) and nothing else escapes."""
import importlib
import inspect
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import perflab as pl
from perflab import cli, results, validate
from perflab.measure import Measurement
from perflab.paths import REPO

import toylab
from labtests import fake_ceilings

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
DOCUMENTED = (ValueError, TypeError)
anything = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                     st.tuples(st.integers(-5, 50), st.integers(-5, 50)), st.lists(st.integers(-3, 40), max_size=3))


def _raises_documented(call):
    """Call; a ValueError/TypeError must say something. Returns the result or None."""
    try:
        return call()
    except DOCUMENTED as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None


@pytest.fixture(autouse=True)
def _no_ceiling_measurement(monkeypatch):
    fake_ceilings(monkeypatch)


@pytest.mark.timeout(60)
@FUZZ
@given(samples=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3),
                                  st.text(max_size=2)), max_size=6),
       nbytes=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))
def test_measurement(samples, nbytes):
    m = _raises_documented(lambda: Measurement(samples, bytes=nbytes))
    if m is not None:
        assert all(isinstance(s, (int, float)) and math.isfinite(s) and s > 0 for s in samples)
        assert m.p20 <= m.median <= m.p80 and repr(m)


@pytest.mark.timeout(60)
@FUZZ
@given(rep_ms=anything, warmup_ms=st.one_of(st.floats(-1, 2), st.just(float("nan"))),
       nbytes=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))
def test_bench(rep_ms, warmup_ms, nbytes):
    if isinstance(rep_ms, (int, float)) and not isinstance(rep_ms, bool) and math.isfinite(rep_ms):
        rep_ms = min(rep_ms, 3)                  # keep it fast: the hang risk is NaN/inf, tested as drawn
    m = _raises_documented(lambda: pl.bench(lambda: None, rep_ms=rep_ms, warmup_ms=warmup_ms, bytes=nbytes,
                                            mode="cpu"))
    if m is not None:
        assert m.median > 0 and m.calls_per_sample >= 1


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=15)
@given(size=anything, variants=st.one_of(st.none(), st.sampled_from(["two_ops", "o", "", "fused"]),
                                        st.lists(st.sampled_from(["two_ops", "x", 3]), max_size=2)),
       seed=st.one_of(st.integers(0, 5), st.text(max_size=2), st.floats()), dtype=st.sampled_from([None, "float32", "int8"]))
def test_run(size, variants, seed, dtype):
    if isinstance(size, int) and not isinstance(size, bool):
        size = max(-5, min(size, 300))           # small, so a valid draw runs quickly
    r = _raises_documented(lambda: pl.run(toylab, size=size, variants=variants, seed=seed, dtype=dtype,
                                          rep_ms=1, record=False))
    if r is not None:
        assert str(r.table())


@pytest.mark.timeout(60)
@FUZZ
@given(seeds=st.one_of(st.tuples(), st.tuples(st.integers(0, 9)), st.text(max_size=2),
                       st.tuples(st.floats()), st.integers()))
def test_grade(seeds):
    g = _raises_documented(lambda: pl.grade(toylab, toylab.two_ops, seeds=seeds))
    if g is not None:
        assert g.correct and len(tuple(seeds)) >= 1


def _calculators():
    """Every function decorated with @calculator_inputs: import the modules that use it."""
    for path in [*REPO.glob("labs/**/*.py"), *REPO.glob("perflab/**/*.py")]:
        if "@calculator_inputs(" in path.read_text(errors="replace") and path.name != "validate.py":
            importlib.import_module(".".join(path.relative_to(REPO).with_suffix("").parts))
    return list(validate.CALCULATORS)


CALCS = _calculators()
CHOICES = {"model": None, "dtype": "bf16"}       # string menus without defaults (ch18): first preset / bf16


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fn", CALCS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_calculators(fn):
    """In range: text or a documented error. NaN, inf, negative (and zero where positive): a ValueError."""
    sig = inspect.signature(fn)
    rules = fn.calculator_inputs
    base = {}
    for name, p in sig.parameters.items():
        if p.default is not inspect.Parameter.empty:
            base[name] = p.default
        elif name == "model":
            base[name] = next(iter(importlib.import_module(fn.__module__).PRESETS))
        elif name in CHOICES:
            base[name] = CHOICES[name]
        else:
            base[name] = 1 if "int" in str(p.annotation) else 1.0
    numeric = [n for n, v in base.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]

    @settings(FUZZ, max_examples=12)
    @given(st.data())
    def fuzz(data):
        name = data.draw(st.sampled_from(numeric))
        kind = data.draw(st.sampled_from(["valid", "nan", "inf", "negative", "zero"]))
        integer = isinstance(base[name], int)
        if kind == "valid":
            hi = 1.0 if name in rules["fraction"] else 1e4
            lo = 1 if name in rules["positive"] else 0
            # the sliders' scale: ints up to 64 (3**knobs explodes beyond), floats from 1e-3 (no denormals)
            value = (data.draw(st.integers(lo, 64)) if integer and hi > 1
                     else data.draw(st.one_of(st.just(0.0), st.floats(1e-3, hi)) if lo == 0 else st.floats(1e-3, hi)))
        else:
            value = {"nan": math.nan, "inf": math.inf, "negative": -1.5, "zero": 0}[kind]
        args = dict(base, **{name: value})
        if kind in ("nan", "inf") or (kind == "negative" and name not in rules["signed"]) or \
                (kind == "zero" and name in rules["positive"]):
            with pytest.raises(ValueError, match=name):
                fn(**args)
        else:
            out = _raises_documented(lambda: fn(**args))
            if out is not None:
                assert isinstance(out, (str, int, float))
    if numeric:
        fuzz()


@pytest.mark.timeout(60)
@FUZZ
@given(payload=st.one_of(st.binary(max_size=40).map(lambda b: ("bytes", b)),
                         st.text(max_size=60).map(lambda t: ("text", t)),
                         st.sampled_from(['{"records": {}}', '{"records": [{"lab": 3}]}', '[]', '{"records": [1]}',
                                          '{"manifest": {}, "records": []}']).map(lambda t: ("text", t))))
def test_results_read_malformed_files(payload, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "r.json"
    kind, data = payload
    (path.write_bytes if kind == "bytes" else path.write_text)(data)
    got = _raises_documented(lambda: results.read(path))
    if got is not None:
        manifest, records = got
        assert isinstance(records, list)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=15)
@given(argv=st.lists(st.sampled_from(["run", "list", "report", "ch00.scale_shift", "--size", "-5", "abc", "0",
                                      "(1, 2)", "--rep-ms", "nan", "--dtype", "int8", "--variant", "o",
                                      "--bogus", "nope.json", "ceilings", "--json"]), max_size=5))
def test_cli(argv, capsys):
    if argv[:1] == ["run"] and "--size" not in argv:
        return                                   # a valid run of the full default size is not fuzzing
    try:
        code = cli.main(argv)
    except SystemExit as exc:                    # argparse: --help (0) or a usage error (2)
        code = exc.code
    assert code in (0, 1, 2), (argv, code, capsys.readouterr().err[-400:])
