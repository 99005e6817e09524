"""Chapter 17 labs: disaggregated prefill and decode.

`kv_relayout` is a lab in the usual shape: the receiving side's KV layout conversion. The rest are the
chapter's models and tools:
- `sim` (a discrete-event simulator of a serving cluster) and `workloads` (its requests);
- `calibrate` (prefill and decode times measured with the course engine, fitted into the simulator's costs);
- `goodput` (SLO goodput, the book's xPyD arithmetic, sweeps); `policies` (routers, the offload decision,
  admission control); `scenarios` (the notebook's simulated experiments, as tables);
- `handoff` (launches `kv_handoff.py` under torchrun: a real KV transfer between two processes);
- `book_check` and `solutions`.
"""
LABS = ["kv_relayout"]    # every other module here is a helper
MEASUREMENTS = ("calibration",)    # record groups written to results files that are not lab modules
