"""A class decorator for result objects that print as their table and render it as HTML in a notebook."""
from __future__ import annotations


def shows_table(cls):
    """Give ``cls`` (anything whose ``table()`` returns a perflab Table) a ``__repr__`` that prints that table
    and a ``_repr_html_`` that renders it. Put it above ``@dataclass``, so it replaces the dataclass repr.

    >>> from perflab.table import Table
    >>> @shows_table
    ... class Two:
    ...     def table(self):
    ...         return Table(["a", "b"], [[1, 2]])
    >>> Two()
    a  b
    -  -
    1  2
    """
    cls.__repr__ = lambda self: str(self.table())
    cls._repr_html_ = lambda self: self.table()._repr_html_()
    return cls
