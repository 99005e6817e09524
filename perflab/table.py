"""A small table that prints as aligned text and renders as HTML in a notebook."""
from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    title: str = ""
    notes: list[str] = field(default_factory=list)

    def __str__(self):
        cells = [self.columns] + [[str(c) for c in r] for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(r, widths)))
        out = [self.title] if self.title else []
        out += [fmt(self.columns), "  ".join("-" * w for w in widths)]
        out += [fmt(r) for r in cells[1:]]
        out += [f"· {n}" for n in self.notes]
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(
            f"<td style='text-align:{'left' if i == 0 else 'right'}'>{esc(str(c))}</td>"
            for i, c in enumerate(r)) + "</tr>" for r in self.rows)
        title = f"<b>{esc(self.title)}</b>" if self.title else ""
        notes = "".join(f"<div style='font-size:90%'>· {esc(n)}</div>" for n in self.notes)
        return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}"
