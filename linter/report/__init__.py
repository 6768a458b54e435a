"""Stage 6: findings -> text for people and machines.  Reporters only
format; they never compute facts.  Heavy formats are imported on use."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_control(text: str) -> str:
    """Make terminal control characters (and bidi overrides) visible, so a
    message quoting file content can never drive the reader's terminal."""
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100 else "\\u%04x" % ord(m.group()), text)
