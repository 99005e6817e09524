"""Where perflab reads data (device specs, references) and caches measurements."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The repository's data/ folder (PERFLAB_DATA overrides)."""
    return Path(os.environ.get("PERFLAB_DATA", REPO / "data"))


def cache_dir() -> Path:
    """Per-user cache for measured ceilings (PERFLAB_CACHE overrides)."""
    base = os.environ.get("PERFLAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "perflab")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path
