"""The committed H200 reference is complete and consistent, and the checker catches each kind of fault."""
import json

import pytest

from perflab import reference_check, results


def test_committed_reference_is_complete_and_consistent():
    found = reference_check.problems(results.reference_path())
    assert not found, "\n".join(found)


@pytest.fixture()
def sample(tmp_path):
    """One real lab group from the reference (ch00.scale_shift), written to a file the test may spoil."""
    manifest, records = results.read(results.reference_path())
    recs = [r for r in records if r.lab == "ch00.scale_shift"]
    assert len(recs) >= 3

    def write(mutate=lambda recs: None, pending=None, labs=("ch00.scale_shift",)):
        dicts = [dict(vars(r)) for r in recs]
        mutate(dicts)
        path = tmp_path / "ref.json"
        path.write_text(json.dumps({"manifest": manifest, "records": dicts}))
        return reference_check.problems(path, pending=pending or {}, labs=list(labs))
    return write


def test_the_sample_is_sound(sample):
    assert sample() == []


@pytest.mark.parametrize("mutate, expect", [
    (lambda recs: recs[1].update(gbps=recs[1]["gbps"] * 1.05), "gbps"),
    (lambda recs: recs[2].update(speedup_vs_baseline=recs[2]["speedup_vs_baseline"] * 1.2), "baseline medians"),
    (lambda recs: recs[1].update(variant="renamed"), "stale record"),
    (lambda recs: recs[1].update(correct=False), "marked wrong but has timings"),
    (lambda recs: recs[1].update(ceiling_fraction=recs[1]["ceiling_fraction"] * 1.2), "of copy"),
    (lambda recs: recs[1].update(p20_s=recs[1]["median_s"] * 2), "quantiles"),
    (lambda recs: [r.update(speedup_vs_baseline=2.0 * r["speedup_vs_baseline"]) for r in recs], "no record is the baseline"),
])
def test_each_fault_is_caught(sample, mutate, expect):
    found = sample(mutate)
    assert any(expect in p for p in found), found


def test_completeness_both_ways(sample):
    assert any("ch99.missing: no records" in p for p in sample(labs=("ch00.scale_shift", "ch99.missing")))
    assert any("still listed" in p for p in sample(pending={"ch00.scale_shift": "not run"}))
    assert any("no such lab" in p for p in sample(pending={"ch98.gone": "not run"}))
    assert any("no longer exists" in p for p in sample(labs=()))


def test_declared_measurements_are_not_stale_labs(sample):
    def add_calibration(recs):
        recs.append({**recs[0], "lab": "ch17.calibration", "variant": "prefill", "speedup_vs_baseline": None})
    assert "ch17.calibration" in reference_check.measurement_groups()
    assert sample(add_calibration) == []
