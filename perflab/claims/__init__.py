"""Lessons as checked claims: what a chapter says its measurements show, declared as data and evaluated.

A chapter declares ``CLAIMS = [...]`` in ``labs/chNN_*/_claims.py`` (or in a lab module of that chapter)
beside its book ``RATIOS``. Each claim evaluates to ✅ (holds), ❌ (contradicted, with the likely reason
for that class of device) or — (not measured there, or not claimed for that tier), with the numbers:

    Faster("ch09.l2norm", "triton_fused", than="eager_chain", by=2.0, tier="gpu")
    AtLeast("ch07.copy_ladder", "vectorized", "ceiling_fraction", 0.85, tier="gpu")
    AtMost("ch14.graph_breaks", "compiled_broken", "ceiling_fraction", 0.5)
    About("ch09.precision_ladder", "bf16", than="fp32", ratio=10, within=0.6, tier="sm_90")
    Scales("ch18.kv_size", "fp16", "linear", axis=0)          # median time vs size across runs
    Holds("ch17.sim", "disaggregation cuts p99 TTFT", lambda v: v.colocated / v.disagg, at_least=1.5,
          model=lambda: sim.run())                            # a value from an experiment or a model

A Holds claim reads its value with a function; ``cell(row, column)`` reads one number of a table and
``ratio(top, bottom)`` divides two readings. ``show("ch09")`` renders the chapter's claims on this process's
runs and on every committed reference device (data/reference/*.json); ``problems(path)`` lists the claims
a results file contradicts.
"""
from perflab.claims.kinds import About, AtLeast, AtMost, Claim, Faster, Holds, Scales
from perflab.claims.checking import all_claims, chapter_claims, evaluate, problems, reference_files, show
from perflab.claims.readers import cell, ratio

__all__ = ["Claim", "Faster", "About", "AtLeast", "AtMost", "Scales", "Holds", "chapter_claims", "all_claims",
           "reference_files", "evaluate", "problems", "show", "cell", "ratio"]
