"""Predictions: a guess is validated, kept once per kernel, and shown beside the measured answer."""
from types import SimpleNamespace

import pytest

from perflab import predictions as pr
from perflab import results


def _run(**medians):
    rows = [SimpleNamespace(name=n, status="timed" if m else "checked", why="" if m else "Triton interpreter",
                            measurement=SimpleNamespace(median=m) if m else None) for n, m in medians.items()]
    return SimpleNamespace(rows=rows, device="test-cpu")


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(pr, "_GUESSES", {})
    monkeypatch.setenv("PERFLAB_HEADLESS", "1")


def test_ratio_is_time_of_baseline_over_variant_and_the_verdict_follows_the_guess():
    g = pr.predict("ch00.scale_shift", "q", of=("one_kernel", "two_kernels"), value=2.0)
    run = _run(two_kernels=3e-3, one_kernel=1e-3, triton_fused=None)
    assert g.measured(run) == (pytest.approx(3.0), "")
    assert g.verdict(3.0).startswith("❌ off by 1.50×")
    g2 = pr.predict("ch00.scale_shift", "q2", of=("one_kernel", "two_kernels"), value="2.8×")
    assert g2.value == 2.8 and g2.verdict(3.0).startswith("✅")


def test_headless_skips_the_widget_in_one_line_and_reveal_prints_guess_beside_measurement(capsys):
    g = pr.predict("ch00.scale_shift", "speedup?", of=("one_kernel", "two_kernels"))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "prediction skipped" in out and g.value is None
    g.commit("1.7")
    g.reveal(_run(two_kernels=2e-3, one_kernel=1e-3))
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("speedup?"))
    assert "1.70×" in row and "2.00×" in row          # the guess and the measurement on one row


def test_a_guess_is_kept_in_the_kernel_and_counts_once():
    g = pr.predict("ch00.scale_shift", "kept", of=("one_kernel", "two_kernels"), value=1.5)
    again = pr.predict("ch00.scale_shift", "kept", of=("one_kernel", "two_kernels"))
    assert again is g and again.value == 1.5
    with pytest.raises(ValueError, match="already committed"):
        g.commit(3)


@pytest.mark.parametrize("bad", ["fast", -1, 0, float("nan"), None, "inf"])
def test_bad_ratio_guesses_are_refused_with_the_expected_form(bad):
    g = pr.predict("ch00.scale_shift", "bad", of=("one_kernel", "two_kernels"))
    with pytest.raises(ValueError, match="positive number such as 2.5"):
        g.commit(bad)
    assert g.value is None


def test_bad_questions_are_refused_before_any_widget():
    with pytest.raises(ValueError, match="no variant 'nope'"):
        pr.predict("ch00.scale_shift", "q", of=("nope", "two_kernels"))
    with pytest.raises(ValueError, match="needs of="):
        pr.predict("ch00.scale_shift", "q")
    with pytest.raises(ValueError, match="kind 'number'"):
        pr.predict("ch00.scale_shift", "q", kind="number")
    g = pr.predict("ch00.scale_shift", "c", kind="choice")
    with pytest.raises(ValueError, match="pick one of"):
        g.commit("torch_copy")


def test_choice_answer_is_the_fastest_timed_choice():
    g = pr.predict("ch00.scale_shift", "fastest?", kind="choice", value="two_kernels")
    run = _run(two_kernels=3e-3, one_kernel=1e-3, triton_fused=None)
    assert g.measured(run)[0] == "one_kernel"
    assert g.verdict("one_kernel").startswith("❌")


def test_untimed_variant_falls_back_to_the_reference_device():
    g = pr.predict("ch00.scale_shift", "triton?", of=("triton_fused", "two_kernels"), value=2.0)
    got, why = g.measured(_run(two_kernels=3e-3, one_kernel=1e-3, triton_fused=None))
    assert got is None and "Triton interpreter" in why
    key = results.reference_device()
    recs = {r.variant: r for r in results.reference("ch00.scale_shift", key)}
    if not {"triton_fused", "two_kernels"} <= set(recs):
        pytest.skip("no reference records for ch00.scale_shift")
    ref, label = g.reference()
    assert ref == pytest.approx(recs["two_kernels"].median_s / recs["triton_fused"].median_s)
    table = str(g.table(_run(two_kernels=3e-3, one_kernel=1e-3, triton_fused=None)))
    assert f"{ref:.2f}×" in table and "against the" in table
