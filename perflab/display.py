"""Show an object in a notebook when one is there, else print its plain-text form."""
from __future__ import annotations

import os


def in_notebook() -> bool:
    """True inside a Jupyter kernel with a front end. PERFLAB_HEADLESS=1 (set by `make test` and the
    workbook runner) says there is none: headless runners can stall on widget messages (nbclient #312),
    so widgets fall back to their plain-text form."""
    if os.environ.get("PERFLAB_HEADLESS") == "1":
        return False
    try:
        from IPython import get_ipython
        shell = get_ipython()
        return shell is not None and "Terminal" not in type(shell).__name__
    except ImportError:
        return False


def widget_module():
    """The ipywidgets module where a notebook front end can draw it (:func:`in_notebook`), else None."""
    if not in_notebook():
        return None
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def show(obj, fallback: str | None = None) -> None:
    """Display ``obj`` (a table, a plotly figure) in a notebook, or print ``fallback``/``str(obj)``."""
    if obj is None:
        return
    if in_notebook():
        from IPython.display import display
        display(obj)
    else:
        print(fallback if fallback is not None else obj)
