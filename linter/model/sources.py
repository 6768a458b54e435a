"""Where a piece of text came from, and how to map a position inside it back
to the input file: a standalone file maps one to one; an nginx config in a
ConfigMap's literal block scalar maps line for line, shifted by the header
line and the block's indentation; any other scalar style cannot be mapped
exactly and points at the start of the value.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Optional

from somaxlint.findings import Location


class TextSource:
    __slots__ = ("display", "text", "line0", "col0", "exact", "anchor", "label", "helm_source")

    def __init__(
        self,
        display: str,
        text: str,
        label: str,
        line0: int = 0,
        col0: int = 0,
        exact: bool = True,
        anchor: Optional[tuple] = None,
        helm_source: Optional[str] = None,
    ):
        self.display = display
        self.text = text
        self.label = label
        self.line0 = line0
        self.col0 = col0
        self.exact = exact
        self.anchor = anchor or (1, 1)
        self.helm_source = helm_source

    def locate(self, line: int, column: int) -> Location:
        if not self.exact:
            return Location(self.display, self.anchor[0], self.anchor[1], approximate=True)
        return Location(self.display, self.line0 + line, self.col0 + column)


def scalar_source(
    display: str,
    file_text: Optional[str],
    value: str,
    vpos: tuple,
    key_column: int,
    label: str,
    helm_source: Optional[str] = None,
) -> TextSource:
    """A TextSource for a YAML scalar value found at ``vpos``.

    For a literal block scalar (``|``, ``|-``, ``|+``, ``|2``) the content
    starts on the line after the header and is indented by the block's
    indentation, which is read from the file's own lines.
    """
    line, column, style = vpos
    anchor = (line, column)
    if style != "|" or file_text is None:
        return TextSource(display, value, label, exact=False, anchor=anchor, helm_source=helm_source)
    lines = file_text.split("\n")
    header = lines[line - 1][column - 1 :] if line - 1 < len(lines) else ""
    digits = [c for c in header.split("#", 1)[0] if c in "123456789"]
    if digits:
        indent = (key_column - 1) + int(digits[0])
    else:
        indent = None
        for text in lines[line:]:
            stripped = text.rstrip("\r")
            if stripped.strip():
                indent = len(stripped) - len(stripped.lstrip(" "))
                break
        if indent is None:
            indent = 0
    return TextSource(display, value, label, line0=line, col0=indent, exact=True, anchor=anchor, helm_source=helm_source)
