"""perflab: measure GPU performance ideas on your own device, beside an H200 reference.

    import perflab as pl
    pl.env()                       # tier, device, versions, tools
    pl.ceilings()                  # measured copy bandwidth, host links, matmul per precision (cached)
    r = pl.run("ch07.copy_ladder") # correctness gate, timing, table; r.show() adds chart + roofline
    pl.grade("ch07.saxpy2d", my_fn)
    pl.panel("ch07.copy_ladder")   # live before/after widget

Importing perflab is fast and needs no GPU: heavy modules load on first use. On a machine without a
GPU it sets TRITON_INTERPRET=1 before anything imports triton.
"""
from perflab import _tier  # noqa: F401  (must run first: sets TRITON_INTERPRET on the cpu tier)
from perflab.lab import Lab, LabOptions, chapter, list_labs, load, variant

__all__ = [
    "env", "Env", "device",                       # the machine
    "bench", "Measurement",                       # timing
    "ceilings", "Ceilings", "Roofline",           # speed of light
    "reference_ceilings", "reference_roofline",
    "Lab", "LabOptions", "chapter", "load", "list_labs", "variant",   # lab declarations
    "run", "LabRun", "grade", "Grade",            # running and grading labs
    "sweep", "Plan", "Results", "predict",        # size sweeps as data; a learner's committed guess
    "panel", "calculator", "show",                # notebook views
    "ncu", "ncu_compare", "torch_profile",        # profilers
    "read_results", "write_results", "reference", "Record",   # results files
    "calc", "audit",                              # calculators; the read-only checklist audit
    "claims",                                     # lessons as checked claims
]

_LAZY = {
    "env": "perflab.machine", "Env": "perflab.machine", "device": "perflab.machine",
    "bench": "perflab.timer", "Measurement": "perflab.measure",
    "ceilings": "perflab.peaks", "Ceilings": "perflab.peaks", "Roofline": "perflab.roofline",
    "reference_ceilings": "perflab.peaks", "reference_roofline": "perflab.views",
    "run": "perflab.runner", "LabRun": "perflab.runner", "grade": "perflab.grading", "Grade": "perflab.grading",
    "sweep": "perflab.sweeps", "Plan": "perflab.sweeps", "Results": "perflab.sweeps",
    "predict": "perflab.predictions",
    "panel": "perflab.widgets", "calculator": "perflab.widgets", "show": "perflab.display",
    "ncu": "perflab.nsight", "ncu_compare": "perflab.nsight", "torch_profile": "perflab.nsight",
    "read_results": ("perflab.results", "read"), "write_results": ("perflab.results", "write"),
    "reference": "perflab.results", "Record": "perflab.results",
    "calc": ("perflab.calc", None), "audit": ("perflab.audit", "audit"),
    "claims": ("perflab.claims", None),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'perflab' has no attribute {name!r}")
    import importlib
    target = _LAZY[name]
    module_name, attr = target if isinstance(target, tuple) else (target, name)
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
