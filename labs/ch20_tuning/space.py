"""A knob space: named knobs, each with an ordered list of values; a config is one value per knob."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Space:
    knobs: dict            # name -> tuple of values, in an order where neighbours are similar

    def __post_init__(self):
        if not self.knobs or any(len(v) == 0 for v in self.knobs.values()):
            raise ValueError(f"every knob needs at least one value, got {self.knobs}")

    @property
    def size(self) -> int:
        return int(np.prod([len(v) for v in self.knobs.values()]))

    def configs(self) -> list[tuple]:
        """Every config, as a tuple of values in knob order."""
        return list(itertools.product(*self.knobs.values()))

    def as_dict(self, config: tuple) -> dict:
        return dict(zip(self.knobs, config))

    def label(self, config: tuple) -> str:
        return " ".join(f"{k}={v}" for k, v in zip(self.knobs, config))

    def encode(self, config: tuple) -> np.ndarray:
        """The config as a point in [0, 1]^knobs: each value's position in its knob's list (a model's input).

        >>> Space({"block": (32, 64, 128), "warps": (4, 8)}).encode((64, 8)).tolist()
        [0.5, 1.0]
        """
        return np.array([values.index(v) / max(len(values) - 1, 1)
                         for v, values in zip(config, self.knobs.values())], dtype=float)


@dataclass(frozen=True)
class SpaceTimes:
    """Every config of a knob space scored in seconds, lower is better (objectives.measure: median time per
    call; serving.measure: GPU-seconds per request served within the SLO); inf where a config cannot run."""
    what: str              # what was scored and where, in words
    seconds: dict          # config tuple -> seconds

    @property
    def best(self) -> tuple:
        """The config with the fewest seconds."""
        return min(self.seconds, key=self.seconds.get)
