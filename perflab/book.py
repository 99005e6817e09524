"""The book's claims as data, so a chapter's book check and ``perflab report`` read the same claims.

A chapter's ``labs/chNN_*/book_check.py`` lists its measurable claims in ``RATIOS``; each names two
variants of one lab, and ours is the median of ``before`` over the median of ``after`` at the same size
and dtype (the first size both were timed at). :func:`table` makes a chapter's book-check table from its
rows: plain ``[claim, book, ours, reference, why]`` lists and :class:`Ratio` rows it fills in from the runs.

    >>> times(2.5), times(None), times(1.234, 1)
    ('2.50×', '—', '1.2×')
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from perflab import results
from perflab.table import Table

AGREES = 0.25       # "reproduced" when ours is within ±25% of the book's ratio


def times(value: float | None, digits: int = 2) -> str:
    """A ratio as text ('1.23×'), or '—' where it was not measured."""
    return "—" if value is None else f"{value:.{digits}f}×"


def ratio(records, lab: str, before: str, after: str, size=None) -> float | None:
    """median(before) / median(after) of one lab's correct, timed records: at ``size`` if given, else at the
    first size and dtype where both were timed; None where they were not."""
    groups: dict = {}
    for r in records:
        if r.lab == lab and r.correct and r.median_s and (size is None or r.size == size):
            groups.setdefault((json.dumps(r.size), r.dtype), {})[r.variant] = r.median_s
    for medians in groups.values():
        if before in medians and after in medians:
            return medians[before] / medians[after]
    return None


def speedup(records, variant: str) -> float | None:
    """A variant's recorded speedup over its lab's baseline (the first record that has one), or None."""
    return next((r.speedup_vs_baseline for r in records if r.variant == variant and r.speedup_vs_baseline), None)


def records_of(*runs) -> list:
    """The records of the runs (LabRun objects) that ran; None stands for a run that did not."""
    return [rec for run in runs if run is not None for rec in run.records]


def device_of(*runs) -> str:
    """The device of the first run that ran, or 'this device'."""
    return next((run.device for run in runs if run is not None), "this device")


def gpu_size(lab: str):
    """The lab's first GPU size as records store it (a list, or an int)."""
    from perflab.lab import load
    size = load(lab).SIZES["gpu"][0]
    return list(size) if isinstance(size, tuple) else size


def reference_at_gpu_size(lab: str) -> list:
    """The reference run's records of one lab at its first GPU size."""
    size = gpu_size(lab)
    return [r for r in results.reference(lab) if r.size == size]


@dataclass(frozen=True)
class Ratio:
    claim: str              # where and what: "Table 7-1 · coalesced vs stride-2 copy (L3087–L3093)"
    book: float | None      # the book's ratio; None where the book gives no number
    lab: str
    before: str             # variant names
    after: str
    why: str                # why ours differs, or what the number means
    said: str = ""          # the book column's text where it is not the ratio itself ("no number", "1.5×")

    def ours(self, records) -> float | None:
        """before / after from records of one run (the first size and dtype where both were timed)."""
        return ratio(records, self.lab, self.before, self.after)

    def verdict(self, ours: float | None) -> str:
        if ours is None:
            return "not measured"
        if self.book is None:
            return "no book number"
        return "reproduced" if abs(ours / self.book - 1) <= AGREES else "differs: see why"

    def row(self, mine, reference) -> list:
        """[claim, book, ours, reference, why] with the ratio from this session's records and the reference's."""
        return [self.claim, self.said or times(self.book), times(self.ours(mine)), times(self.ours(reference)),
                self.why]


def table(rows, title: str, ours: str, *, runs=(), reference_records=None, reference: str = "H200 reference",
          notes=()) -> Table:
    """A chapter's book-check table. rows: ``[claim, book, ours, reference, why]`` lists, or Ratio rows filled
    in from the records of ``runs`` and of ``reference_records`` (default: the whole reference run).

    >>> from perflab.results import Record
    >>> run = type("Run", (), {"device": "Pretend GPU", "records": [Record("ch99", "ch99.lab", v, 8, "float32", ok, s)
    ...        for v, ok, s in (("slow", True, 3.0), ("fast", True, 1.0), ("broken", False, None))]})()
    >>> rows = [Ratio("fast", 2.5, "ch99.lab", "slow", "fast", "why"), Ratio("wrong", None, "ch99.lab", "slow",
    ...         "broken", "why", said="no number"), ["a count", "4", "4", "same", "agrees"]]
    >>> t = table(rows, "Book check", f"yours ({device_of(None, run)})", runs=[run], reference_records=[])
    >>> t.columns[2], t.rows
    ('yours (Pretend GPU)', [['fast', '2.50×', '3.00×', '—', 'why'], ['wrong', 'no number', '—', '—', 'why'], \
['a count', '4', '4', 'same', 'agrees']])
    """
    mine = records_of(*runs)
    if reference_records is None and any(isinstance(row, Ratio) for row in rows):
        reference_records = results.reference()
    rows = [row.row(mine, reference_records) if isinstance(row, Ratio) else list(row) for row in rows]
    return Table(["book claim", "book", ours, reference, "why"], rows, title=title, notes=list(notes))


def all_ratios() -> list[Ratio]:
    """RATIOS of every chapter's book_check module, in chapter order."""
    from perflab.lab import _chapter_packages, chapter
    return [ratio for key in sorted(_chapter_packages()) for ratio in chapter(key).ratios()]
