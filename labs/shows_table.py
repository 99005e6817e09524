"""A class decorator for result objects that print as their table and render it as HTML in a notebook."""


def shows_table(cls):
    """Give ``cls`` (its ``table()`` returns a perflab Table) a ``__repr__`` that prints that table and a
    ``_repr_html_`` that renders it. Put it above ``@dataclass``, so it replaces the dataclass repr."""
    cls.__repr__ = lambda self: str(self.table())
    cls._repr_html_ = lambda self: self.table()._repr_html_()
    return cls
