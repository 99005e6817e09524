"""Notebook widgets: a calculator shows its result once and follows its controls; wide ranges get a log
slider; a panel's size slider runs small to large with the lab's default selected and its meaning labelled."""
import pytest

import perflab as pl
from perflab import display
from perflab import widgets as wd

ipywidgets = pytest.importorskip("ipywidgets")


@pytest.fixture
def notebook(monkeypatch):
    shown = []
    monkeypatch.setattr(display, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda *objs, **k: shown.extend(objs))
    return shown


def _controls(box):
    return {c.description: c for c in box.children if hasattr(c, "description") and c.description}


def test_calculator_headless_prints_its_line_once(capsys):
    wd.calculator(lambda a, kind: f"{kind}: {a * 2}", a=(1, 10, 1, 3), kind=["x", "y"])
    assert capsys.readouterr().out == "x: 6\n"


def test_calculator_in_a_notebook_shows_one_live_result(notebook, capsys):
    calls = []

    def model(a, kind):
        calls.append((a, kind))
        return f"{kind}: {a * 2}"
    wd.calculator(model, a=(1, 10, 1, 3), kind=["x", "y"])
    assert calls == [(3, "x")]                       # once: no second, stale line above the controls
    (box,) = notebook
    _controls(box)["kind"].value = "y"
    assert calls[-1] == (3, "y") and len(calls) == 2
    assert capsys.readouterr().out.splitlines()[-1] == "y: 6"


def test_wide_positive_ranges_get_a_log_slider(notebook):
    wd.calculator(lambda intensity, peak: f"{intensity}", intensity=(0.05, 2000.0, 0.05, 0.25),
                  peak=(1, 2500, 1, 989))
    c = _controls(notebook[0])
    assert isinstance(c["intensity"], ipywidgets.FloatLogSlider) and c["intensity"].value == pytest.approx(0.25)
    assert isinstance(c["peak"], ipywidgets.IntSlider)


def test_panel_sizes_run_small_to_large_with_default_selected_and_meaning_labelled(notebook, monkeypatch):
    from labtests import fake_ceilings
    from tests import toylab
    fake_ceilings(monkeypatch)
    monkeypatch.setattr(toylab, "OPTIONS", pl.LabOptions(target=0.5, size_meaning="elements of x"))
    box = wd.panel(toylab, sizes=[1003, 37, 5003], variants=["two_ops"], rep_ms=1)
    slider = box.children[1].children[0]
    assert [v for _, v in slider.options] == [37, 1003, 5003] and slider.value == 1003
    assert "elements of x" in box.children[1].children[1].value
