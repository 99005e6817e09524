"""The before/after panel: pick a size and variants, re-run the lab live, see table, chart, roofline."""
from __future__ import annotations

from perflab.lab import load


def panel(lab, *, sizes: list | None = None, variants: list[str] | None = None, rep_ms: float = 50):
    """An interactive panel for one lab (ipywidgets), or a plain-text run where widgets cannot render.

    Moving the size slider or toggling a variant re-runs the checked-and-timed lab and redraws the
    table, the bar chart and the roofline. Returns the widget (``.last_run`` holds the latest LabRun).
    """
    from perflab.display import in_notebook
    from perflab.machine import env
    from perflab.runner import availability, run
    lab = load(lab)
    sizes = list(sizes or lab.SIZES[env().tier])
    names = variants or lab.variant_names()
    runnable = [n for n in names if availability(lab.get_variant(n), env())[0]]
    try:
        import ipywidgets as w
    except ImportError:
        w = None
    if w is None or not in_notebook():
        print("(widgets unavailable here: showing one run as text)")
        result = run(lab, size=sizes[0], variants=runnable, rep_ms=rep_ms)
        print(result)
        return result

    size = w.SelectionSlider(options=[(str(s), s) for s in sizes], value=sizes[0], description="size",
                             continuous_update=False, layout=w.Layout(width="420px"))
    boxes = [w.Checkbox(value=n in runnable, description=n, disabled=n not in runnable, indent=False,
                        layout=w.Layout(width="auto")) for n in names]
    out = w.Output()
    status = w.HTML()
    box = w.VBox([w.HTML(f"<b>{lab.name}</b> · {lab.TITLE}"), size, w.HBox(boxes), status, out])
    box.last_run = None

    def rerun(*_):
        chosen = [b.description for b in boxes if b.value]
        status.value = f"running {len(chosen)} variants at size {size.value} …"
        with out:
            out.clear_output(wait=True)
            if not chosen:
                print("pick at least one variant")
                return
            result = run(lab, size=size.value, variants=chosen, rep_ms=rep_ms)
            box.last_run = result
            result.show()
        status.value = f"last run: size {size.value}, {len(chosen)} variants"

    size.observe(rerun, names="value")
    for b in boxes:
        b.observe(rerun, names="value")
    rerun()
    return box
