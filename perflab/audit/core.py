"""The audit's data model: facts read from the machine, checks as data, results with evidence."""
from __future__ import annotations

import glob
import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Callable

STATUSES = ("pass", "warn", "fail", "unknown", "n/a")
MARK = {"pass": "✅", "warn": "⚠️", "fail": "❌", "unknown": "❔", "n/a": "—"}


class MissingFact(Exception):
    """A fact this machine does not let us read (no file, no tool, no GPU): the check says 'unknown'."""

    def __init__(self, key: str, why: str = ""):
        super().__init__(f"{key}: {why}" if why else key)
        self.key, self.why = key, why


@dataclass(frozen=True)
class Result:
    status: str            # "pass", "warn", "fail", "unknown" or "n/a" (needs a GPU this machine lacks)
    evidence: str          # the value read and where from
    advice: str = ""       # what to change (reported, never applied)

    @classmethod
    def judge(cls, ok: bool, evidence: str, advice: str, bad: str = "warn") -> "Result":
        """'pass' when ``ok`` (no advice needed), else ``bad`` ('warn' or 'fail') with the advice."""
        return cls("pass" if ok else bad, evidence, "" if ok else advice)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")


@dataclass(frozen=True)
class Check:
    id: str                                  # "os.thp", "gpu.ecc_errors", ...
    title: str                               # what a good machine has, in a few words
    chapter: int                             # the chapter that teaches it
    category: str                            # the appendix checklist category
    probe: Callable[["Facts"], Result]       # reads facts, never changes anything
    book: str = ""                           # book lines, e.g. "L1151, L9061"
    needs_gpu: bool = False                  # about a CUDA GPU: 'n/a' on a machine that has none

    def run(self, facts: "Facts") -> Result:
        """The probe's result; 'n/a' for a GPU check on a machine with no CUDA GPU; 'unknown' when a
        fact cannot be read or the probe itself fails."""
        if self.needs_gpu and facts.get("torch.cuda_ok") is False and not facts.get("smi"):
            return Result("n/a", "no CUDA GPU on this machine")
        try:
            return self.probe(facts)
        except MissingFact as m:
            return Result("unknown", f"cannot read {m.key}" + (f" ({m.why})" if m.why else ""))
        except Exception as exc:             # an audit never raises on a strange machine
            return Result("unknown", f"probe error: {type(exc).__name__}: {exc}")


def check(id: str, title: str, chapter: int, category: str, book: str = "", *, needs_gpu: bool = False):
    """Declare a probe as a :class:`Check` where it is written:
    ``@check("os.thp", "THP on", 3, OS, "L1151")`` above ``def thp(f) -> Result``."""
    def declare(probe: Callable[["Facts"], Result]) -> Check:
        return Check(id, title, chapter, category, probe, book, needs_gpu)
    return declare


# ---- facts ---------------------------------------------------------------------------------------

SMI_FIELDS = ["index", "name", "pci.bus_id", "driver_version", "persistence_mode", "mig.mode.current",
              "ecc.mode.current", "ecc.errors.uncorrected.volatile.total",
              "ecc.errors.uncorrected.aggregate.total", "clocks.sm", "clocks.max.sm",
              "clocks_throttle_reasons.active", "power.draw", "enforced.power.limit", "power.default_limit",
              "temperature.gpu", "pcie.link.gen.current", "pcie.link.gen.max", "pcie.link.width.current",
              "pcie.link.width.max", "memory.used", "memory.total", "compute_mode"]
SMI_TIMEOUT_S = 10


