"""Results files: data/reference/<device>.json and the learner's own runs, read and written atomically."""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from perflab.paths import REPO, data_dir

REFERENCE_DEVICE = "nvidia-h200"          # the default reference, for learners on any other device
LOCK_TIMEOUT_S = 120                     # a merge waits this long for another process's merge


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
    def from_dict(cls, d: dict, where: str = "record") -> "Record":
        """A Record from its JSON form; a ValueError naming ``where`` and the field when one is missing or
        of the wrong type (unknown fields are ignored: a newer perflab may have written them)."""
        if not isinstance(d, dict):
            raise ValueError(f"{where} should be a JSON object, got {type(d).__name__} {_short(d)}")
        for name, (required, ok, wanted) in _FIELD_TYPES.items():
            if name not in d:
                if required:
                    raise ValueError(f"{where} lacks the field {name!r} ({wanted})")
                continue
            if not ok(d[name]):
                raise ValueError(f"{where} field {name!r} should be {wanted}, got {_short(d[name])}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def key(self) -> tuple:
        return (self.lab, self.variant, json.dumps(self.size), self.dtype)


def _is_size(v) -> bool:
    """An integer, or a non-empty list of dimensions (integers) and knobs (finite numbers, e.g. an MoE skew)."""
    return (isinstance(v, int) and _is_number_or_none(v)) or (      # an int (not a bool), or a list
        isinstance(v, list) and bool(v) and all(x is not None and _is_number_or_none(x) for x in v))


def _is_number_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


_FIELD_TYPES = {          # name: (required, check, what it should be)
    "chapter": (True, lambda v: isinstance(v, str), "a string"),
    "lab": (True, lambda v: isinstance(v, str) and bool(v), "a lab name string"),
    "variant": (True, lambda v: isinstance(v, str) and bool(v), "a variant name string"),
    "size": (True, _is_size, "an integer or a list of numbers (dimensions and knobs)"),
    "dtype": (True, lambda v: isinstance(v, str), "a dtype name string"),
    "correct": (True, lambda v: isinstance(v, bool), "true or false"),
    **{name: (False, _is_number_or_none, "a finite number or null")
       for name in ("median_s", "p20_s", "p80_s", "gbps", "tflops", "ceiling_fraction",
                    "speedup_vs_baseline", "first_call_s")},
    "ceiling": (False, lambda v: v is None or isinstance(v, str), "a string or null"),
    "note": (False, lambda v: isinstance(v, str), "a string"),
}


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def manifest() -> dict:
    """Who measured: device, driver, CUDA, torch, triton, date and git commit; on a GPU with NVML also its
    SM and memory clocks (MHz) and power limit (W)."""
    from perflab.machine import env, nvml_facts
    e = env()
    facts = nvml_facts() if e.tier == "gpu" else {}
    return {"device": e.device, "device_key": e.device_key, "tier": e.tier, "capability": e.sm,
            "sms": e.sms, "l2_mb": e.l2_mb, "memory_gb": e.memory_gb,
            **{k: facts[k] for k in ("sm_clock_mhz", "memory_clock_mhz", "power_limit_w") if k in facts},
            "driver": e.versions.get("driver") or facts.get("driver"), "cuda": e.versions.get("cuda"),
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


def read_json(path: "str | Path", what: str = "file"):
    """The JSON in ``path``; a ValueError naming the file when it is binary, cut short or not JSON."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} at {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not a {what}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (binary data?): not a {what}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); was it cut short?") from None


def read(path: "str | Path") -> tuple[dict, list[Record]]:
    """(manifest, records) of a results file; a one-line ValueError naming the file and the field when it
    is malformed."""
    path = Path(path)
    data = read_json(path, "results file")
    if not isinstance(data, dict) or "records" not in data or "manifest" not in data:
        raise ValueError(f"{path} lacks 'manifest' or 'records': not a perflab results file")
    if not isinstance(data["manifest"], dict):
        raise ValueError(f"{path}: 'manifest' should be a JSON object, got {type(data['manifest']).__name__}")
    if not isinstance(data["records"], list):
        raise ValueError(f"{path}: 'records' should be a JSON list, got {type(data['records']).__name__}")
    return data["manifest"], [Record.from_dict(r, f"{path}: record {i}") for i, r in enumerate(data["records"])]


def atomic_write_text(path: "str | Path", text: str) -> Path:
    """Write ``text`` to ``path`` atomically: a uniquely named temp file in the same folder, flushed to disk,
    then renamed over ``path``. Readers see the old file or the new one, never half of one; on failure the
    temp file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def lock(path: "str | Path", timeout_s: float = LOCK_TIMEOUT_S):
    """An exclusive lock for a read-modify-write of ``path`` across processes (a ``.<name>.lock`` file
    beside it): ``with results.lock(path): ...``."""
    from filelock import FileLock
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path.parent / f".{path.name}.lock"), timeout=timeout_s)


