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
    OPTIONS = LabOptions(...)  optional: every other knob, declared once (see :class:`LabOptions`)

Variants may carry metadata through :func:`variant`. A chapter package ``labs/chNN_<slug>/`` names its
labs in ``LABS = [...]`` (every other module there is a helper) and may declare ``MEASUREMENTS``; its
``book_check.RATIOS`` and ``CLAIMS`` are read through :func:`chapter`, the one place that reads them.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field, fields
from types import ModuleType
from typing import Callable

BACKENDS = ("torch", "triton", "cupy", "numpy")
REQUIRED_NAMES = ("TITLE", "SIZES", "DTYPES", "make_inputs", "reference", "bytes", "flops", "variants")
TIMINGS = ("auto", "events", "cudagraph", "cpu")          # perflab.timer.MODES


@dataclass(frozen=True, init=False)
class LabOptions:
    """Every optional knob of a lab, declared once in the lab module: ``OPTIONS = pl.LabOptions(target=0.8)``.

    Keyword-only; a misspelt name is a TypeError that lists the valid ones, and each value is checked.

    >>> LabOptions(target=0.8, bandwidth="h2d_pinned").bandwidth
    'h2d_pinned'
    """
    target: float | None = None         # the fraction of the ceiling an exercise must reach on a GPU
    bandwidth: str = "copy"             # the measured link that bounds the lab: a Ceilings field without
                                        # "_gbps" ("copy", "h2d_pinned", "d2h_pinned", ...)
    timing: str = "auto"                # how bench times it: "auto", "events", "cudagraph" (no L2 flush) or
                                        # "cpu" (host work, the CPU timer on every tier)
    gate_note: str | None = None        # why the best variant stays under the 85% memory gate (perflab report)
    generated_variants: str | None = None   # a regex of variant names a sweep records beyond ``variants``
    expects_inf: bool = False           # the reference legitimately holds inf/NaN, compared position by position
    size_meaning: str | None = None     # what a size means ("(rows, cols)"), if the SIZES comment does not say
    sweep: list | dict | None = None    # sizes for pl.sweep: a list, or {"cpu": [...], "gpu": [...]}

    def __repr__(self):
        given = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if getattr(self, f.name) != f.default]
        return f"LabOptions({', '.join(given)})"

    def __init__(self, **options):
        valid = [f.name for f in fields(LabOptions)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise TypeError(f"LabOptions has no option {', '.join(map(repr, unknown))}; valid options: {valid}")
        for name in valid:
            object.__setattr__(self, name, options.get(name, LabOptions.__dataclass_fields__[name].default))
        self._check()

    def _check(self):
        def bad(name, want):
            raise TypeError(f"LabOptions({name}={getattr(self, name)!r}): {name} must be {want}")
        if self.target is not None and not (isinstance(self.target, (int, float)) and 0 < self.target <= 1):
            bad("target", "a fraction of the ceiling in (0, 1], or None")
        from perflab.peaks import Ceilings
        links = [n[:-len("_gbps")] for n in Ceilings.__dataclass_fields__ if n.endswith("_gbps") and "samples" not in n]
        if self.bandwidth not in links:
            bad("bandwidth", f"a measured link, one of {links}")
        if self.timing not in TIMINGS:
            bad("timing", f"one of {TIMINGS}")
        for name in ("gate_note", "size_meaning", "generated_variants"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                bad(name, "a string or None")
        if self.generated_variants is not None:
            try:
                re.compile(self.generated_variants)
            except re.error as e:
                bad("generated_variants", f"a valid regular expression ({e})")
        if not isinstance(self.expects_inf, bool):
            bad("expects_inf", "True or False")
        if self.sweep is not None and not isinstance(self.sweep, (list, dict)):
            bad("sweep", 'a list of sizes or {"cpu": [...], "gpu": [...]}')


# module globals that were options before LabOptions; a lab still defining one fails to load
LEGACY_NAMES = {"TARGET": "target", "BANDWIDTH": "bandwidth", "TIMING": "timing", "GATE_NOTE": "gate_note",
                "GENERATED_VARIANTS": "generated_variants", "EXPECTS_INF": "expects_inf",
                "SIZE_MEANING": "size_meaning", "SWEEP": "sweep"}


def variant(*, backend: str = "torch", needs: tuple[str, ...] | str = (), precision: str | None = None,
            tol: float | None = None, note: str = "") -> Callable[[Callable], Callable]:
    """Mark a lab variant with what it runs on and how exactly it must match the reference.

    backend:   "torch", "triton", "cupy" or "numpy". Triton variants are interpreted (and so checked
               but not timed) on the cpu tier; CuPy variants need a CUDA GPU.
    needs:     extra requirements such as "cuda", "sm_80", "sm_90" or "ncu".
    precision: the arithmetic actually used when it differs from the lab dtype ("tf32" for a float32
               matmul on tensor cores); it picks the tolerance, and the matmul ceiling where it really
               changes the dtype's arithmetic (tf32 on float16 inputs is scored as float16: runner.arithmetic).
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


def options_of(module: ModuleType) -> LabOptions:
    """The module's checked OPTIONS (defaults where it declares none)."""
    legacy = [n for n in LEGACY_NAMES if n in vars(module)]
    if legacy:
        given = ", ".join(f"{LEGACY_NAMES[n]}=..." for n in legacy)
        raise TypeError(f"{module.__name__} defines {legacy}: declare them as OPTIONS = pl.LabOptions({given})")
    options = vars(module).get("OPTIONS", LabOptions())
    if not isinstance(options, LabOptions):
        raise TypeError(f"{module.__name__}.OPTIONS must be a perflab.LabOptions, got {type(options).__name__}")
    return options


@dataclass
class Lab:
    """A loaded lab module plus its name (``ch07.copy_ladder``) and its checked options."""
    name: str
    module: ModuleType
    chapter: str = field(init=False)
    options: LabOptions = field(init=False)

    def __post_init__(self):
        self.chapter = self.name.split(".")[0]
        self.options = options_of(self.module)

    def __getattr__(self, item):          # lab.SIZES, lab.make_inputs, ...
        return getattr(self.module, item)

    @property
    def target(self) -> float | None:
        return self.options.target

    def variant_names(self) -> list[str]:
        return [v.__name__ for v in self.module.variants]

    def records_variant(self, name: str) -> bool:
        """Whether a record of variant ``name`` belongs to this lab: a listed variant, or one its sweeps
        generate (``generated_variants``); a learner's own function does not."""
        generated = self.options.generated_variants
        return name in self.variant_names() or bool(generated and re.fullmatch(generated, name))

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


@dataclass(frozen=True)
class Chapter:
    """A chapter package's declarations, read here and nowhere else: its labs (``LABS`` in its
    ``__init__.py``), record groups that are measurements but not labs (``MEASUREMENTS``), the book's
    ratios (``book_check.RATIOS``), its checked claims (``CLAIMS`` in ``_claims.py`` and any module) and its
    graded exercises (``solutions.EXERCISES``)."""
    key: str                          # "ch07"
    package: str                      # "labs.ch07_memory_access"
    labs: tuple[str, ...]
    measurements: tuple[str, ...]

    def ratios(self) -> list:
        return list(vars(self._optional("book_check")).get("RATIOS", []))

    def exercises(self) -> list:
        """The graded exercises (``EXERCISES`` in the chapter's ``solutions.py``)."""
        return list(vars(self._optional("solutions")).get("EXERCISES", []))

    def _optional(self, name: str):
        """A module of the package that a chapter may leave out (an empty namespace then)."""
        try:
            return importlib.import_module(f"{self.package}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{self.package}.{name}":
                raise
            return ModuleType("absent")

    def claims(self) -> list:
        """CLAIMS of ``_claims.py``, then of each module of the package, without repeats."""
        out: list = []
        modules = pkgutil.iter_modules(importlib.import_module(self.package).__path__)
        for mod in ["_claims"] + [m.name for m in modules if m.name != "_claims"]:
            out += [c for c in vars(self._optional(mod)).get("CLAIMS", []) if c not in out]
        return out


def chapter(key: str) -> Chapter:
    """The declarations of chapter ``key`` ("ch07"); its LABS must name modules that exist."""
    packages = _chapter_packages()
    if key not in packages:
        raise ValueError(f"no chapter {key!r}; chapters with labs: {sorted(packages)}")
    package = importlib.import_module(packages[key])
    declared = vars(package)
    if "LABS" not in declared:
        raise TypeError(f"{packages[key]}/__init__.py must list its labs: LABS = [...] (may be empty)")
    labs, modules = tuple(declared["LABS"]), {m.name for m in pkgutil.iter_modules(package.__path__)}
    missing = [n for n in labs if n not in modules]
    if missing:
        raise ValueError(f"{packages[key]}.LABS names {missing}, which are not modules there; modules: {sorted(modules)}")
    return Chapter(key, packages[key], labs, tuple(declared.get("MEASUREMENTS", ())))


def list_labs() -> list[str]:
    """Every lab in the workbook, as ``chNN.lab`` names, in chapter order (each chapter's LABS)."""
    return [f"{key}.{name}" for key in sorted(_chapter_packages()) for name in chapter(key).labs]


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
        chap = chapter(key)
        if lab_name not in chap.labs:
            raise ValueError(f"no lab {name!r}; {key}'s labs (its LABS): {list(chap.labs)}")
        module, label = importlib.import_module(f"{chap.package}.{lab_name}"), name
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
