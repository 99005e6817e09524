"""Makespan and launch-overhead models in pure Python: who waits for whom, on any machine.

Two questions of Chapter 12 are arithmetic before they are measurements:

- uneven tasks on P workers: how long until the last one finishes (the *makespan*) when each worker
  owns a fixed range of tasks (static split), and when an idle worker takes the next chunk from a
  shared counter (dynamic queue, one atomic per chunk)?
- a step of many small kernels: how much of it is launch overhead, and what does replaying it as one
  CUDA graph save?

    >>> static_split([4, 1, 1, 1, 1, 1, 1, 1, 1], workers=3).makespan
    6
    >>> dynamic_queue([4, 1, 1, 1, 1, 1, 1, 1, 1], workers=3).makespan
    4
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from perflab.validate import calculator_inputs


@dataclass(frozen=True)
class Schedule:
    """The outcome of assigning tasks to workers: the makespan and how busy each worker was."""
    policy: str
    makespan: float
    loads: tuple            # busy time per worker (task costs plus time spent grabbing work)
    work: float             # the sum of all task costs
    grabs: int = 0          # atomic grabs of the shared counter (0 for a static split)

    @property
    def workers(self) -> int:
        return len(self.loads)

    @property
    def utilization(self) -> float:
        """Useful work ÷ (workers × makespan): 1.0 when nobody ever waits."""
        return self.work / (self.workers * self.makespan) if self.makespan else 1.0

    def __str__(self):
        return (f"{self.policy}: makespan {self.makespan:,.6g} on {self.workers} workers, "
                f"utilization {self.utilization:.0%}" + (f", {self.grabs:,} grabs" if self.grabs else ""))


def static_split(costs, workers: int) -> Schedule:
    """Worker w owns the contiguous tasks [w·per, (w+1)·per), per = ceil(tasks / workers).

    This is a persistent kernel whose program w walks a fixed slice of the work. The makespan is the
    heaviest slice, whatever the others do.

    >>> s = static_split([5, 1, 1, 1, 1, 1, 1, 1], workers=2)
    >>> s.makespan, s.loads
    (8, (8, 4))
    """
    costs = list(costs)
    _check_workers(workers)
    per = -(-len(costs) // workers) if costs else 0
    loads = tuple(sum(costs[w * per:(w + 1) * per]) for w in range(workers))
    return Schedule("static split", max(loads, default=0), loads, sum(costs))


def dynamic_queue(costs, workers: int, chunk: int = 1, atomic_cost: float = 0.0) -> Schedule:
    """Idle workers take the next ``chunk`` tasks, in order, from one shared counter.

    Every grab is one atomic on the counter. The counter serves one atomic at a time and each takes
    ``atomic_cost``, so when grabs are frequent, workers queue at the counter (contention); bigger
    chunks mean fewer grabs but a coarser, less even finish. Ties go to the lower worker index.
    The last, empty grab each worker makes when the counter runs past the end is not charged.

    >>> s = dynamic_queue([5, 1, 1, 1, 1, 1, 1, 1], workers=2)
    >>> s.makespan, s.loads, s.grabs
    (6, (6, 6), 8)
    >>> dynamic_queue([1] * 8, workers=4, atomic_cost=1).makespan   # the counter is the bottleneck
    9
    """
    costs = list(costs)
    _check_workers(workers)
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 task per grab, got {chunk}")
    free = [(0.0, w) for w in range(workers)]        # (time this worker asks for work, worker)
    loads = [0.0] * workers
    counter_free = 0.0                               # when the counter can serve the next atomic
    grabs = 0
    for start in range(0, len(costs), chunk):
        t, w = heapq.heappop(free)
        served = max(t, counter_free) + atomic_cost   # wait for the counter, then the atomic itself
        counter_free = served if atomic_cost else counter_free
        done = served + sum(costs[start:start + chunk])
        loads[w] += done - t
        grabs += 1
        heapq.heappush(free, (done, w))
    makespan = max((t for t, _ in free), default=0.0)
    return Schedule(f"dynamic queue (chunk {chunk})", _int_if_whole(makespan), tuple(map(_int_if_whole, loads)),
                    sum(costs), grabs)


def lockstep(costs, lanes: int) -> list:
    """Costs of groups of ``lanes`` consecutive items run together (a warp, a Triton tile): each group
    takes as long as its slowest item, because its lanes step through the loop together.

    >>> lockstep([1, 5, 2, 2, 3], lanes=2)
    [5, 2, 3]
    """
    costs = list(costs)
    return [max(costs[i:i + lanes]) for i in range(0, len(costs), lanes)]


def heavy_front(n: int, light: int, factor: int = 8, fraction: float = 1 / 8) -> list:
    """The skewed lab's profile without its jitter: the first ``fraction`` of n items cost
    ``factor × light``, the rest ``light``. Work that arrives sorted by size looks like this.

    >>> heavy_front(8, light=2, factor=8, fraction=1 / 4)
    [16, 16, 2, 2, 2, 2, 2, 2]
    """
    heavy = int(n * fraction)
    return [factor * light] * heavy + [light] * (n - heavy)


def predicted_ratio(factor: float, fraction: float) -> float:
    """Static ÷ dynamic makespan when the heavy fraction fills whole static slices.

    The heaviest slice is all heavy (cost ``factor`` per task) while a perfect dynamic queue gives
    every worker the mean, ``fraction·factor + (1 − fraction)``. Holds once workers ≥ 1 / fraction.

    >>> round(predicted_ratio(8, 1 / 8), 3)
    4.267
    """
    return factor / (fraction * factor + (1 - fraction))


@dataclass(frozen=True)
class Comparison:
    """One list of task costs scheduled both ways: the two schedules and how much longer the static one runs."""
    static: Schedule
    dynamic: Schedule

    @property
    def ratio(self) -> float:
        """Static makespan ÷ dynamic makespan: what the shared counter gains (1.0 on balanced work)."""
        return self.static.makespan / self.dynamic.makespan if self.dynamic.makespan else 1.0


def compare(costs, workers: int, chunk: int = 1, atomic_cost: float = 0.0) -> Comparison:
    """The static split and the dynamic queue of one list of task costs, side by side."""
    return Comparison(static_split(costs, workers), dynamic_queue(costs, workers, chunk, atomic_cost))


@calculator_inputs(positive="workers tasks_per_worker heavy_factor chunk", fraction="heavy_fraction")
def explain_split(workers: int = 132, tasks_per_worker: int = 64, heavy_fraction: float = 0.125,
                  heavy_factor: int = 8, order: str = "heavy first", chunk: int = 1) -> str:
    """Text for the makespan calculator: a static split vs a dynamic queue on a heavy-front profile."""
    n = workers * tasks_per_worker
    costs = heavy_front(n, 1, heavy_factor, heavy_fraction)
    if order == "shuffled":
        random.Random(0).shuffle(costs)
    c = compare(costs, workers, chunk)
    lines = [f"{n:,} tasks on {workers} workers; {heavy_fraction:.1%} of them cost {heavy_factor}×, {order}",
             f"  {c.static}", f"  {c.dynamic}",
             f"  static ÷ dynamic = {c.ratio:.2f}×"]
    if order == "heavy first" and workers * heavy_fraction >= 1:
        lines.append(f"  formula: factor ÷ mean cost = {predicted_ratio(heavy_factor, heavy_fraction):.2f}× "
                     "(the heaviest slice is all heavy)")
    if order == "shuffled":
        lines.append("  shuffled, every slice holds about the same mix: a static split is already balanced")
    return "\n".join(lines)


# ---- launch overhead -------------------------------------------------------------------------

@dataclass(frozen=True)
class LaunchModel:
    """One step of many small kernels, launched eagerly or replayed as one CUDA graph (microseconds).

    Eagerly, the host issues kernels one by one while the GPU runs them, so the slower side sets the
    pace. A graph is issued with one call and its kernels start back to back on the GPU.
    """
    kernels: int = 160          # kernels per step
    cpu_us: float = 6.0         # host time to issue one kernel eagerly: Python, dispatcher, launch call
    kernel_us: float = 1.5      # GPU time of one small kernel, back to back inside a graph
    replay_us: float = 15.0     # host time of one graph replay (the launch plus copying the inputs in)

    @property
    def eager_us(self) -> float:
        return max(self.kernels * self.cpu_us, self.kernels * self.kernel_us)

    @property
    def graph_us(self) -> float:
        return max(self.replay_us, self.kernels * self.kernel_us)

    @property
    def speedup(self) -> float:
        return self.eager_us / self.graph_us

    @property
    def cut(self) -> float:
        """The fraction of the eager step a graph removes."""
        return 1 - self.graph_us / self.eager_us

    def explain(self) -> str:
        bound = "the CPU (launch-bound)" if self.cpu_us > self.kernel_us else "the GPU (kernels longer than a launch)"
        return "\n".join([
            f"{self.kernels} kernels/step · host {self.cpu_us:g} us/launch · GPU {self.kernel_us:g} us/kernel "
            f"· graph replay {self.replay_us:g} us",
            f"  eager step {self.eager_us:,.0f} us, paced by {bound}",
            f"  graph step {self.graph_us:,.0f} us: {self.speedup:.2f}× faster, a {self.cut:.0%} cut",
            "  a graph removes only host time: when launch-bound it cuts 1 − kernel/launch, so the book's "
            "20–30 % (L4975) means kernels that run 0.7–0.8× as long as their launch"])


@calculator_inputs(positive="kernels cpu_us kernel_us replay_us")
def explain_launch(kernels: int = 160, cpu_us: float = 6.0, kernel_us: float = 1.5, replay_us: float = 15.0) -> str:
    """Text for the launch-overhead calculator."""
    return LaunchModel(kernels, cpu_us, kernel_us, replay_us).explain()


# ---- the book's microbenchmark (L4814): which balance can give 2×? ---------------------------

@dataclass(frozen=True)
class Level:
    """One level of balance in the book's microbenchmark: both makespans (units of work) and what it assumes."""
    balance: str            # "across SMs (blocks are equal)", "across warps (the book's kernel)", ...
    static: float           # makespan of the static split
    dynamic: float          # makespan with a queue balancing at this level
    assumes: str

    @property
    def ratio(self) -> float:
        """Static ÷ dynamic makespan: the most a queue balancing at this level can gain."""
        return self.static / self.dynamic


