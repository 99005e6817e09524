"""The book's time ratios as data, so a chapter's book check and ``perflab report`` read the same claims.

A chapter's ``labs/chNN_*/book_check.py`` lists its measurable claims in ``RATIOS``; each names two
variants of one lab, and ours is the median of ``before`` over the median of ``after`` at the same size
and dtype (the first size both were timed at).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

AGREES = 0.25       # "reproduced" when ours is within ±25% of the book's ratio


@dataclass(frozen=True)
class Ratio:
    claim: str              # where and what: "Table 7-1 · coalesced vs stride-2 copy (L3087–L3093)"
    book: float | None      # the book's ratio; None where the book gives no number
    lab: str
    before: str             # variant names
    after: str
    why: str                # why ours differs, or what the number means

    def ours(self, records) -> float | None:
        """before / after from records of one run (the first size and dtype where both were timed)."""
        groups: dict = {}
        for r in records:
            if r.lab == self.lab and r.correct and r.median_s:
                groups.setdefault((json.dumps(r.size), r.dtype), {})[r.variant] = r.median_s
        for medians in groups.values():
            if self.before in medians and self.after in medians:
                return medians[self.before] / medians[self.after]
        return None

    def verdict(self, ours: float | None) -> str:
        if ours is None:
            return "not measured"
        if self.book is None:
            return "no book number"
        return "reproduced" if abs(ours / self.book - 1) <= AGREES else "differs: see why"


def all_ratios() -> list[Ratio]:
    """RATIOS of every chapter's book_check module, in chapter order."""
    from perflab.lab import _chapter_packages, chapter
    return [ratio for key in sorted(_chapter_packages()) for ratio in chapter(key).ratios()]
