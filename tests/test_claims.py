"""Chapter claims hold on every committed reference device, the check catches a planted contradiction,
and each claim type says ✅ on right data and ❌ on wrong data."""
import json
from dataclasses import asdict

import pytest

from perflab import claims, results
from perflab.claims import About, AtLeast, AtMost, Faster, Holds, Scales
from perflab.results import Record

HOPPER = {"device": "H100", "tier": "gpu", "capability": "sm_90", "memory_gb": 85}
T4 = {"device": "Tesla T4", "tier": "gpu", "capability": "sm_75", "memory_gb": 16}
CPU = {"device": "cpu", "tier": "cpu"}


def rec(variant, median, size=(1000, 4000), **kw):
    return Record("ch09", "ch09.l2norm", variant, list(size), "float32", True, median_s=median, **kw)


RUN = [rec("eager", 3.0, ceiling_fraction=0.30), rec("fused", 1.0, ceiling_fraction=0.90)]


@pytest.mark.parametrize("path", claims.reference_files(), ids=lambda p: p.name)
def test_no_committed_reference_contradicts_a_claim(path):
    found = claims.problems(path)
    assert not found, "\n".join(found)


def test_both_reference_devices_are_checked():
    assert {p.stem for p in claims.reference_files()} >= {"nvidia-h100", "nvidia-h200"}


def test_a_planted_contradiction_is_caught(tmp_path):
    """Copy a reference, make one claimed-faster variant slower, and the check must say so."""
    read = {p: results.read(p) for p in claims.reference_files()}
    claim, src = next((c, p) for c in claims.all_claims() if isinstance(c, Faster)
                      for p, (man, recs) in read.items() if claims.evaluate(c, recs, {}, man).mark == "✅")
    manifest, records = read[src]
    assert claims.problems(src, [claim]) == []
    slow = max(r.median_s for r in records if r.lab == claim.lab and r.median_s) * 10
    spoiled = [Record(**{**asdict(r), "median_s": slow}) if (r.lab, r.variant) == (claim.lab, claim.variant)
               else r for r in records]
    path = tmp_path / src.name
    path.write_text(json.dumps({"manifest": manifest, "records": [asdict(r) for r in spoiled]}))
    found = claims.problems(path)
    assert any(claim.words in line for line in found), found


@pytest.mark.parametrize("claim, mark, shown", [
    (Faster("ch09.l2norm", "fused", than="eager", by=2.0), "✅", "3.00×"),
    (Faster("ch09.l2norm", "fused", than="eager", by=4.0), "❌", "3.00×"),
    (About("ch09.l2norm", "fused", "eager", 3.2, within=0.1), "✅", "3.00×"),
    (About("ch09.l2norm", "fused", "eager", 2.0, within=0.1), "❌", "3.00×"),
    (AtLeast("ch09.l2norm", "fused", "ceiling_fraction", 0.85), "✅", "90%"),
    (AtLeast("ch09.l2norm", "eager", "ceiling_fraction", 0.85), "❌", "30%"),
    (AtMost("ch09.l2norm", "eager", "ceiling_fraction", 0.5), "✅", "30%"),
    (AtMost("ch09.l2norm", "fused", "ceiling_fraction", 0.5), "❌", "90%"),
], ids=lambda x: x.words if isinstance(x, claims.Claim) else None)
def test_each_kind_holds_on_right_data_and_fails_on_wrong(claim, mark, shown):
    v = claims.evaluate(claim, RUN, {}, HOPPER)
    assert (v.mark, v.shown) == (mark, shown)


def test_a_failure_names_the_reason_for_its_device_class():
    c = Faster("ch09.l2norm", "eager", than="fused", why_not={"small_gpu": "T4: the L2 is 4 MB"})
    assert claims.evaluate(c, RUN, {}, T4).reason == "T4: the L2 is 4 MB"
    assert "CPU tier" in claims.evaluate(c, RUN, {}, CPU).reason
    assert "Hopper" in claims.evaluate(c, RUN, {}, HOPPER).reason
    on_gpus = Faster("ch09.l2norm", "eager", than="fused", why_not={"gpu": "launch-bound"})
    assert claims.evaluate(on_gpus, RUN, {}, HOPPER).reason == "launch-bound"