def _read_file(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as exc:
        raise MissingFact(path, exc.strerror or type(exc).__name__) from None


def _smi_run(fields: list[str]) -> list[list[str]] | None:
    """Rows of `nvidia-smi --query-gpu=FIELDS --format=csv,noheader,nounits`; None if a field is invalid."""
    cmd = ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=SMI_TIMEOUT_S)
    except FileNotFoundError:
        raise MissingFact("nvidia-smi", "not installed: no NVIDIA driver here (cpu tier?)") from None
    except subprocess.TimeoutExpired:
        raise MissingFact("nvidia-smi", f"no answer within {SMI_TIMEOUT_S} s") from None
    if out.returncode != 0:
        if "not a valid field" in (out.stdout + out.stderr).lower():
            return None
        raise MissingFact("nvidia-smi", (out.stdout + out.stderr).strip().splitlines()[0][:120]
                          if (out.stdout + out.stderr).strip() else f"exit code {out.returncode}")
    return [[c.strip() for c in line.split(",")] for line in out.stdout.strip().splitlines()]


def _clean(value: str) -> str | None:
    return None if value.startswith("[") or value in ("N/A", "") else value


def _smi() -> list[dict]:
    """One dict per GPU, field -> value (None where the driver says N/A or does not know the field)."""
    rows = _smi_run(SMI_FIELDS)
    if rows is not None:
        return [{f: _clean(v) for f, v in zip(SMI_FIELDS, row)} for row in rows]
    gpus: list[dict] = []
    for f in SMI_FIELDS:                     # an old or new driver lacks a field: ask one at a time
        alias = {"clocks_throttle_reasons.active": ["clocks_event_reasons.active"]}.get(f, [])
        col = None
        for name in [f, *alias]:
            col = _smi_run([name])
            if col is not None:
                break
        for i, row in enumerate(col or []):
            while len(gpus) <= i:
                gpus.append({})
            gpus[i][f] = _clean(row[0])
    return [{f: g.get(f) for f in SMI_FIELDS} for g in gpus]


def _torch_reader(expr: Callable):
    def read():
        import torch
        return expr(torch)
    return read


def _loader_info(dl) -> dict:
    return {"num_workers": dl.num_workers, "pin_memory": dl.pin_memory,
            "persistent_workers": getattr(dl, "persistent_workers", False),
            "prefetch_factor": getattr(dl, "prefetch_factor", None),
            "sampler": type(getattr(dl, "sampler", None)).__name__}


def _git_status() -> str:
    from perflab.paths import REPO
    try:
        out = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingFact("git status", str(exc)) from None
    if out.returncode != 0:
        raise MissingFact("git status", "not a git checkout")
    return out.stdout


def _statvfs_bytes(path: str) -> int:
    try:
        s = os.statvfs(path)
    except OSError as exc:
        raise MissingFact(f"statvfs {path}", exc.strerror or "") from None
    return s.f_frsize * s.f_blocks


def _rlimit_memlock():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    return -1 if soft == resource.RLIM_INFINITY else soft


def _process_names() -> set:
    names = set()
    for p in glob.glob("/proc/[0-9]*/comm"):
        try:
            names.add(_read_file(p))
        except MissingFact:
            pass
    return names


