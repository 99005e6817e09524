"""The queue labs around their runs: the simulator's prediction for the lab's own costs, and the ratio lines."""
from __future__ import annotations

import perflab as pl
from perflab.table import Table

from labs.ch12_graphs_scheduling import simulators as sim


def tile_costs(size, seed: int = 0) -> list:
    """The skewed lab's inputs at ``size``, as the cost of each 1,024-item tile (its costliest item)."""
    import torch
    from labs.ch12_graphs_scheduling import skewed_queue as sq
    from labs.ch12_graphs_scheduling._triton import BLOCK
    cost = sq.make_inputs(size, "cpu", "float32", seed)["cost"]
    pad = (-cost.numel()) % BLOCK
    tiles = torch.nn.functional.pad(cost, (0, pad)).view(-1, BLOCK).amax(dim=1)
    return tiles.tolist()


def predict(size=None, sms: int | None = None) -> Table:
    """Static split vs dynamic queue for the lab's own tile costs, on this GPU's programs and the reference
    device's (its SM count from the committed reference manifest).

    Each program is a worker that runs one tile at a time at a fixed speed: the kernels run one
    16-warp program per SM, so a program never shares its SM and its speed does not change when
    others finish.
    """
    from labs.ch12_graphs_scheduling import skewed_queue as sq
    from labs.ch12_graphs_scheduling._triton import PROGRAMS_PER_SM
    e = pl.env()
    size = sq.SIZES["gpu"][0] if size is None else size
    tiles = tile_costs(size)
    rows = []
    from perflab import results
    man = results.reference_manifest()
    if not man.get("sms"):
        raise ValueError("predict needs the committed reference manifest (data/reference/<device>.json) for its SMs")
    machines = [(f"{man['device']} (SMs from the reference manifest)", man["sms"])]
    if e.tier == "gpu" and (sms or e.sms) != man["sms"]:
        machines.insert(0, (e.device, sms or e.sms))
    for name, count in machines:
        programs = PROGRAMS_PER_SM * count
        c = sim.compare(tiles, programs, chunk=sq.CHUNK)
        rows.append([f"{name}: {programs} programs", f"{c.static.makespan:,}", f"{c.static.utilization:.0%}",
                     f"{c.dynamic.makespan:,}", f"{c.dynamic.utilization:.0%}", f"{c.ratio:.2f}×"])
    formula = sim.predicted_ratio(sq.HEAVY_FACTOR, sq.HEAVY_FRACTION)
    return Table(["workers", "static makespan", "static busy", "dynamic makespan", "dynamic busy", "static ÷ dynamic"],
                 rows, title=f"Simulator on the lab's {len(tiles):,} tiles (size {size}), in cost units",
                 notes=[f"formula: heavy factor ÷ mean cost = {formula:.2f}× (the slices holding heavy items are "
                        "all heavy); jitter and the tile maximum move it a little"])


def ratio_line(run, baseline: str = "static_split", best: str = "dynamic_queue") -> str:
    """One line: the dynamic queue's speedup over the static split, here and on the H200."""
    from perflab import book
    mine = {r.name: r.measurement.median for r in run.rows if r.measurement}
    h200 = book.ratio(book.reference_at_gpu_size(run.lab.name), run.lab.name, baseline, best)
    if baseline in mine and best in mine:
        here = f"{mine[baseline] / mine[best]:.2f}× on {run.device}"
    else:
        why = next((r.why for r in run.rows if r.name == best and r.why), "not timed")
        here = f"not timed on {run.device} ({why})"
    h200 = f"{h200:.2f}× on the H200" if h200 else "H200: not recorded"
    return f"{best} vs {baseline}: {here}; {h200}"
