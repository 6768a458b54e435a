"""Text scanned with regular expressions costs time linear in its size.

Each case doubles a pathological input and compares the CPU time of the
scan (the least of several runs, so that a busy machine only inflates
both sides): a linear scan costs about 2x, a quadratic one 4x and a cubic
one 8x (the expressions these replaced took 8x: 1.4 s -> 12 s for an
800-space suppression comment, 3 s -> 11 s for 40,000 blank lines).
"""

from __future__ import annotations

import time

import pytest

from somaxlint.config import _TABLE
from somaxlint.filtering import _suppression_comment
from somaxlint.load import _helm_sources
from somaxlint.servers.nginx import looks_like_config
from somaxlint.units.helm_chart import _error_at


def _cost(fn, arg) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - start)
    return best


class _NoTemplates:
    def path(self, name):
        return None


CASES = {
    "suppression comment with runs of spaces": (
        _suppression_comment, lambda n: ("# somaxlint: ignore" + " " * n + "!") * 200,
    ),
    "nginx block marker after blank lines": (lambda text: looks_like_config("nginx.conf", text), lambda n: "\n" * (n * 2000) + "x"),
    "pyproject table marker after blank lines": (_TABLE.search, lambda n: b"\n" * (n * 1000) + b"x"),
    "helm source comment with trailing blanks": (
        lambda text: _helm_sources(text, []), lambda n: ("# Source: chart/templates/x.yaml" + " " * n + "y\n") * 4000,
    ),
    "helm error naming templates in one long word": (
        lambda text: _error_at(text, _NoTemplates(), "anchor"), lambda n: "a/templates/" * (n * 20),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_doubling_the_input_about_doubles_the_cost(name):
    fn, make = CASES[name]
    n = 1000
    small, large = make(n), make(2 * n)
    base = _cost(fn, small)
    assert base > 0.002, "input too small to measure"
    ratio = _cost(fn, large) / base
    assert ratio < 3.0, f"{name}: doubling the input multiplied the cost by {ratio:.1f}"