def test_scales_fits_the_growth_law():
    linear = [rec("eager", 1e-3 * n, size=(n, 64)) for n in (100, 200, 400, 800)]
    assert Scales("ch09.l2norm", "eager", "linear", axis=0).evaluate(linear, HOPPER).mark == "✅"
    assert Scales("ch09.l2norm", "eager", "constant", axis=0).evaluate(linear, HOPPER).mark == "❌"
    assert Scales("ch09.l2norm", "eager", "linear").evaluate(linear[:1], HOPPER).mark == "—"


def test_holds_on_a_value_and_on_a_model():
    c = Holds("ch17.sim", "disaggregation cuts p99 TTFT", lambda v: v["co"] / v["dis"], at_least=1.5)
    assert c.evaluate({"ch17.sim": {"co": 3.0, "dis": 1.0}}, CPU).mark == "✅"
    assert c.evaluate({"ch17.sim": {"co": 1.0, "dis": 1.0}}, CPU).mark == "❌"
    assert c.evaluate({}, CPU).mark == "—"
    m = Holds("ch17.sim", "the model says so", lambda v: v > 2, model=lambda: 1)
    assert m.evaluate({}, CPU).mark == "❌"


def test_tier_and_missing_data_give_a_dash():
    gpu_only = Faster("ch09.l2norm", "fused", than="eager", tier="gpu")
    assert gpu_only.evaluate(RUN, CPU).mark == "—"
    assert Faster("ch09.l2norm", "fused", than="eager", tier="sm_90").evaluate(RUN, T4).mark == "—"
    assert Faster("ch09.l2norm", "fused", than="missing").evaluate(RUN, HOPPER).mark == "—"
    wrong = [rec("eager", 3.0), Record("ch09", "ch09.l2norm", "fused", [1000, 4000], "float32", False)]
    assert Faster("ch09.l2norm", "fused", than="eager").evaluate(wrong, HOPPER).mark == "—"


@pytest.mark.parametrize("make, says", [
    (lambda: Faster("l2norm", "a", than="b"), "like 'ch09.l2norm'"),
    (lambda: Faster("ch09.l2norm", "a", than="b", by=0), "positive ratio"),
    (lambda: Faster("ch09.l2norm", "a", than="b", tier="tpu"), "sm_90"),
    (lambda: AtLeast("ch09.l2norm", "a", "speed", 1.0), "record field"),
    (lambda: Scales("ch09.l2norm", "a", "cubic-ish"), "log-log slope"),
    (lambda: Faster("ch09.l2norm", "a", than="b", why_not={"tpu": "x"}), "device classes"),
    (lambda: Holds("ch17.sim", "", None), "measure=callable"),
    (lambda: claims.cell("eager", "pays back after", match="contains"), "startswith"),
])
def test_bad_declarations_say_how_to_fix(make, says):
    with pytest.raises(ValueError, match=says):
        make()


def test_show_renders_text_with_every_reference_column():
    table = claims.show("ch09", run=RUN)
    text = str(table)
    assert "Claims · ch09" in text and "this run" in text
    assert len(table.columns) == 2 + len(claims.reference_files())
    assert "<table>" in table._repr_html_()


def test_every_chapter_claim_is_well_formed():
    for c in claims.all_claims():
        assert c.words and c.lab.startswith(c.chapter)


def test_model_claims_hold_and_manifest_claims_read_the_manifest():
    for c in claims.all_claims():
        if isinstance(c, Holds) and c.model is not None:
            assert c.evaluate({}, CPU).mark == "✅", c.words
    pinned = Holds("ch00.ceilings", "pinned ≥ 2× pageable", lambda c: c["h2d_pinned_gbps"] / c["h2d_pageable_gbps"],
                   at_least=2.0, from_manifest="ceilings")
    fast = {**HOPPER, "ceilings": {"h2d_pinned_gbps": 50.0, "h2d_pageable_gbps": 5.0}}
    slow = {**HOPPER, "ceilings": {"h2d_pinned_gbps": 6.0, "h2d_pageable_gbps": 5.0}}
    assert claims.evaluate(pinned, [], {}, fast).mark == "✅"
    assert claims.evaluate(pinned, [], {}, slow).mark == "❌"
