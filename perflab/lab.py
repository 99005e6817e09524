"""Lab declarations: the module shape every lab follows, and how perflab finds and loads labs.

A lab is one Python module under ``labs/chNN_<slug>/`` with these names:

    TITLE                      one line
    SIZES = {"cpu": [...], "gpu": [...]}   first entry is the default; never multiples of block sizes
    DTYPES = ["float32", ...]  first entry is the default
    make_inputs(size, device, dtype, seed) -> dict of tensors (fresh random data, never zeros)
    reference(**inputs) -> tensor           the plain (often float64) answer
    bytes(size, dtype) -> int               the fewest bytes the operation must move
    flops(size, dtype) -> int               the arithmetic it must do (0 for pure data movement)
    variants = [baseline, ...]              plain functions ``fn(**inputs) -> tensor``
    TARGET = 0.8               optional: the fraction of the ceiling an exercise must reach on a GPU
    BANDWIDTH = "h2d_pinned"   optional: the measured link that bounds it, if not the device copy
                               ("h2d_pinned", "d2h_pinned", ...: a Ceilings field without "_gbps")

Variants may carry metadata through :func:`variant`.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

BACKENDS = ("torch", "triton", "cupy", "numpy")
REQUIRED_NAMES = ("TITLE", "SIZES", "DTYPES", "make_inputs", "reference", "bytes", "flops", "variants")


def variant(*, backend: str = "torch", needs: tuple[str, ...] | str = (), precision: str | None = None,
            tol: float | None = None, note: str = "") -> Callable[[Callable], Callable]:
    """Mark a lab variant with what it runs on and how exactly it must match the reference.

    backend:   "torch", "triton", "cupy" or "numpy". Triton variants are interpreted (and so checked
               but not timed) on the cpu tier; CuPy variants need a CUDA GPU.
    needs:     extra requirements such as "cuda", "sm_80", "sm_90" or "ncu".
    precision: the arithmetic actually used when it differs from the lab dtype ("tf32" for a float32
               matmul on tensor cores); it picks the tolerance and the matmul ceiling.
    tol:       override the normwise relative tolerance.

    >>> @variant(backend="torch", precision="tf32")
    ... def fast(x): return x
    >>> fast.perflab.precision
    'tf32'
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {BACKENDS}")
    needs = (needs,) if isinstance(needs, str) else tuple(needs)

    def mark(fn: Callable) -> Callable:
        fn.perflab = VariantInfo(backend=backend, needs=needs, precision=precision, tol=tol, note=note)
        return fn
    return mark


@dataclass(frozen=True)
class VariantInfo:
    backend: str = "torch"
    needs: tuple[str, ...] = ()
    precision: str | None = None
    tol: float | None = None
    note: str = ""


def info(fn: Callable) -> VariantInfo:
    """The metadata of a variant; plain functions count as torch variants."""
    return getattr(fn, "perflab", VariantInfo())


@dataclass
class Lab:
    """A loaded lab module plus its name (``ch07.copy_ladder``)."""
    name: str
    module: ModuleType
    chapter: str = field(init=False)

    def __post_init__(self):
        self.chapter = self.name.split(".")[0]

    def __getattr__(self, item):          # lab.SIZES, lab.make_inputs, ...
        return getattr(self.module, item)

    @property
    def target(self) -> float | None:
        return getattr(self.module, "TARGET", None)

    def variant_names(self) -> list[str]:
        return [v.__name__ for v in self.module.variants]

    def get_variant(self, name: str) -> Callable:
        for v in self.module.variants:
            if v.__name__ == name:
                return v
        raise ValueError(f"lab {self.name} has no variant {name!r}; it has {self.variant_names()}")

    def __repr__(self):
        return f"Lab({self.name!r}: {self.module.TITLE})"


def _chapter_packages() -> dict[str, str]:
    """Map short chapter keys ('ch07') to lab packages ('labs.ch07_memory_access')."""
    import labs
    out = {}
    for mod in pkgutil.iter_modules(labs.__path__):
        if mod.ispkg and mod.name.startswith("ch"):
            out[mod.name.split("_")[0]] = f"labs.{mod.name}"
    return out


def list_labs() -> list[str]:
    """Every lab in the workbook, as ``chNN.lab`` names, in chapter order."""
    names = []
    for key, pkg in sorted(_chapter_packages().items()):
        package = importlib.import_module(pkg)
        for mod in pkgutil.iter_modules(package.__path__):
            if not mod.name.startswith("_") and mod.name not in getattr(package, "NOT_LABS", ()):
                names.append(f"{key}.{mod.name}")
    return names


def load(name: "str | Lab | ModuleType") -> Lab:
    """Load a lab by name (``"ch07.copy_ladder"``), or wrap a module that follows the lab shape."""
    if isinstance(name, Lab):
        return name
    if isinstance(name, ModuleType):
        module, label = name, _label_of(name)
    else:
        if not isinstance(name, str) or "." not in name:
            raise ValueError(f"a lab name looks like 'ch07.copy_ladder', got {name!r}. See perflab.list_labs().")
        key, lab_name = name.split(".", 1)
        packages = _chapter_packages()
        if key not in packages:
            raise ValueError(f"no chapter {key!r}; chapters with labs: {sorted(packages)}")
        try:
            module = importlib.import_module(f"{packages[key]}.{lab_name}")
        except ModuleNotFoundError as e:
            if e.name and e.name.endswith(lab_name):
                raise ValueError(f"no lab {name!r}; labs: {list_labs()}") from None
            raise
        label = name
    missing = [n for n in REQUIRED_NAMES if not hasattr(module, n)]
    if missing:
        raise TypeError(f"{module.__name__} is not a lab: it lacks {missing} (see perflab.lab's docstring)")
    if not module.variants:
        raise TypeError(f"{module.__name__}.variants is empty: list the baseline first")
    return Lab(label, module)


def _label_of(module: ModuleType) -> str:
    parts = module.__name__.split(".")
    if len(parts) >= 3 and parts[0] == "labs":
        return f"{parts[1].split('_')[0]}.{parts[-1]}"
    return parts[-1] if len(parts) == 1 else f"{parts[-2]}.{parts[-1]}"