# key -> (reader, where it comes from). Keys "file:PATH" and "glob:PATTERN" are read generically.
READERS: dict[str, tuple[Callable, str]] = {
    "env": (lambda: dict(os.environ), "the process environment"),
    "smi": (_smi, "nvidia-smi --query-gpu=… --format=csv"),
    "affinity": (lambda: sorted(os.sched_getaffinity(0)), "os.sched_getaffinity(0)"),
    "memlock": (_rlimit_memlock, "resource.getrlimit(RLIMIT_MEMLOCK)"),
    "shm_bytes": (lambda: _statvfs_bytes("/dev/shm"), "os.statvfs('/dev/shm')"),
    "processes": (_process_names, "/proc/*/comm"),
    "git_status": (_git_status, "git status --porcelain (perflab's checkout)"),
    "modules": (lambda: {m: __import__("importlib.util").util.find_spec(m) is not None
                         for m in ("kvikio", "cufile", "transformer_engine")}, "importlib.util.find_spec"),
    "torch.version": (_torch_reader(lambda t: {"torch": t.__version__, "cuda": t.version.cuda}),
                      "torch.__version__, torch.version.cuda"),
    "torch.cuda_ok": (_torch_reader(lambda t: t.cuda.is_available()), "torch.cuda.is_available()"),
    "torch.capability": (_torch_reader(lambda t: t.cuda.get_device_capability(0) if t.cuda.is_available()
                                       else None), "torch.cuda.get_device_capability(0)"),
    "torch.gpus": (_torch_reader(lambda t: t.cuda.device_count()), "torch.cuda.device_count()"),
    "torch.matmul_precision": (_torch_reader(lambda t: t.get_float32_matmul_precision()),
                               "torch.get_float32_matmul_precision()"),
    "torch.cudnn_tf32": (_torch_reader(lambda t: t.backends.cudnn.allow_tf32), "torch.backends.cudnn.allow_tf32"),
    "torch.cudnn_benchmark": (_torch_reader(lambda t: t.backends.cudnn.benchmark),
                              "torch.backends.cudnn.benchmark"),
    "torch.cudnn_deterministic": (_torch_reader(lambda t: t.backends.cudnn.deterministic),
                                  "torch.backends.cudnn.deterministic"),
    "torch.deterministic": (_torch_reader(lambda t: t.are_deterministic_algorithms_enabled()),
                            "torch.are_deterministic_algorithms_enabled()"),
    "torch.anomaly": (_torch_reader(lambda t: t.is_anomaly_enabled()), "torch.is_anomaly_enabled()"),
    "torch.sdpa": (_torch_reader(lambda t: {"flash": t.backends.cuda.flash_sdp_enabled(),
                                            "mem_efficient": t.backends.cuda.mem_efficient_sdp_enabled(),
                                            "math": t.backends.cuda.math_sdp_enabled()}),
                   "torch.backends.cuda.*_sdp_enabled()"),
    "torch.bf16": (_torch_reader(lambda t: t.cuda.is_bf16_supported() if t.cuda.is_available() else None),
                   "torch.cuda.is_bf16_supported()"),
    "torch.p2p_blocked": (_torch_reader(lambda t: [(i, j) for i in range(t.cuda.device_count())
                                                   for j in range(t.cuda.device_count())
                                                   if i != j and not t.cuda.can_device_access_peer(i, j)]),
                          "torch.cuda.can_device_access_peer"),
    "torch.threads": (_torch_reader(lambda t: t.get_num_threads()), "torch.get_num_threads()"),
    "torch.pinned_ok": (_torch_reader(lambda t: (t.empty(1, pin_memory=True).is_pinned()
                                                 if t.cuda.is_available() else None)),
                        "torch.empty(1, pin_memory=True)"),
}


class Facts:
    """What the checks read, each fact read once on first use.

    Live (the default) it reads this machine; with ``live=False`` only ``values`` exist, so tests can fake
    any machine: ``Facts({"file:/proc/swaps": "Filename Type Size Used Priority"}, live=False)``. A fact
    that cannot be read raises :class:`MissingFact`, and the check reports 'unknown'.
    Optional inputs: ``loader`` (a live DataLoader), ``script`` (a training script's path),
    ``data_dir`` (a dataset folder).
    """

    def __init__(self, values: dict | None = None, *, live: bool = True, loader=None, script=None,
                 data_dir=None):
        self.values = dict(values or {})
        self.live = live
        self._where: dict[str, str] = {k: "given" for k in self.values}
        if loader is not None:
            self.values["loader"], self._where["loader"] = _loader_info(loader), "the DataLoader you passed"
        if script is not None:
            self.values["script"], self._where["script"] = _read_file(str(script)), str(script)
        if data_dir is not None:
            self.values["data_dir"], self._where["data_dir"] = str(data_dir), str(data_dir)

    def __getitem__(self, key: str):
        if key not in self.values:
            if not self.live:
                raise MissingFact(key, "not given")
            self.values[key], self._where[key] = self._read(key)
        value = self.values[key]
        if isinstance(value, MissingFact):
            raise value
        return value

    def get(self, key: str, default=None):
        try:
            return self[key]
        except MissingFact:
            return default

    def where(self, key: str) -> str:
        """Where a fact was read from (a path, a command, an API), for the evidence column."""
        return self._where.get(key) or (READERS[key][1] if key in READERS else key.split(":", 1)[-1])

    def _read(self, key: str):
        kind, _, arg = key.partition(":")
        try:
            if kind == "file":
                return _read_file(arg), arg
            if kind == "glob":
                return {p: _read_file(p) for p in sorted(glob.glob(arg))}, arg
            if key in ("loader", "script", "data_dir"):
                cli = {"data_dir": "--data-dir", "script": "--script"}.get(key)
                raise MissingFact(key, f"pass {key}=… to audit()" + (f", or {cli} to `perflab audit`" if cli else ""))
            if key not in READERS:
                raise MissingFact(key, "no reader for this fact")
            reader, where = READERS[key]
            return reader(), where
        except MissingFact as m:
            return m, READERS.get(key, (None, arg or key))[1]
        except ImportError as exc:
            return MissingFact(key, f"needs {exc.name}"), key
        except Exception as exc:
            return MissingFact(key, f"{type(exc).__name__}: {exc}"), key