def _payload(records: list[Record], manifest_: dict | None) -> str:
    """The file's text; a ValueError naming the record and field that would make a file ``read`` refuses."""
    rows = []
    for r in records:
        if not isinstance(r, Record):
            raise TypeError(f"results files hold perflab.results.Record objects, got {type(r).__name__}")
        rows.append(asdict(r))
        Record.from_dict(rows[-1], f"record {r.lab} {r.variant} {r.size} {r.dtype}")
    payload = {"manifest": manifest_ or manifest(), "records": rows}
    return json.dumps(payload, indent=1, allow_nan=False) + "\n"


def write(path: "str | Path", records: list[Record], manifest_: dict | None = None) -> Path:
    """Write a results file atomically, under its lock (so it never lands inside another process's merge)."""
    text = _payload(records, manifest_)
    with lock(path):
        return atomic_write_text(path, text)


def merge(path: "str | Path", records: list[Record], manifest_: dict | None = None) -> Path:
    """Add records to a results file, replacing any with the same lab, variant, size and dtype. The read and
    the write hold the file's lock, so merges from several processes at once all land."""
    path = Path(path)
    records = list(records)
    new_keys = {r.key for r in records}
    man = manifest_ or manifest()
    with lock(path):
        old = read(path)[1] if path.exists() else []
        return atomic_write_text(path, _payload([r for r in old if r.key not in new_keys] + records, man))


def add_ceilings(path: "str | Path", ceilings) -> Path:
    """Write the ceilings a run's records were scored against into its results file's manifest (what
    reference_check compares every record's fraction with). ``ceilings``: a perflab.peaks.Ceilings."""
    with lock(path):
        man, records = read(path)
        man["ceilings"] = {k: v for k, v in asdict(ceilings).items() if k not in ("datasheet", "versions")}
        return atomic_write_text(path, _payload(records, man))


def reference_path(device_key: str = REFERENCE_DEVICE) -> Path:
    return data_dir() / "reference" / f"{device_key}.json"


def reference_devices() -> list[str]:
    """Device keys with a committed reference (data/reference/<device>.json; not pending lists or the
    notebooks' sidecar tables)."""
    folder = data_dir() / "reference"
    return sorted(p.stem for p in folder.glob("*.json")
                  if not p.stem.startswith(("pending", "ch")) and "-" in p.stem)


def reference_device(device_key: str | None = None) -> str:
    """The committed reference device closest to ``device_key`` (default: this machine's): the same device,
    else the same GPU family ('nvidia-h100-80gb-hbm3' -> 'nvidia-h100'), else the default H200."""
    if device_key is None:
        from perflab.machine import env
        device_key = env().device_key
    committed = reference_devices()
    if device_key in committed:
        return device_key
    family = [k for k in committed if device_key.startswith(k + "-")]
    return max(family, key=len) if family else REFERENCE_DEVICE


def device_label(device_key: str) -> str:
    """A short column title for a reference device: 'nvidia-h200' -> 'H200'."""
    name = device_key.removeprefix("nvidia-")
    return name.upper() if name != device_key else device_key


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
