"""A discrete-event simulator of an LLM serving cluster: prefill and decode workers, queues, KV transfers.

Pure Python (heapq), deterministic for a given workload. One worker is one GPU. Three roles:

    colocated   does both phases: prefill-priority continuous batching (a waiting prompt runs before the
                next decode step, so every prefill stalls every running sequence: the interference)
    prefill     pulls prompts from one shared prefill queue, then ships the KV over its link
    decode      continuous batching of the sequences it holds; with an offload policy it may also run
                a prompt locally (conditional disaggregation)

    result = simulate(Cluster(n_prefill=2, n_decode=1), cost, workload.requests(rate=8.0))
    result.p(result.ttfts(), 0.9), result.attainment(slo), result.little()

Definitions (DistServe's): TTFT = first token - arrival, the first token comes out of the prefill;
TPOT = (finish - first token) / (output - 1), so a KV transfer and decode queueing count in TPOT.
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from typing import Callable, Optional

from labs.ch17_disaggregation.workloads import Request


@dataclass(frozen=True)
class CostModel:
    """Seconds per operation on one worker; ``calibrate.fit`` builds one from measured engine times.

    prefill_s(tokens, squares) = prefill_fixed_s + prefill_per_token_s·tokens + prefill_per_token2_s·squares
        (tokens: prompt tokens in the batch; squares: the sum of squared prompt lengths, attention's term)
    decode_s(batch, context)   = decode_fixed_s + decode_per_seq_s·batch + decode_per_ctx_s·context
    transfer_s(tokens)         = link_latency_s + tokens·kv_bytes_per_token / link bandwidth
    """
    prefill_fixed_s: float
    prefill_per_token_s: float
    decode_fixed_s: float
    decode_per_seq_s: float
    prefill_per_token2_s: float = 0.0
    decode_per_ctx_s: float = 0.0
    kv_bytes_per_token: int = 2048
    link_gbps: float = 50.0           # one direction, per link
    link_latency_s: float = 10e-6
    source: str = "hand-written"      # where the numbers came from (device, or a book line)

    def prefill_s(self, tokens: int, squares: Optional[int] = None) -> float:
        sq = tokens * tokens if squares is None else squares
        return self.prefill_fixed_s + self.prefill_per_token_s * tokens + self.prefill_per_token2_s * sq

    def decode_s(self, batch: int, context: int = 0) -> float:
        return self.decode_fixed_s + self.decode_per_seq_s * batch + self.decode_per_ctx_s * context

    def transfer_s(self, tokens: int) -> float:
        return self.link_latency_s + tokens * self.kv_bytes_per_token / (self.link_gbps * 1e9)

    def with_link(self, gbps: float) -> "CostModel":
        """The same model over another KV link (GB/s, one direction)."""
        return replace(self, link_gbps=gbps)

    def free_prefill(self) -> "CostModel":
        """The same model with prefill made free: isolates what a decode pool alone can carry."""
        return replace(self, prefill_fixed_s=0.0, prefill_per_token_s=0.0, prefill_per_token2_s=0.0)


@dataclass(frozen=True)
class Cluster:
    n_prefill: int = 0                # dedicated prefill workers; 0 = colocated workers
    n_decode: int = 1                 # decode workers (colocated workers when n_prefill == 0)
    max_batch: int = 64               # sequences in one decode step
    max_prefill_tokens: int = 4096    # prompt tokens in one prefill batch
    prefix_cache: int = 0             # shared prefixes each worker keeps (LRU); 0 = no prefix caching
    kv_capacity_tokens: int = 65536   # KV tokens a decode worker holds (routers read the occupancy)

    def __post_init__(self):
        if self.n_decode < 1 or self.n_prefill < 0:
            raise ValueError(f"need n_decode >= 1 and n_prefill >= 0, got {self.n_prefill}P{self.n_decode}D")

    @property
    def gpus(self) -> int:
        return self.n_prefill + self.n_decode

    @property
    def name(self) -> str:
        return f"colocated ×{self.n_decode}" if self.n_prefill == 0 else f"{self.n_prefill}P{self.n_decode}D"


class Worker:
    """One GPU's state, as the routers and policies see it."""

    def __init__(self, idx: int, role: str, cluster: Cluster, shared: deque):
        self.idx, self.role, self.cluster = idx, role, cluster
        self.shared = shared                 # the prefill pool's queue (empty when colocated)
        self.queue: deque = deque()          # prompts waiting for a local prefill (colocated, decode)
        self.running: list = []              # sequences in the decode batch
        self.waiting: deque = deque()        # ready to decode, batch full
        self.incoming = 0                    # KV transfers on their way here
        self.cache: OrderedDict = OrderedDict()
        self.recent: deque = deque(maxlen=8)
        self.busy = False
        self.op, self.batch = "", []
        self.kv_tokens = 0                   # KV tokens held (decoding and waiting sequences)
        self.context = 0                     # KV tokens of the sequences in the decode batch
        self.link_free = 0.0
        self.busy_s = self.prefill_busy_s = 0.0
        self.steps = self.prefills = 0
        self.ema_prefill_s = 0.0             # per request, exponential moving averages (QoS estimates)
        self.ema_decode_s = 0.0              # per sequence per step

    @property
    def active(self) -> int:
        """Requests this worker owns: queued for prefill, decoding, waiting, or arriving by transfer."""
        return len(self.queue) + len(self.running) + len(self.waiting) + self.incoming

    @property
    def occupancy(self) -> float:
        """KV tokens held over the KV capacity (0..1+)."""
        return self.kv_tokens / self.cluster.kv_capacity_tokens

    @property
    def prefill_queue(self) -> int:
        """Prompts ahead of a new one: this worker's local queue plus the prefill pool's queue."""
        return len(self.queue) + len(self.shared)

    def has_prefix(self, prefix: int) -> bool:
        return prefix >= 0 and prefix in self.cache

    def touch(self, prefix: int) -> None:
        if prefix < 0 or self.cluster.prefix_cache <= 0:
            return
        self.cache[prefix] = True
        self.cache.move_to_end(prefix)
        while len(self.cache) > self.cluster.prefix_cache:
            self.cache.popitem(last=False)
        self.recent.append(prefix)


Router = Callable[[Request, list], int]
Offload = Callable[..., bool]
Admission = Callable[[Request, Worker], bool]


@dataclass
class SimResult:
    requests: list
    cluster: Cluster
    workers: list
    t_end: float
    area: float                 # ∫ (requests in the system) dt, integrated by the event loop
    queue_area: float           # ∫ (prompts waiting for a prefill) dt
    events: int = 0
    rate: float = math.nan

    @property
    def served(self) -> list:
        return [r for r in self.requests if not r.rejected]

    @property
    def rejected(self) -> list:
        return [r for r in self.requests if r.rejected]

    def ttfts(self, high: Optional[bool] = None) -> list:
        return [r.ttft for r in self.served if high is None or r.high == high]

    def tpots(self, high: Optional[bool] = None) -> list:
        return [r.tpot for r in self.served if r.output > 1 and (high is None or r.high == high)]

    @staticmethod
    def p(values: list, q: float) -> float:
        """Nearest-rank percentile (q in 0..1); nan for no values."""
        if not values:
            return math.nan
        s = sorted(values)
        return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]

    def attainment(self, ttft_s: float, tpot_s: float) -> float:
        """Fraction of all requests (rejected ones count as misses) that meet both SLOs."""
        ok = sum(1 for r in self.served if r.ttft <= ttft_s and (r.output == 1 or r.tpot <= tpot_s))
        return ok / len(self.requests)

    def little(self) -> tuple:
        """(L, λ, W): time-average requests in the system from the event loop's own integral; arrival
        rate and mean time in the system from the request records. Little's law says L = λ·W."""
        served = self.served
        lam = len(served) / self.t_end
        w = sum(r.finish - r.arrival for r in served) / len(served)
        return self.area / self.t_end, lam, w

    def little_queue(self) -> tuple:
        """(Lq, λ, Wq) for the prefill queue alone: waiting prompts vs waiting time before prefill."""
        served = self.served
        wq = sum(r.prefill_start - r.arrival for r in served) / len(served)
        return self.queue_area / self.t_end, len(served) / self.t_end, wq


