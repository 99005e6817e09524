"""A result object that prints, and renders in a notebook, as its own ``table()``."""
from __future__ import annotations


def shows_table(cls):
    """Class decorator (put it above ``@dataclass``, which would write its own __repr__ otherwise): ``repr(obj)``
    is ``str(obj.table())`` and a notebook draws ``obj.table()`` as HTML."""
    cls.__repr__ = lambda self: str(self.table())
    cls._repr_html_ = lambda self: self.table()._repr_html_()
    return cls
