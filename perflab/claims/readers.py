"""Readers the chapters' Holds claims share: one number from a table, and the ratio of two readings."""
from __future__ import annotations

from typing import Callable

MATCHES = ("equals", "startswith", "endswith")


def _number(text) -> "float | None":
    """A table cell as a number: '5,466 steps' -> 5466.0, '> 24' -> 24.0, '91%' -> 0.91; None for '—'.

    >>> _number("5,466 steps"), _number("> 24"), _number("91%"), _number(160), _number("—")
    (5466.0, 24.0, 0.91, 160.0, None)
    """
    if isinstance(text, (int, float)):
        return float(text)
    first = (str(text).lstrip("> ").split() or [""])[0]
    try:
        value = float(first.replace(",", "").rstrip("%"))
    except ValueError:
        return None
    return value / 100 if first.endswith("%") else value


def cell(row: str, column: "str | int", match: str = "equals") -> Callable:
    """A reader of one number in a table (perflab.table.Table): in ``column`` (a heading or an index), the
    first row whose first cell equals ``row`` (or, by ``match``, starts or ends with it). It reads None where
    the value is not such a table or the column, the row or the number is missing.

    >>> from perflab.table import Table
    >>> t = Table(["variant", "pays back after"], [["eager", "—"], ["cuda_graph (768, 12)", "1,300 steps"]])
    >>> cell("eager", "pays back after")(t), cell("cuda_graph", 1, "startswith")(t), cell("x", "pays")(t)
    (None, 1300.0, None)
    """
    if match not in MATCHES:
        raise ValueError(f"match={match!r}: use one of {MATCHES}")

    def read(table) -> "float | None":
        cols = list(getattr(table, "columns", []))
        at = column if isinstance(column, int) else cols.index(column) if column in cols else len(cols)
        if at >= len(cols):
            return None
        first = next((r for r in getattr(table, "rows", [])
                      if (r[0] == row if match == "equals" else getattr(str(r[0]), match)(row))), None)
        return None if first is None else _number(first[at])
    return read


def ratio(top: Callable, bottom: Callable) -> Callable:
    """A reader of ``top(value) / bottom(value)``; None where top reads None or bottom reads None or zero.

    >>> ratio(lambda v: v["a"], lambda v: v["b"])({"a": 3.0, "b": 2.0})
    1.5
    """
    def read(value) -> "float | None":
        a, b = top(value), bottom(value)
        return a / b if a is not None and b else None
    return read
