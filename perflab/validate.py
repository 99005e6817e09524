"""Check what a learner passes in (sizes, dtypes, variants, seeds, timings, calculator inputs) before any work.

Every check raises ValueError (a bad value) or TypeError (a value of the wrong kind) whose message names
the value, what was expected and an example, so a notebook cell or the CLI can show one clear line.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
from typing import Callable


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def number(name: str, value, *, positive: bool = False, minimum: float | None = 0.0,
           maximum: float | None = None, integer: bool = False, where: str = "") -> float:
    """``value`` as a checked number: real, not bool, finite, >= minimum (> 0 when positive), <= maximum.

    >>> number("rep_ms", 20)
    20
    >>> number("rep_ms", float("nan"), positive=True)
    Traceback (most recent call last):
    ValueError: rep_ms must be a finite number > 0, got nan
    """
    at = f"{where}: " if where else ""
    kind = "an int" if integer else "a finite number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and not _is_int(value)):
        raise TypeError(f"{at}{name} must be {kind}, got {type(value).__name__} {value!r}")
    bound = " > 0" if positive else (f" >= {minimum:g}" if minimum is not None else "")
    if maximum is not None:
        bound += f" and <= {maximum:g}"
    bad = (not math.isfinite(value) or (positive and value <= 0)
           or (minimum is not None and value < minimum) or (maximum is not None and value > maximum))
    if bad:
        raise ValueError(f"{at}{name} must be {kind}{bound}, got {value!r}")
    return value


def timing(rep_ms=100, warmup_ms=25, nbytes=None, nflops=None) -> None:
    """bench's knobs: rep_ms and warmup_ms finite and > 0 (warmup may be 0); bytes and flops finite, >= 0."""
    number("rep_ms", rep_ms, positive=True)
    number("warmup_ms", warmup_ms)
    for name, v in (("bytes", nbytes), ("flops", nflops)):
        if v is not None:
            number(name, v)


def seed(value) -> int:
    """A seed is an int (not a string, float or bool)."""
    if not _is_int(value):
        raise TypeError(f"seed must be an int such as seed=0, got {type(value).__name__} {value!r}")
    return int(value)


# ---- labs -----------------------------------------------------------------------------------------
def size_shape(lab) -> tuple[int | None, str, object]:
    """(number of ints or None for one int, what they mean, an example) from the lab's own SIZES."""
    entries = [s for sizes in lab.SIZES.values() for s in (sizes if isinstance(sizes, list) else [sizes])]
    example = entries[0] if entries else 1003
    arity = len(example) if isinstance(example, tuple) else None
    return arity, _size_meaning(lab), example


def _size_meaning(lab) -> str:
    """What a size means, from its options' size_meaning or the comment on the lab's SIZES line ('(rows, cols)')."""
    given = lab.options.size_meaning
    if given:
        return str(given)
    try:
        source = inspect.getsource(lab.module)
    except (OSError, TypeError):
        return ""
    m = re.search(r"^SIZES\s*=.*?#\s*(.+)$", source, re.M)
    if not m:
        return ""
    text = m.group(1).strip()
    if text.startswith("("):
        return text[:text.find(")") + 1] if ")" in text else ""
    return re.split(r"[;:(,]", text)[0].strip()[:30]


def describe_size(lab) -> str:
    """'ch00.scale_shift sizes are one int (elements), e.g. size=1_000_003'."""
    arity, meaning, example = size_shape(lab)
    what = "one int" if arity is None else f"a tuple of {arity} ints"
    mean = f" {meaning}" if meaning.startswith("(") else (f" ({meaning})" if meaning else "")
    ex = f"{example:_}" if arity is None else repr(example)
    return f"{lab.name} sizes are {what}{mean}, e.g. size={ex}"


def size(lab, value):
    """The lab's size, checked against the shape of its own SIZES entries: positive ints, right arity.
    A list is accepted for a tuple (results files store sizes as lists)."""
    arity, _, _ = size_shape(lab)
    if isinstance(value, list):
        value = tuple(value)
    parts = [value] if arity is None else value
    if arity is None:
        ok_kind = _is_int(value)
    else:
        ok_kind = isinstance(value, tuple) and len(value) == arity and all(_is_int(p) for p in value)
    if not ok_kind:
        raise TypeError(f"{describe_size(lab)}; got {type(value).__name__} {value!r}")
    if any(p <= 0 for p in parts):
        raise ValueError(f"{describe_size(lab)}; got {value!r} (every part must be > 0)")
    return int(value) if arity is None else tuple(int(p) for p in value)


def dtype(lab, value) -> str:
    if value is None:
        return lab.DTYPES[0]
    if not isinstance(value, str):
        raise TypeError(f"dtype is a name such as {lab.DTYPES[0]!r}, got {type(value).__name__} {value!r}")
    if value not in lab.DTYPES:
        raise ValueError(f"lab {lab.name} supports dtypes {lab.DTYPES}, got {value!r}")
    return value


def variants(lab, value) -> list:
    """The variants to run, as functions: names must exist in the lab; a bare string is one name."""
    if value is None:
        return list(lab.variants)
    if isinstance(value, str) or callable(value):
        value = [value]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"variants is a list of names or functions, e.g. variants={lab.variant_names()[:2]}; "
                        f"got {type(value).__name__} {value!r}") from None
    if not items:
        raise ValueError(f"variants is empty; {lab.name} has {lab.variant_names()}")
    out = []
    for v in items:
        if isinstance(v, str):
            out.append(lab.get_variant(v))
        elif callable(v):
            out.append(v)
        else:
            raise TypeError(f"a variant is a name or a function, got {type(v).__name__} {v!r}; "
                            f"{lab.name} has {lab.variant_names()}")
    return out


# ---- calculators ----------------------------------------------------------------------------------
CALCULATORS: list[Callable] = []      # every function decorated with @calculator_inputs


def calculator_inputs(positive: str = "", signed: str = "", fraction: str = "") -> Callable:
    """Check a back-of-envelope calculator's numeric inputs before it computes anything.

    Every numeric argument must be finite and >= 0; those named in ``positive`` must be > 0 (they are
    divided by, or a count of something that must exist); ``fraction`` ones lie in [0, 1]; ``signed``
    ones may be negative (a sentinel such as -1 = "use the preset"). Names are space-separated.

    >>> @calculator_inputs(positive="gbps")
    ... def seconds(nbytes, gbps): return nbytes / gbps / 1e9
    >>> seconds(1e9, 0)
    Traceback (most recent call last):
    ValueError: seconds: gbps must be a finite number > 0, got 0
    """
    pos, sig, frac = set(positive.split()), set(signed.split()), set(fraction.split())

    def wrap(fn: Callable) -> Callable:
        sig_ = inspect.signature(fn)
        unknown = (pos | sig | frac) - set(sig_.parameters)
        if unknown:
            raise TypeError(f"calculator_inputs names {sorted(unknown)} that {fn.__name__} does not take")

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            bound = sig_.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, value in bound.arguments.items():
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    continue                       # menus (strings) and flags are the function's own business
                number(name, value, positive=name in pos, minimum=None if name in sig else 0.0,
                       maximum=1.0 if name in frac else None, where=fn.__name__)
            return fn(*bound.args, **bound.kwargs)
        checked.calculator_inputs = {"positive": pos, "signed": sig, "fraction": frac}
        CALCULATORS.append(checked)
        return checked
    return wrap
