"""Chapter 3: the h2d lab's placement and grader, the calculators, the read-only host report, the feeding sweep
(the variants, on a CPU too: tests/test_contract.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import perflab as pl
from labs.ch03_host_os import _claims, book_check, feeding, h2d_copy, host_report, models, solutions
from labtests import DEVICE

LAB = "ch03.h2d_copy"


def test_inputs_live_on_the_host_and_the_output_on_the_device():
    inputs = h2d_copy.make_inputs(4_099, DEVICE, "float32", 5)
    assert inputs["host"].device.type == "cpu" and inputs["out"].device.type == DEVICE


def test_variants_are_gpu_only_in_the_runner():
    r = pl.run(LAB, rep_ms=5, record=False)
    if DEVICE == "cpu":
        assert all(row.status == "skipped" and "cuda" in row.why for row in r.rows)


def test_grader_passes_the_solution_and_fails_wrong_copies():
    assert pl.grade(LAB, solutions.my_to_device).correct
    assert pl.grade(LAB, lambda host, pinned, out: host.to(out.device)).correct          # the starter
    assert not pl.grade(LAB, lambda host, pinned, out: out)                              # never copied
    assert not pl.grade(LAB, lambda host, pinned, out: out[:-1].copy_(pinned[:-1]))      # short by one
    assert not pl.grade(LAB, lambda host, pinned, out: out.copy_(pinned.flip(0)))


def test_calculators_by_hand():
    assert models.numa_penalty(80, 139) == pytest.approx(1.7375)
    assert models.mean_latency_ns(80, 139, 0.5) == pytest.approx(109.5)
    assert models.copy_s(10e9, 10) == pytest.approx(1.0)
    assert models.step_s(0.02, 0.011, overlapped=False) == pytest.approx(0.031)
    assert models.step_s(0.02, 0.011, overlapped=True) == pytest.approx(0.02)
    assert models.step_s(0.005, 0.011, overlapped=True) == pytest.approx(0.011)
    assert "74% more" in models.explain_numa()
    assert "36% faster" in models.explain_feed(64, 20, 5.8, 53.1)


def test_host_report_reads_and_never_writes(tmp_path, monkeypatch):
    writes = []
    real_open = open

    def spy(path, mode="r", *a, **k):
        if any(c in mode for c in "wa+x"):
            writes.append(path)
        return real_open(path, mode, *a, **k)
    monkeypatch.setattr("builtins.open", spy)
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: writes.append(a))
    t = host_report.report()
    assert not writes
    assert [r[0] for r in t.rows][:3] == ["NUMA nodes", "this process's CPUs", "transparent hugepages"]
    assert str(len(os.sched_getaffinity(0))) in t.rows[1][1]


def test_sysfs_parsers(tmp_path):
    assert host_report.selected("always [madvise] never") == "madvise"
    assert host_report.selected(None) is None
    assert host_report._ranges({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    for n, cpus in ((0, "0-3"), (1, "4-7")):
        (tmp_path / f"node{n}").mkdir()
        (tmp_path / f"node{n}" / "cpulist").write_text(cpus + "\n")
    (tmp_path / "possible").write_text("0-1")
    assert host_report.numa_nodes(str(tmp_path)) == {0: "0-3", 1: "4-7"}


def test_first_touch_table_compares_fresh_mappings_with_the_reused_buffer():
    # the timing itself (fresh mappings ~80× slower here) is the notebook's to show, not a unit test's:
    # a loaded CI machine can stall either case
    touch = host_report.first_touch(nbytes=8 * 1024 * 1024 + 4096 * 3, rep_ms=20)
    t = touch.table()
    assert t.rows[0][0].startswith("fresh mapping") and t.rows[-1][0].startswith("already mapped")
    assert t.rows[-1][-1] == "1.0×" and all(float(r[1]) > 0 for r in t.rows)
    assert touch.vs_reused("already mapped (reused)") == 1.0 and touch.vs_reused("no such case") is None
    assert _claims.fresh_vs_reused(touch) == touch.vs_reused("fresh mapping, 4 KiB pages") > 0


def test_feeding_sweep_and_book_check():
    sweep = feeding.run_sweep([{"num_workers": 0}, {"num_workers": 2, "prefetch_factor": 2},
                               {"num_workers": 2, "prefetch_factor": 2, "pin_memory": True}], rep_ms=40)
    rows = sweep.table().rows
    assert rows[0][1].startswith("✅") and rows[1][1].startswith("✅")
    gain = feeding.pin_gain(sweep)
    assert (gain is None) == (DEVICE == "cpu")
    text = str(book_check.table(sweep))
    assert "1.74×" in text and "L1119" in text and "L1129" in text
