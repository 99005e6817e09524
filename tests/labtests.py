"""Helpers the chapter tests share."""
import perflab as pl
from perflab.runner import availability


def runnable(fn) -> str | None:
    """None when this machine can run the variant (the runner's own rule), else why not."""
    runs, _, why = availability(fn, pl.env())
    return None if runs else why
