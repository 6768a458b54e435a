"""`path:line:column: CODE [severity] message`, one finding a line; paths
relative to the current directory (the machine-read formats use the
repository root)."""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, List, Optional, TextIO

from somaxlint.findings import Finding
from somaxlint.report import escape_control

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"
_BOLD = "\033[1m"


def write(findings: List[Finding], out: TextIO, colour: bool, shown: Optional[Callable[[str], str]] = None) -> None:
    """``shown`` turns a finding's path (relative to the repository root)
    into the one printed: the command line prints it relative to the
    current directory."""
    shown = shown or (lambda path: path)

    def where_of(loc) -> str:
        return escape_control(f"{shown(loc.path)}:{loc.line}:{loc.column}")

    for f in findings:
        where = where_of(f.location)
        severity = f"[{f.severity}]"
        if colour:
            where = f"{_BOLD}{where}{_RESET}"
            severity = f"{_COLOURS.get(f.severity, '')}{severity}{_RESET}"
        line = f"{where}: {f.rule} {severity} {escape_control(f.message)}"
        if f.location.approximate and "not literal in the source" not in f.message:
            line += " (position of the enclosing YAML value: the config is not a literal block scalar)"
        out.write(line + "\n")
        for related in f.related:
            out.write(f"    {where_of(related.location)}: {escape_control(related.label)}\n")
