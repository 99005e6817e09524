"""The before/after panel: pick a size and variants, re-run the lab live, see table, chart, roofline."""
from __future__ import annotations

from perflab.lab import load


def panel(lab, *, sizes: list | None = None, variants: list[str] | None = None, rep_ms: float = 50):
    """An interactive panel for one lab (ipywidgets), or a plain-text run where widgets cannot render.

    Moving the size slider or toggling a variant re-runs the checked-and-timed lab and redraws the
    table, the bar chart and the roofline. Returns the widget (``.last_run`` holds the latest LabRun).
    """
    from perflab.display import widget_module
    from perflab.machine import env
    from perflab.runner import availability, last_run, run
    from perflab.quick import elements
    from perflab.validate import _size_meaning
    lab = load(lab)
    sizes = list(sizes or lab.SIZES[env().tier])
    default, meaning = sizes[0], _size_meaning(lab) or "elements"
    sizes = sorted(sizes, key=elements)          # the slider runs small to large; the lab's default stays selected
    names = variants or lab.variant_names()
    runnable = [n for n in names if availability(lab.get_variant(n), env())[0]]
    w = widget_module()
    if w is None:
        prev = last_run(lab.name, default, lab.DTYPES[0], runnable)
        if prev is not None:                # the same lab, size and variants already ran in this kernel
            print("(widgets unavailable here: the run above stands for the panel; not measured again)")
            return None
        print("(widgets unavailable here: showing one run as text)")
        print(run(lab, size=default, variants=runnable, rep_ms=rep_ms))
        return None                         # printed: a returned run would be shown a second time

    size = w.SelectionSlider(options=[(str(s), s) for s in sizes], value=default, description="size",
                             continuous_update=False, layout=w.Layout(width="420px"))
    size_label = w.Label(f"size means {meaning}")
    boxes = [w.Checkbox(value=n in runnable, description=n, disabled=n not in runnable, indent=False,
                        layout=w.Layout(width="auto")) for n in names]
    out = w.Output()
    status = w.HTML()
    box = w.VBox([w.HTML(f"<b>{lab.name}</b> · {lab.TITLE}"), w.HBox([size, size_label]), w.HBox(boxes), status, out])
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


def calculator(fn, **params):
    """A back-of-envelope model with sliders: its result is shown once, and redrawn when a control moves.

    params: ``name=(min, max, step, value)`` for a number, or ``name=[choice, ...]`` for a menu. A
    positive float range spanning 1000× or more gets a logarithmic slider (``step`` is then ignored).
    ``fn(**values)`` returns the text to show. In a notebook with ipywidgets the text sits under the
    controls and follows them; elsewhere the printed line is the whole output.

    >>> calculator(lambda gbps, tflops: f"ridge {tflops * 1e3 / gbps:.0f} FLOP/B",
    ...            gbps=(100, 8000, 100, 4800), tflops=(1, 2000, 1, 989))
    ridge 206 FLOP/B
    """
    from perflab.display import widget_module
    values = {k: (v[3] if isinstance(v, tuple) else v[0]) for k, v in params.items()}
    w = widget_module()
    if w is None:
        print(fn(**values))
        return None
    controls = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            lo, hi, step, val = v
            look = dict(description=k, continuous_update=False, style={"description_width": "initial"},
                        layout=w.Layout(width="460px"))
            if is_log_range(lo, hi):
                import math
                controls[k] = w.FloatLogSlider(min=math.log10(lo), max=math.log10(hi), step=0.01, value=val,
                                               base=10, readout_format=".3g", **look)
                continue
            cls = w.IntSlider if all(isinstance(x, int) for x in v) else w.FloatSlider
            controls[k] = cls(min=lo, max=hi, step=step, value=val, **look)
        else:
            controls[k] = w.Dropdown(options=list(v), value=v[0], description=k)
    out = w.Output()

    def update(**vals):
        with out:
            out.clear_output(wait=True)
            print(fn(**vals))
    w.interactive_output(update, controls)
    box = w.VBox(list(controls.values()) + [out])
    from IPython.display import display
    display(box)
    return None


def is_log_range(lo, hi) -> bool:
    """A positive float range spanning 1000× or more reads better on a logarithmic slider.

    >>> is_log_range(0.05, 2000.0), is_log_range(1, 2500), is_log_range(50, 8000)
    (True, False, False)
    """
    return isinstance(lo, float) and isinstance(hi, float) and lo > 0 and hi / lo >= 1000