@dataclass
class AuditRow:
    check: Check
    result: Result

    def as_dict(self) -> dict:
        c, r = self.check, self.result
        return {"id": c.id, "title": c.title, "chapter": c.chapter, "category": c.category, "book": c.book,
                "status": r.status, "evidence": r.evidence, "advice": r.advice}


@dataclass
class Audit:
    """The results of an audit: prints as text, renders as a Table in a notebook, dumps as JSON."""
    rows: list[AuditRow]
    remaining: list = field(default_factory=list)

    def counts(self) -> dict:
        return {s: sum(r.result.status == s for r in self.rows) for s in STATUSES}

    def summary(self) -> str:
        c = self.counts()
        return (f"{len(self.rows)} checks: " + " · ".join(f"{MARK[s]} {c[s]} {s}" for s in STATUSES))

    def by_category(self) -> list[AuditRow]:
        """The rows grouped by checklist category, categories in the order they first appear."""
        order = list(dict.fromkeys(r.check.category for r in self.rows))
        return sorted(self.rows, key=lambda r: order.index(r.check.category))

    def table(self, statuses=STATUSES):
        from perflab.table import Table
        rows = [[f"{MARK[r.result.status]} {r.check.id}", r.check.title, f"ch{r.check.chapter:02d}",
                 r.result.evidence, "" if r.result.status == "pass" else r.result.advice]
                for r in self.by_category() if r.result.status in statuses]
        notes = ["read-only: nothing was changed; advice is for you to apply (often as root)",
                 "❔ unknown = this machine does not let us read the fact (no file, no tool, not given)",
                 "— n/a = a check about a CUDA GPU, on a machine that has none"]
        return Table(["check", "good when", "teaches", "evidence (value · where from)", "advice"], rows,
                     title=f"perflab audit · {self.summary()}", notes=notes)

    def as_dict(self) -> dict:
        return {"summary": self.counts(), "checks": [r.as_dict() for r in self.rows],
                "remaining": self.remaining}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, ensure_ascii=False)

    def text(self) -> str:
        out = [f"perflab audit · {self.summary()}"]
        category = None
        for r in self.by_category():
            if r.check.category != category:
                category = r.check.category
                out.append(f"\n{category}")
                na = [x.check.id for x in self.rows if x.check.category == category and x.result.status == "n/a"]
                if na:
                    out.append(f"  {MARK['n/a']} n/a     no CUDA GPU here: {', '.join(na)}")
            if r.result.status == "n/a":
                continue
            out.append(f"  {MARK[r.result.status]} {r.result.status:<7} {r.check.id:<24} "
                       f"ch{r.check.chapter:02d}  {r.result.evidence}")
            if r.result.advice and r.result.status != "pass":
                out.append(f"  {'':<34}→ {r.result.advice}")
        return "\n".join(out)

    __str__ = text

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        return self.table()._repr_html_()