def round_robin(req: Request, workers: list) -> int:
    """The default router: request i goes to worker i mod n."""
    return req.rid % len(workers)


_ARRIVE, _DONE, _XFER = 0, 1, 2


def simulate(cluster: Cluster, cost: CostModel, requests: list, *, router: Router = round_robin,
             offload: Optional[Offload] = None, admission: Optional[Admission] = None,
             priority: bool = False) -> SimResult:
    """Run every request to completion (or rejection) and return the filled-in records.

    router(req, workers) -> index of the decode (or colocated) worker that will own the sequence.
    offload(prompt_length=, prefix_cached_length=, prefill_queue_size=, decode_active_reqs=) -> bool:
        with prefill workers, whether this prompt goes to the pool (True) or is prefilled locally on its
        decode worker; None = always the pool. Ignored when there are no prefill workers.
    admission(req, worker) -> bool: False rejects the request at arrival (early rejection).
    priority: high-priority prompts overtake low-priority ones in every prefill queue.

    The loop, per event:  arrival -> route, admit, queue (locally or in the pool), kick the worker;
    worker done -> first tokens / decode tokens / finished sequences, ship KV, kick it again;
    KV arrived -> the sequence joins its decode worker's batch.
    A free worker runs a prefill batch if prompts wait (prefill priority), else a decode step.
    """
    shared: deque = deque()
    role = "colocated" if cluster.n_prefill == 0 else "decode"
    decode = [Worker(i, role, cluster, shared) for i in range(cluster.n_decode)]
    pool = [Worker(cluster.n_decode + i, "prefill", cluster, shared) for i in range(cluster.n_prefill)]
    heap, tick = [], itertools.count()
    for r in requests:
        heapq.heappush(heap, (r.arrival, next(tick), _ARRIVE, r))
    st = {"n": 0, "q": 0, "area": 0.0, "qarea": 0.0, "last": 0.0, "events": 0}

    def push(t, kind, obj):
        heapq.heappush(heap, (t, next(tick), kind, obj))

    def enqueue(q: deque, r: Request) -> None:
        if priority and r.high:
            i = next((k for k, x in enumerate(q) if not x.high), len(q))
            q.insert(i, r)
        else:
            q.append(r)

    def to_decode(w: Worker, r: Request) -> None:
        w.kv_tokens += r.prompt + r.generated
        w.touch(r.prefix)                       # the prefix's KV now lives here too
        if len(w.running) < cluster.max_batch:
            w.running.append(r)
            w.context += r.prompt + r.generated
        else:
            w.waiting.append(r)

    def finish(r: Request, now: float) -> None:
        r.finish = now
        r.finished_count += 1
        st["n"] -= 1

    def kick(w: Worker, now: float) -> None:
        if w.busy:
            return
        q = shared if w.role == "prefill" else w.queue
        if q:
            batch, tokens, squares = [], 0, 0
            while q:
                r = q[0]
                cached = r.prefix_len if w.has_prefix(r.prefix) else 0
                new = max(1, r.prompt - cached)             # the last token is always computed
                if batch and tokens + new > cluster.max_prefill_tokens:
                    break
                q.popleft()
                r.cached, r.prefill_start, r.prefill_worker = cached, now, w.idx
                w.touch(r.prefix)
                batch.append(r)
                tokens, squares = tokens + new, squares + new * r.prompt
            st["q"] -= len(batch)
            w.op, w.batch, w.busy = "prefill", batch, True
            push(now + cost.prefill_s(tokens, squares), _DONE, (w, now))
        elif w.role != "prefill" and (w.running or w.waiting):
            while w.waiting and len(w.running) < cluster.max_batch:
                r = w.waiting.popleft()
                w.running.append(r)
                w.context += r.prompt + r.generated
            w.op, w.batch, w.busy = "decode", list(w.running), True
            push(now + cost.decode_s(len(w.batch), w.context), _DONE, (w, now))

    def done(w: Worker, start: float, now: float) -> None:
        w.busy, dur, batch = False, now - start, w.batch
        w.busy_s += dur
        if w.op == "prefill":
            w.prefill_busy_s += dur
            w.prefills += 1
            w.ema_prefill_s = _ema(w.ema_prefill_s, dur / len(batch))
            for r in batch:
                r.first_token, r.generated = now, 1
                if r.output <= 1:
                    finish(r, now)
                elif w.role == "prefill":            # ship the KV to the decode worker, FIFO on its link
                    dst = decode[r.worker]
                    t0 = max(now, dst.link_free)
                    dst.link_free = t0 + cost.transfer_s(r.prompt)
                    push(dst.link_free, _XFER, r)
                else:
                    to_decode(w, r)
        else:
            w.steps += 1
            w.ema_decode_s = _ema(w.ema_decode_s, dur / len(batch))
            w.kv_tokens += len(batch)
            w.context += len(batch)
            ended = []
            for r in batch:
                r.generated += 1
                if r.generated >= r.output:
                    ended.append(r)
            if ended:
                for r in ended:
                    w.kv_tokens -= r.prompt + r.generated
                    w.context -= r.prompt + r.generated
                    finish(r, now)
                w.running = [r for r in w.running if r.generated < r.output]
        w.batch = []

    while heap:
        t, _, kind, obj = heapq.heappop(heap)
        dt = t - st["last"]
        st["area"] += st["n"] * dt
        st["qarea"] += st["q"] * dt
        st["last"] = t
        st["events"] += 1
        if kind == _ARRIVE:
            r, w = obj, decode[router(obj, decode)]
            if admission is not None and not admission(r, w):
                r.rejected = True
                continue
            r.worker = w.idx
            st["n"] += 1
            st["q"] += 1
            cached = r.prefix_len if w.has_prefix(r.prefix) else 0
            remote = bool(pool) and (offload is None or offload(
                prompt_length=r.prompt, prefix_cached_length=cached, prefill_queue_size=len(shared),
                decode_active_reqs=w.active))
            if remote:
                r.offloaded = True
                w.incoming += 1
                enqueue(shared, r)
                for p in pool:
                    kick(p, t)
            else:
                enqueue(w.queue, r)
                kick(w, t)
        elif kind == _DONE:
            w, start = obj
            done(w, start, t)
            kick(w, t)
        else:                                          # a KV transfer arrived
            w = decode[obj.worker]
            w.incoming -= 1
            to_decode(w, obj)
            kick(w, t)
    return SimResult(requests, cluster, decode + pool, st["last"], st["area"], st["qarea"], st["events"])


def _ema(old: float, new: float, alpha: float = 0.2) -> float:
    return new if old == 0.0 else (1 - alpha) * old + alpha * new
