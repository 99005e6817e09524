"""Predictions that count: commit a guess before a measurement, see it beside the measured answer after.

    guess = pl.predict("ch00.scale_shift", "one_kernel vs two_kernels speedup", kind="ratio",
                       of=("one_kernel", "two_kernels"))     # a widget: type a guess, press Commit
    r = pl.run("ch00.scale_shift")
    guess.reveal(r)                                           # your guess | measured here | reference

The guess lives in the kernel (re-running the predict cell keeps it). In a notebook the measured
answer stays hidden until a guess is committed, so "Run All" does not give it away; the reveal
redraws itself the moment you commit. Headless runs (PERFLAB_HEADLESS=1, CI) skip the widget with
one printed line and reveal the measurement alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

KINDS = ("ratio", "choice")
CLOSE = 1.25            # a ratio guess within this factor of the measurement counts as right

_GUESSES: dict = {}     # (lab, question) -> Prediction: the guesses made in this kernel


@dataclass
class Prediction:
    """One question about a lab, the learner's committed guess (None until committed) and how to
    read the measured answer from a run."""
    lab: str
    question: str
    kind: str = "ratio"
    of: tuple | None = None                 # ratio: (variant, baseline): time(baseline) / time(variant)
    choices: tuple = ()                     # choice: the options offered
    answer: Callable | None = None          # run -> the measured value (overrides `of`)
    value: object = None                    # the committed guess
    _listeners: list = field(default_factory=list, repr=False, compare=False)

    # ---- the guess ---------------------------------------------------------------------------
    def commit(self, value) -> "Prediction":
        """Keep ``value`` as the guess (once: a committed guess cannot be changed)."""
        if self.value is not None:
            raise ValueError(f"a guess ({self.text(self.value)}) is already committed for {self.question!r}; "
                             "predictions count once. Ask a new question with another pl.predict(...) text.")
        self.value = self.validate(value)
        for notify in list(self._listeners):
            notify()
        return self

    def validate(self, value):
        """The guess as a clean value, or a ValueError naming what was wrong and what is expected."""
        if self.kind == "ratio":
            try:
                number = float(str(value).strip().rstrip("x×").strip()) if isinstance(value, str) else float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number) or number <= 0:
                raise ValueError(f"a ratio guess is a positive number such as 2.5 (for 2.5×), got {value!r}")
            return number
        if value not in self.choices:
            raise ValueError(f"pick one of {list(self.choices)}, got {value!r}")
        return value

    def text(self, value) -> str:
        if value is None:
            return "—"
        return f"{value:.2f}×" if self.kind == "ratio" else str(value)

    # ---- the answer --------------------------------------------------------------------------
    def measured(self, run) -> tuple[object, str]:
        """(the measured answer from ``run`` or None, why not)."""
        if self.answer is not None:
            return self.answer(run), ""
        if self.kind == "choice":
            timed = [r for r in run.rows if r.measurement and r.name in self.choices]
            if not timed:
                return None, "none of the choices was timed here"
            return min(timed, key=lambda r: r.measurement.median).name, ""
        variant, base = self.of
        rows = {r.name: r for r in run.rows}
        missing = [n for n in (variant, base) if n not in rows or rows[n].measurement is None]
        if missing:
            why = "; ".join(f"{n}: {rows[n].why or rows[n].status}" if n in rows else f"{n}: not in this run"
                            for n in missing)
            return None, f"not timed here ({why})"
        return rows[base].measurement.median / rows[variant].measurement.median, ""

    def reference(self) -> tuple[object, str]:
        """(the answer on the committed reference device or None, its label)."""
        from perflab import results
        key = results.reference_device()
        label = results.device_label(key)
        recs = [r for r in results.reference(self.lab, key) if r.median_s]
        if not recs:
            return None, label
        sizes = [r.size for r in recs]
        size = max(set(map(repr, sizes)), key=[repr(s) for s in sizes].count)   # the most recorded size
        by_name = {r.variant: r for r in recs if repr(r.size) == size}
        if self.kind == "choice":
            options = [by_name[c] for c in self.choices if c in by_name]
            return (min(options, key=lambda r: r.median_s).variant if options else None), label
        if self.of is None or any(n not in by_name for n in self.of):
            return None, label
        return by_name[self.of[1]].median_s / by_name[self.of[0]].median_s, label

    def verdict(self, measured) -> str:
        if self.value is None or measured is None:
            return ""
        if self.kind == "choice":
            return "✅ right" if self.value == measured else "❌ not this time"
        factor = max(self.value / measured, measured / self.value)
        return f"✅ within {factor:.2f}×" if factor <= CLOSE else f"❌ off by {factor:.2f}×"

    def table(self, run):
        """Your guess beside the measured answer (and the reference device's) as a Table."""
        from perflab.table import Table
        got, why = self.measured(run)
        ref, label = self.reference()
        what = f"{self.of[0]} vs {self.of[1]}" if self.of else ("fastest" if self.kind == "choice" else "")
        rows = [[self.question, self.text(self.value), self.text(got) if got is not None else "—",
                 self.text(ref), self.verdict(got if got is not None else ref)]]
        notes = [f"measured on {run.device}" + (f": {why}" if why else "")]
        if what:
            notes.append(f"the answer: {what}" + (" (time of the second ÷ time of the first)" if self.of else ""))
        if got is None and ref is not None:
            notes.append(f"verdict against the {label} reference, since this device could not time it")
        return Table(["prediction", "your guess", "measured here", f"{label} reference", "verdict"], rows,
                     f"Prediction · {self.lab}", notes)

    def reveal(self, run) -> None:
        """Show the guess beside the measured answer. In a notebook, the answer waits for a committed
        guess and appears the moment one is committed; elsewhere it is printed at once."""
        from perflab.display import widget_module
        w = widget_module()
        if w is None:
            if self.value is None:
                print("(no guess committed: showing the measurement alone)")
            print(self.table(run))
            return
        from IPython.display import display
        out = w.Output()

        def draw():
            out.clear_output(wait=True)
            with out:
                if self.value is None:
                    print(f"🔒 the measured answer to “{self.question}” is hidden until you commit a guess above")
                else:
                    display(self.table(run))
        self._listeners[:] = [draw]          # one live reveal per prediction: the latest cell's
        draw()
        display(out)

    def _repr_pretty_(self, p, cycle):
        p.text(f"Prediction({self.lab}: {self.question!r}, guess {self.text(self.value)})")


def predict(lab, question: str, *, kind: str = "ratio", of: tuple | None = None, choices=None,
            answer: Callable | None = None, value=None) -> Prediction:
    """Ask the learner for a guess before the measurement; returns the Prediction kept in this kernel.

    kind:    "ratio" (a positive number, e.g. 2.5 for 2.5×) or "choice" (one of ``choices``).
    of:      for a ratio, (variant, baseline): the measured answer is time(baseline) / time(variant).
    choices: for a choice; default the lab's variants, and the answer is the fastest timed one.
    answer:  a function run -> value, for anything else.
    value:   commit this guess directly (scripts, tests) instead of showing the widget.

    >>> g = predict("ch00.scale_shift", "doctest: one pass vs two", of=("one_kernel", "two_kernels"), value="2x")
    >>> g.value
    2.0
    """
    from perflab.lab import load
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a short text such as 'one_kernel vs two_kernels speedup', got {question!r}")
    name = load(lab).name
    names = load(lab).variant_names()
    if kind == "ratio" and answer is None:
        if of is None or len(of) != 2:
            raise ValueError(f"a ratio prediction needs of=(variant, baseline), e.g. "
                             f"of={tuple(names[-1:] + names[:1])}, "
                             "or answer=lambda run: ...")
        unknown = [n for n in of if n not in names]
        if unknown:
            raise ValueError(f"{name} has no variant {unknown[0]!r}; it has {names}")
    if kind == "choice":
        choices = tuple(choices) if choices else tuple(names)
    key = (name, question)
    guess = _GUESSES.get(key)
    if guess is None:
        guess = _GUESSES[key] = Prediction(name, question, kind, tuple(of) if of else None, choices or (), answer)
    if value is not None:
        if guess.value is None:
            guess.commit(value)
        return guess
    _ask(guess)
    return guess


def _ask(guess: Prediction) -> None:
    """The input widget, or one line where there is no front end."""
    from perflab.display import widget_module
    if guess.value is not None:
        print(f"your committed guess: {guess.text(guess.value)} ({guess.question})")
        return
    w = widget_module()
    if w is None:
        print("(prediction skipped: no notebook front end here; the measurement below stands alone)")
        return
    from IPython.display import display
    if guess.kind == "ratio":
        entry = w.Text(placeholder="e.g. 2.5", description="your guess (×)", style={"description_width": "initial"},
                       layout=w.Layout(width="220px"))
    else:
        entry = w.Dropdown(options=list(guess.choices), value=None, description="your guess",
                           style={"description_width": "initial"})
    button = w.Button(description="Commit guess", button_style="primary")
    status = w.HTML(f"<i>Predict: {guess.question}. Commit before you run the measurement.</i>")

    def commit(_):
        try:
            guess.commit(entry.value)
        except ValueError as exc:
            status.value = f"❌ {exc}"
            return
        entry.disabled = button.disabled = True
        status.value = f"✅ committed: <b>{guess.text(guess.value)}</b>. Now run the measurement."
    button.on_click(commit)
    box = w.VBox([w.HBox([entry, button]), status])
    box.add_class("perflab-predict")
    display(box)