def book_levels(n: int = 1 << 20, period: int = 256, block: int = 256, warp: int = 32, sms: int = 132,
                threads_per_sm: int = 2048) -> list[Level]:
    """Static vs the book's warp queue for work = idx % period, modelled at three levels (a Level each).

    - SMs: an SM shares its throughput among its warps, so only each SM's total matters.
    - warps: each warp runs at its own pace and costs its slowest lane (SIMT); a static block holds
      its warp slots until its slowest warp ends, while the book's kernel keeps every warp busy by
      handing it the next 32 items. Same lanes per warp (idx = base + lane) in both.
    - lanes: the bound if every thread took its own next item (total work ÷ lane slots).
    """
    work = [i % period for i in range(n)]
    warps = lockstep(work, warp)                               # cost of each 32-item batch
    blocks_warps = [warps[i:i + block // warp] for i in range(0, len(warps), block // warp)]
    block_sum = [sum(work[i:i + block]) for i in range(0, n, block)]
    # SM level: blocks go to SMs; an SM finishes its blocks' total work at full throughput
    sm_static = dynamic_queue(block_sum, sms).makespan          # the hardware hands out blocks in order
    sm_dynamic = sum(block_sum) / sms
    # warp level: block slots (static) vs warp slots (dynamic), each worker at its own pace
    slots = threads_per_sm // block
    warp_static = dynamic_queue([max(b) for b in blocks_warps], sms * slots).makespan
    warp_dynamic = dynamic_queue(warps, sms * threads_per_sm // warp).makespan
    lane_bound = sum(work) / (sms * threads_per_sm)
    limit = warp_limit(period, block, warp)
    return [
        Level("across SMs (blocks are equal)", sm_static, sm_dynamic,
              "an SM's warps share its issue slots: only each SM's total counts"),
        Level("across warps (the book's kernel)", warp_static, warp_dynamic,
              f"each warp at its own pace; a static block holds its warp slots until its slowest warp ends; "
              f"with endless work the ratio tends to max ÷ mean warp cost = {limit:.2f}×"),
        Level("across lanes too (a thread per grab)", warp_static, lane_bound,
              "bound: total work ÷ lane slots; the book's kernel keeps idx = base + lane, so it cannot reach it"),
    ]


def warp_limit(period: int = 256, block: int = 256, warp: int = 32) -> float:
    """Static ÷ dynamic for work = idx % period with endless work: a static block holds its warp slots
    for its slowest warp, a queue keeps each slot busy, so the ratio is Σ(max × warps) ÷ Σ warp costs.

    >>> round(warp_limit(), 3)     # 255 × 8 ÷ (31 + 63 + ... + 255)
    1.783
    """
    work = [i % period for i in range(period * block)]
    warps = lockstep(work, warp)
    per = block // warp
    blocks = [warps[i:i + per] for i in range(0, len(warps), per)]
    return sum(max(b) * len(b) for b in blocks) / sum(sum(b) for b in blocks)


def _check_workers(workers: int) -> None:
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")


def _int_if_whole(v: float):
    return int(v) if float(v).is_integer() else v
