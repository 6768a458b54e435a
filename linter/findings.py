"""What the check stage hands to the filter and report stages.

A finding names its rule, a primary location and every other fact it
combined (related locations), plus the assumptions it rests on.  Nothing
here computes facts; it only carries them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.records import record, field

SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@record(frozen=True, order=True)
class Location:
    """A place in an input file.  Lines and columns count from 1.

    ``path`` is the path as every machine-read format shows it: relative to
    the repository root (see ``somaxlint.discover.repository_root``), absolute
    for a file outside it, ``<stdin>`` for standard input.  Text output for
    people shows it relative to the current directory instead.
    """

    path: str
    line: int = 1
    column: int = 1
    # True when the position could not be mapped exactly (for instance an
    # nginx directive inside a double-quoted YAML scalar): the location is
    # then the start of the enclosing scalar.
    approximate: bool = False

    def as_dict(self) -> dict:
        out = {"path": self.path, "line": self.line, "column": self.column}
        if self.approximate:
            out["approximate"] = True
        return out

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@record(frozen=True)
class Related:
    """Another fact a finding combined: what it is, and where it came from."""

    location: Location
    label: str


@record
class Finding:
    rule: str  # stable code, e.g. SMX001
    name: str  # kebab-case rule name
    severity: str  # one of SEVERITIES
    message: str
    location: Location
    related: Tuple[Related, ...] = ()
    assumptions: Tuple[str, ...] = ()
    # Stable identity that survives unrelated edits: built from the rule,
    # the file and the logical subject (workload, container, listener...),
    # never from line numbers.
    subject: str = ""
    helm_source: Optional[str] = None
    extra: dict = field(default_factory=dict)
    # refs (Kind/namespace/name) of the Kubernetes objects the finding is
    # about, so an annotation on any of them can suppress it
    objects: Tuple[str, ...] = ()
    # Among findings with one identity key (rule, path, subject), this
    # one's rank in file order (see ``number_occurrences``): two `include`
    # lines with the same text are two findings, with two fingerprints.
    occurrence: int = 0

    def identity(self) -> Tuple[str, str, str]:
        return (self.rule, self.location.path, self.subject)

    @property
    def fingerprint(self) -> str:
        import hashlib  # only reports that print fingerprints need it

        parts = self.identity()
        if self.occurrence:  # the first occurrence keeps the fingerprint it always had
            parts += (str(self.occurrence),)
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8"))
        return digest.hexdigest()[:32]

    def sort_key(self):
        return (
            self.location.path,
            self.location.line,
            self.location.column,
            self.rule,
            self.message,
        )


def number_occurrences(findings: List[Finding]) -> None:
    """Give each finding its rank among the findings sharing its identity
    key, in file order (line, then column).  Unrelated edits move lines but
    keep that order, so the fingerprints survive them; GitLab drops all but
    one of the issues that share a fingerprint, so equal keys must not."""
    groups: Dict[Tuple[str, str, str], List[Finding]] = {}
    for f in findings:
        groups.setdefault(f.identity(), []).append(f)
    for group in groups.values():
        group.sort(key=lambda f: (f.location.line, f.location.column, f.message))
        for rank, f in enumerate(group):
            f.occurrence = rank


def internal_error(exc: BaseException, what: str = "input") -> str:
    """The message for a bug in somaxlint met while handling ``what``: it
    becomes a finding, so the run still reports everything else."""
    return f"somaxlint could not process this {what} (internal error: {type(exc).__name__}: {exc}); please report it"
