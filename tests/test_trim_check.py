"""perflab.trim_check flags a trimmed run whose ratios leave the full run's noise, and only those."""
import json

import pytest

from perflab import trim_check
from perflab.results import Record


def rec(variant, median, spread=0.02, size=1000, base=None, frac=None, lab="ch07.x"):
    """A record with p20/p80 at median × (1 ∓ spread) and the speedup against ``base`` seconds."""
    return Record(chapter=lab.split(".")[0], lab=lab, variant=variant, size=size, dtype="float32",
                  correct=True, median_s=median, p20_s=median * (1 - spread), p80_s=median * (1 + spread),
                  speedup_vs_baseline=(base or median) / median, ceiling_fraction=frac)


def run(size, base_s, fast_s, frac, spread=0.02):
    return [rec("baseline", base_s, spread, size), rec("fast", fast_s, spread, size, base=base_s, frac=frac)]


def verdicts(pairs):
    return {(p.variant, p.metric): p.ok for p in pairs}


def test_same_ratio_at_a_smaller_size_passes():
    full = run(1000, 4e-3, 1e-3, 0.90)                  # 4.0×, 90 % of the ceiling
    trimmed = run(100, 4.2e-4, 1.0e-4, 0.88)            # 4.2×, 88 %: inside 2 % spreads + 5 %
    pairs, missing = trim_check.compare(full, trimmed)
    assert verdicts(pairs) == {("fast", "speedup"): True, ("fast", "ceiling fraction"): True}
    assert missing == [] and pairs[0].full_size == 1000 and pairs[0].trimmed_size == 100


def test_a_planted_drift_is_flagged():
    full = run(1000, 4e-3, 1e-3, 0.90)
    trimmed = run(100, 2e-4, 1e-4, 0.45)                # 2.0× and 45 %: the lesson changed
    pairs, _ = trim_check.compare(full, trimmed)
    assert verdicts(pairs) == {("fast", "speedup"): False, ("fast", "ceiling fraction"): False}
    assert "OUTSIDE NOISE" in trim_check.report(pairs, [])


def test_wide_spreads_make_room_and_the_floor_is_the_only_allowance_without_them():
    full = run(1000, 4e-3, 1e-3, 0.90, spread=0.15)
    trimmed = run(100, 3e-4, 1e-4, 0.90, spread=0.15)   # 3.0× vs 4.0×: inside ±15 % spreads
    assert all(p.ok for p in trim_check.compare(full, trimmed)[0])
    tight_full = run(1000, 4e-3, 1e-3, 0.90, spread=0.0)
    tight_trim = run(100, 3e-4, 1e-4, 0.90, spread=0.0)
    pairs, _ = trim_check.compare(tight_full, tight_trim, floor=0.05)
    assert verdicts(pairs)[("fast", "speedup")] is False


def test_the_size_the_notebook_ran_is_chosen_and_missing_labs_are_listed():
    # the full file also holds one grading record at another size: the two-variant size is the run
    full = run(1000, 4e-3, 1e-3, 0.9) + [rec("fast", 1e-5, size=7)]
    full += [rec("baseline", 2e-3, lab="ch09.y")]
    trimmed = run(100, 4e-4, 1e-4, 0.9)
    pairs, missing = trim_check.compare(full, trimmed)
    assert {p.full_size for p in pairs} == {1000}
    assert missing == [("ch09.y", "float32")]


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="floor"):
        trim_check.compare([], [], floor=1.5)
    broken = rec("fast", 1e-3)
    broken.p20_s, broken.p80_s = 2e-3, 1e-3
    with pytest.raises(ValueError, match="p80_s"):
        trim_check.spread(broken)


def test_cli_exit_status(tmp_path, capsys):
    from perflab import results
    f = results.write(tmp_path / "full.json", run(1000, 4e-3, 1e-3, 0.9))
    good = results.write(tmp_path / "good.json", run(100, 4e-4, 1e-4, 0.9))
    bad = results.write(tmp_path / "bad.json", run(100, 1e-4, 1e-4, 0.3))
    assert trim_check.main([str(f), str(good)]) == 0
    assert trim_check.main([str(f), str(bad)]) == 1
    assert "OUTSIDE NOISE" in capsys.readouterr().out
    assert json.loads(f.read_text())["records"]            # the inputs are left as they were
