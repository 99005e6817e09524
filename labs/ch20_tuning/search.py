"""Three ways to search a knob space: try everything, try at random, or let a model choose the next trial.

Every tuner sees the space only through ``evaluate(config) -> seconds``: it can be a live measurement, or
a lookup in a table measured once (how the notebook compares tuners over many seeds at no extra cost).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from labs.ch20_tuning.space import Space, SpaceTimes
from perflab.table import Table
from perflab.validate import calculator_inputs


@dataclass
class Trace:
    """What one tuner tried, in order, and what each trial measured."""
    tuner: str
    configs: list = field(default_factory=list)
    times: list = field(default_factory=list)

    def add(self, config, seconds: float):
        self.configs.append(config)
        self.times.append(seconds)

    def best(self) -> tuple:
        i = int(np.argmin(self.times))
        return self.configs[i], self.times[i]

    def best_so_far(self) -> np.ndarray:
        return np.minimum.accumulate(np.array(self.times, dtype=float))

    def trials_to_within(self, best: float, tol: float = 0.05) -> int | None:
        """How many trials until one came within ``tol`` of ``best`` (None: never)."""
        hits = np.nonzero(np.array(self.times) <= best * (1 + tol))[0]
        return int(hits[0]) + 1 if len(hits) else None


def exhaustive(space: Space, evaluate: Callable) -> Trace:
    trace = Trace("exhaustive")
    for config in space.configs():
        trace.add(config, evaluate(config))
    return trace


def random_search(space: Space, evaluate: Callable, budget: int, seed: int = 0) -> Trace:
    configs = space.configs()
    order = np.random.default_rng(seed).permutation(len(configs))[:budget]
    trace = Trace("random")
    for i in order:
        trace.add(configs[i], evaluate(configs[i]))
    return trace


def _norm_cdf(z):
    return 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))


def _norm_pdf(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


class GaussianProcess:
    """A small Gaussian-process model of log(time) over encoded configs (RBF kernel, noise-free but for
    jitter); the length scale is picked from a few by the marginal likelihood each time it is fitted."""
    SCALES = (0.15, 0.3, 0.6, 1.2)

    def fit(self, x: np.ndarray, y: np.ndarray):
        self.x, self.mu, self.sd = x, y.mean(), y.std() or 1.0
        z = (y - self.mu) / self.sd
        best = None
        for scale in self.SCALES:
            k = self._kernel(x, x, scale) + 1e-6 * np.eye(len(x))
            chol = np.linalg.cholesky(k)
            alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
            loglik = -0.5 * z @ alpha - np.log(np.diag(chol)).sum()
            if best is None or loglik > best[0]:
                best = (loglik, scale, chol, alpha)
        _, self.scale, self.chol, self.alpha = best
        return self

    @staticmethod
    def _kernel(a, b, scale):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-0.5 * d2 / scale ** 2)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = self._kernel(x, self.x, self.scale)
        mean = ks @ self.alpha
        v = np.linalg.solve(self.chol, ks.T)
        var = np.clip(1 - (v * v).sum(0), 1e-12, None)
        return self.mu + self.sd * mean, self.sd * np.sqrt(var)


def expected_improvement(mean, std, best) -> np.ndarray:
    """How much below ``best`` (we minimise) each point is expected to land, by the model."""
    gain = best - mean
    z = gain / std
    return gain * _norm_cdf(z) + std * _norm_pdf(z)


def model_based(space: Space, evaluate: Callable, budget: int, seed: int = 0, n_init: int = 4) -> Trace:
    """Bayesian optimisation: a few random trials, then always the config with the largest expected
    improvement under a Gaussian process fitted to log(time) of everything tried so far."""
    configs = space.configs()
    x_all = np.stack([space.encode(c) for c in configs])
    rng = np.random.default_rng(seed)
    tried = list(rng.permutation(len(configs))[:min(n_init, budget)])
    trace = Trace("model-based")
    for i in tried:
        trace.add(configs[i], evaluate(configs[i]))
    while len(tried) < min(budget, len(configs)):
        y = np.log(np.array(trace.times, dtype=float))
        finite = np.isfinite(y)
        y[~finite] = (y[finite].max() + 1.0) if finite.any() else 0.0   # configs that cannot run: just bad
        gp = GaussianProcess().fit(x_all[tried], y)
        rest = np.setdiff1d(np.arange(len(configs)), tried)
        mean, std = gp.predict(x_all[rest])
        i = int(rest[np.argmax(expected_improvement(mean, std, y.min()))])
        tried.append(i)
        trace.add(configs[i], evaluate(configs[i]))
    return trace


@dataclass(frozen=True)
class Replays:
    """compare()'s searches over the measured table, one Trace per seed for each tuner."""
    random: tuple                # random_search
    model_based: tuple           # model_based

    def by_tuner(self) -> list:
        """[(tuner name, its traces)] in the table's order."""
        return [("random", self.random), ("model-based", self.model_based)]


