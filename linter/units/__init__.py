"""Deployment units: which objects are deployed together.

A unit is one rendered Helm release, one built kustomization, one
standard-input stream, or -- for plain manifests -- nothing at all (their
references are resolved by nearness on disk, see ``somaxlint.model.scope``).

Renderers (``helm_chart``, ``kustomization``) turn a directory into
``Rendered`` streams.  Each stream carries a line map from the rendered
text back to the files a person edits, so that findings point at the
template, the base or the patch, never at output nobody can see.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Set, Tuple

from somaxlint.records import record, field


@record(frozen=True)
class SourcePosition:
    """Where a rendered line came from."""

    path: str  # real path of the source file on disk
    line: int
    column: int
    # True when the rendered line is not literally in the source (a
    # `{{ ... }}` expression, a patched value): line 1 or the object's line,
    # with the rendered text quoted in ``rendered``.
    approximate: bool = False
    rendered: Optional[str] = None


# rendered (line, column), both 1-based -> position in a source file, or
# None when nothing better than the rendered stream is known
if TYPE_CHECKING:
    LineMap = Callable[[int, int], Optional[SourcePosition]]


@record
class Rendered:
    """One unit's manifests as the tool that deploys them produces them."""

    unit: str  # label for people: "helm chart web (values-prod.yaml)"
    anchor: str  # real path that stands for the unit (Chart.yaml, kustomization.yaml)
    text: str  # the rendered YAML stream
    line_map: LineMap
    # real paths of every file the tool read to produce this unit: they are
    # not linted on their own
    consumed: Set[str] = field(default_factory=set)
    # said in every finding about this unit ("kustomize not installed: ...")
    assumptions: Tuple[str, ...] = ()


@record
class RenderProblem:
    """A unit that could not be rendered, or rendered only in part."""

    path: str  # real path
    line: int
    column: int
    message: str
    severity: str  # "error" (the input is broken) or "info" (a tool is missing)
    # real paths of files named on the command line that the unit reads (a
    # staged template): the problem is theirs too
    related: Tuple[str, ...] = ()
    # what somaxlint says of it, kept whole when the tool's message is cut
    note: str = ""


@record
class RenderResult:
    rendered: List[Rendered] = field(default_factory=list)
    problems: List[RenderProblem] = field(default_factory=list)
    consumed: Set[str] = field(default_factory=set)  # also when rendering failed
