"""perflab report: per lab, the best correct variant against its ceiling, wrong variants never ranked."""
from perflab import cli, report, results
from perflab.report import markdown
from perflab.results import Record


def rec(variant, median, frac, correct=True, speedup=1.0):
    return Record(chapter="ch07", lab="ch07.copy", variant=variant, size=1001, dtype="float32",
                  correct=correct, median_s=median if correct else None, gbps=1000.0 if correct else None,
                  ceiling="copy" if correct else None, ceiling_fraction=frac if correct else None,
                  speedup_vs_baseline=speedup if correct else None)


def test_report_ranks_correct_variants_and_applies_the_memory_gate(tmp_path):
    path = results.write(tmp_path / "r.json", [
        rec("slow", 2e-3, 0.40), rec("fast", 1e-3, 0.80, speedup=2.0),
        rec("wrong_but_fast", 1e-4, 9.0, correct=False)])
    text = markdown(path)
    assert "## ch07.copy · size 1001 · float32" in text
    assert "best `fast` at 80%" in text and "below the 85% gate" in text
    assert "| wrong_but_fast | wrong: not timed" in text and "best `wrong_but_fast`" not in text
    results.write(path, [rec("fast", 1e-3, 0.9)])
    assert "meets the 85% gate" in markdown(path)


def test_report_cli_writes_markdown(tmp_path, capsys):
    path = results.write(tmp_path / "r.json", [rec("a", 1e-3, 0.5)])
    assert cli.main(["report", str(path), "--out", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text().startswith("# perflab report")
    assert cli.main(["report", str(tmp_path / "missing.json")]) == 2


def test_book_ratio_is_before_over_after_at_one_size():
    from perflab.book import Ratio
    recs = [Record("ch99", "ch99.lab", "slow", 100, "float32", True, median_s=3.0),
            Record("ch99", "ch99.lab", "fast", 100, "float32", True, median_s=1.0),
            Record("ch99", "ch99.lab", "fast", 200, "float32", True, median_s=9.0),   # another size: ignored
            Record("ch99", "ch99.lab", "broken", 100, "float32", False)]
    r = Ratio("claim", 2.5, "ch99.lab", "slow", "fast", "why")
    assert r.ours(recs) == 3.0 and r.verdict(3.0) == "reproduced"
    assert r.verdict(2.0) == "reproduced" and r.verdict(1.5) == "differs: see why"
    assert Ratio("c", 2.0, "ch99.lab", "slow", "broken", "w").ours(recs) is None     # a wrong variant has no time
    assert Ratio("c", None, "ch99.lab", "slow", "fast", "w").verdict(3.0) == "no book number"


def test_every_lab_under_the_memory_gate_in_the_reference_says_why():
    from collections import defaultdict
    from perflab.lab import load
    _, records = results.read(results.reference_path())
    groups = defaultdict(list)
    for r in records:
        groups[(r.lab, str(r.size), r.dtype)].append(r)
    missing = []
    for (lab, _, _), recs in groups.items():
        timed = [r for r in recs if r.correct and r.ceiling_fraction is not None]
        best = max(timed, key=lambda r: r.ceiling_fraction, default=None)
        if report.below_gate(best) and not load(lab).options.gate_note:
            missing.append(lab)
    assert not missing, f"under the 85% gate with no gate_note in OPTIONS: {sorted(set(missing))}"


def test_exception_line_with_and_without_a_note():
    low = Record("ch09", "ch09.softmax", "triton_fused", [1, 1], "float32", True, ceiling="copy", ceiling_fraction=0.5)
    assert "Below the gate:" in report._exception("ch09.softmax", low)[0]
    assert report._exception("ch00.scale_shift", low)[0].startswith("> **Below the gate, no reason")
    ok = Record("ch09", "ch09.softmax", "triton_fused", [1, 1], "float32", True, ceiling="copy", ceiling_fraction=0.9)
    assert report._exception("ch09.softmax", ok) == []


def test_sources_name_the_run_each_labs_records_come_from():
    runs = [{"labs": "ch07.copy, ch07.t", "how": "first", "date": "2026-12-07", "commit": "aaa"},
            {"labs": "ch07.t", "how": "second", "date": "2026-12-08", "commit": "bbb"}]
    lines = report._sources(runs, {"ch07.copy", "ch07.t", "ch09.old"})
    assert "- 2026-12-07 · commit aaa · 1 lab · first" in lines          # ch07.t was measured again later
    assert "- 2026-12-08 · commit bbb · 1 lab · second" in lines
    assert "- 1 more lab: runs merged before the manifest logged runs" in lines
    assert report._sources([], {"ch07.copy"}) == []