def compare(space: Space, times: SpaceTimes, seeds=range(40), tol: float = 0.05) -> tuple[Table, Replays]:
    """Replay random and model-based search over a measured table, many seeds each, for half the space's
    trials: how many until one is within ``tol`` of the exhaustive best. Returns the table and the traces
    (for the convergence plot)."""
    best = min(times.seconds.values())
    budget, quarter = max(2, space.size // 2), max(1, space.size // 4)
    traces = Replays(*(tuple(tuner(space, times.seconds.__getitem__, budget, seed) for seed in seeds)
                       for tuner in (random_search, model_based)))
    rows = [["exhaustive", f"{space.size}", f"{space.size}", "100%", "1.00×"]]
    for name, runs in traces.by_tuner():
        hits = [t.trials_to_within(best, tol) or budget + 1 for t in runs]
        show = lambda v: f"> {budget}" if v > budget else f"{v:.0f}"   # noqa: E731
        rows.append([name, show(np.median(hits)), show(np.percentile(hits, 90)),
                     f"{np.mean([h <= quarter for h in hits]):.0%}",
                     f"{np.median([min(t.times[:quarter]) / best for t in runs]):.2f}×"])
    table = Table(["tuner", f"median trials to within {tol:.0%}", "90th percentile",
                   f"runs within {tol:.0%} by {quarter} trials (25%)", f"best after {quarter} trials ÷ best (median)"],
                  rows, title=f"Trials to near-best over {space.size} configs, {len(traces.random)} seeds per tuner",
                  notes=["every trial is one measured config, replayed from the table measured above; "
                         f"each search stops after {budget} trials (half the space)"])
    return table, traces


def convergence_figure(traces: Replays, best: float, title: str = "Best found so far"):
    """Median over seeds of (best so far ÷ exhaustive best) against the number of trials."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for name, runs in traces.by_tuner():
        curves = np.stack([t.best_so_far() / best for t in runs])
        x = np.arange(1, curves.shape[1] + 1)
        fig.add_trace(go.Scatter(x=x, y=np.median(curves, 0), name=f"{name} (median)", mode="lines"))
        fig.add_trace(go.Scatter(x=x, y=np.percentile(curves, 90, 0), name=f"{name} (90th pct)",
                                 mode="lines", line={"dash": "dot"}))
    fig.add_hline(y=1.05, line_dash="dash", annotation_text="within 5% of the best")
    fig.update_layout(title=title, xaxis_title="trials", yaxis_title="best so far ÷ exhaustive best",
                      yaxis_type="log", height=380)
    return fig


@calculator_inputs(positive="knobs values_per_knob measure_s trials", fraction="top_share")
def tuning_cost(knobs: int = 5, values_per_knob: int = 3, compile_s: float = 0.8, measure_s: float = 0.1,
                top_share: float = 0.05, trials: int = 25) -> str:
    """What exhaustive search costs, and the chance that random trials land in the top ``top_share``.

    >>> tuning_cost(5, 3, 0.8, 0.1, 0.05, 25).split(";")[0]
    '243 configs: exhaustive search takes 3.6 min'
    """
    if knobs < 1 or values_per_knob < 1 or trials < 1 or not 0 < top_share < 1:
        raise ValueError("need knobs, values and trials ≥ 1 and 0 < top_share < 1")
    n = values_per_knob ** knobs
    minutes = n * (compile_s + measure_s) / 60
    hit = 1 - (1 - top_share) ** min(trials, n)
    return (f"{n:,} configs: exhaustive search takes {minutes:,.1f} min; {trials} random trials land in the "
            f"top {top_share:.0%} with probability {hit:.0%} ({trials * (compile_s + measure_s) / 60:,.1f} min)")


def landscape_figure(space: Space, times: SpaceTimes, title: str):
    """Every config's time ÷ the best, sorted: how flat or steep the space is near its optimum."""
    import plotly.graph_objects as go
    finite = sorted((t, c) for c, t in times.seconds.items() if math.isfinite(t))
    best = finite[0][0]
    fig = go.Figure(go.Bar(x=list(range(1, len(finite) + 1)), y=[t / best for t, _ in finite],
                           hovertext=[space.label(c) for _, c in finite]))
    fig.add_hline(y=1.05, line_dash="dash", annotation_text="within 5%")
    fig.update_layout(title=title, xaxis_title="configs, fastest first", yaxis_title="time ÷ best",
                      yaxis_type="log", height=340)
    return fig
