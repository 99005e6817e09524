"""Results files: data/reference/<device>.json and the learner's own runs, read and written atomically."""
from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from perflab.paths import REPO, data_dir

REFERENCE_DEVICE = "nvidia-h200"


@dataclass
class Record:
    """One lab variant at one size, as COURSE_STANDARD §5 specifies."""
    chapter: str
    lab: str
    variant: str
    size: object                 # int or list of ints
    dtype: str
    correct: bool
    median_s: float | None = None
    p20_s: float | None = None
    p80_s: float | None = None
    gbps: float | None = None
    tflops: float | None = None
    ceiling: str | None = None                 # which measured ceiling bounds it: "copy", "matmul bfloat16"
    ceiling_fraction: float | None = None
    speedup_vs_baseline: float | None = None
    first_call_s: float | None = None
    note: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def key(self) -> tuple:
        return (self.lab, self.variant, json.dumps(self.size), self.dtype)


def manifest() -> dict:
    """Who measured: device, driver, CUDA, torch, triton, date and git commit."""
    from perflab.machine import env
    e = env()
    return {"device": e.device, "device_key": e.device_key, "tier": e.tier, "capability": e.sm,
            "sms": e.sms, "l2_mb": e.l2_mb, "memory_gb": e.memory_gb, "driver": e.versions.get("driver"), "cuda": e.versions.get("cuda"),
            "torch": e.versions.get("torch"), "triton": e.versions.get("triton"),
            "cupy": e.versions.get("cupy"), "python": e.versions.get("python"),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "commit": _commit()}


def _commit() -> str | None:
    """The git commit measured; PERFLAB_COMMIT names it where the checkout has no .git (GPU hosts)."""
    if os.environ.get("PERFLAB_COMMIT"):
        return os.environ["PERFLAB_COMMIT"]
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def read(path: "str | Path") -> tuple[dict, list[Record]]:
    """(manifest, records) of a results file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no results file at {path}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); was it cut short?") from None
    if "records" not in data or "manifest" not in data:
        raise ValueError(f"{path} lacks 'manifest' or 'records': not a perflab results file")
    return data["manifest"], [Record.from_dict(r) for r in data["records"]]


def write(path: "str | Path", records: list[Record], manifest_: dict | None = None) -> Path:
    """Write a results file atomically (a temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"manifest": manifest_ or manifest(), "records": [asdict(r) for r in records]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    return path


def merge(path: "str | Path", records: list[Record]) -> Path:
    """Add records to a results file, replacing any with the same lab, variant, size and dtype."""
    path = Path(path)
    old = read(path)[1] if path.exists() else []
    new_keys = {r.key for r in records}
    return write(path, [r for r in old if r.key not in new_keys] + list(records))


def reference_path(device_key: str = REFERENCE_DEVICE) -> Path:
    return data_dir() / "reference" / f"{device_key}.json"


def reference(lab: str | None = None, device_key: str = REFERENCE_DEVICE) -> list[Record]:
    """The committed reference records (of one lab, if given); [] when none exist yet."""
    path = reference_path(device_key)
    if not path.exists():
        return []
    records = read(path)[1]
    return [r for r in records if lab is None or r.lab == lab]


def reference_manifest(device_key: str = REFERENCE_DEVICE) -> dict:
    """The manifest of the committed reference run ({} when none exists yet)."""
    path = reference_path(device_key)
    return read(path)[0] if path.exists() else {}


def sink() -> Path | None:
    """Where lab runs append their records automatically (PERFLAB_RESULTS, set by the workbook)."""
    value = os.environ.get("PERFLAB_RESULTS")
    return Path(value) if value else None
