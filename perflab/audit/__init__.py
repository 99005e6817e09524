"""perflab audit: the machine-checkable items of the book's appendix checklist, read-only.

    from perflab.audit import audit
    a = audit()                       # every check on this machine: pass / warn / fail / unknown
    a.table()                         # a perflab Table (the notebook view); print(a) for text
    audit(only=["torch.tf32"])        # one check again after you changed a setting
    audit(loader=my_loader, script="train.py")   # also inspect a DataLoader and a training script

Each check is data: ``Check(id, title, chapter, category, probe)``, declared by ``@check(...)`` above its
probe; each module's ``CHECKS`` lists them in report order. A probe reads a :class:`Facts`
object (``/proc``, ``/sys``, the environment, torch flags, ``nvidia-smi --query-gpu``) and returns a
``Result(status, evidence, advice)``. Nothing is ever changed: advice is printed, never applied.
A fact that cannot be read (no GPU, no file, no DataLoader given) makes its check 'unknown'.
"""
from __future__ import annotations

from perflab.audit import gpu, host, remaining, runtime
from perflab.audit.core import STATUSES, Audit, AuditRow, Check, Facts, MissingFact, Result

CHECKS: list[Check] = [*host.CHECKS, *gpu.CHECKS, *runtime.CHECKS]

__all__ = ["audit", "Audit", "Check", "Result", "Facts", "MissingFact", "CHECKS", "STATUSES", "remaining"]


def audit(facts: Facts | None = None, *, only=None, category: str | None = None, loader=None, script=None,
          data_dir=None) -> Audit:
    """Run the checks (all, ``only`` these ids or id prefixes such as 'gpu.', or one ``category``)
    against ``facts`` (default: this machine, read now) and return an :class:`Audit`.

    >>> a = audit(Facts({}, live=False), only=["os.thp"])
    >>> a.rows[0].result.status
    'unknown'
    """
    if facts is None:
        facts = Facts(loader=loader, script=script, data_dir=data_dir)
    checks = CHECKS
    if only:
        wanted = [only] if isinstance(only, str) else list(only)
        unknown = [w for w in wanted if not any(c.id == w or c.id.startswith(w) for c in CHECKS)]
        if unknown:
            raise ValueError(f"no audit check matches {unknown}; ids look like {CHECKS[0].id!r} "
                             f"(see perflab audit --list)")
        checks = [c for c in CHECKS if any(c.id == w or c.id.startswith(w) for w in wanted)]
    if category:
        checks = [c for c in checks if category.lower() in c.category.lower()]
    return Audit([AuditRow(c, c.run(facts)) for c in checks],
                 remaining=[r for r in remaining.items() if not r["checks"]])
