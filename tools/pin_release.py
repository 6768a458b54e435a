"""Pin the README's recipes to a release commit.

Only main's commits are published (no tags), so a recipe names a release
by its commit, with the version beside it -- pre-commit's frozen form:

    rev: 0123...cdef  # frozen: v0.3.0

A release is two commits: the first sets the version (pyproject.toml,
linter/__init__.py); the second runs this on the first and commits the
README:

    python tools/pin_release.py COMMIT

It rewrites every `rev:`, `uses: somaxlint/somaxlint@` and `git+...@` pin
to COMMIT and the version comments to the version COMMIT's pyproject.toml
holds.  tests/test_recipes.py checks that the pins resolve in a clone of
the repository and name that version.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def version_at(commit: str) -> str:
    text = subprocess.run(["git", "show", f"{commit}:pyproject.toml"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def pin(readme: str, commit: str, version: str) -> str:
    tag = f"v{version}"
    readme = re.sub(r"^(\s*rev: )\S+(  # frozen: )\S+", rf"\g<1>{commit}\g<2>{tag}", readme, flags=re.M)
    readme = re.sub(r"(uses: somaxlint/somaxlint@)[0-9a-f]{40}(  # )v\S+", rf"\g<1>{commit}\g<2>{tag}", readme)
    readme = re.sub(r"(git\+https://github\.com/somaxlint/somaxlint@)[0-9a-f]{40}", rf"\g<1>{commit}", readme)
    readme = re.sub(r"(pinned to the release )v\S+( \(commit )[0-9a-f]{40}", rf"\g<1>{tag}\g<2>{commit}", readme)
    return readme


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python tools/pin_release.py COMMIT")
    commit = subprocess.run(["git", "rev-parse", f"{argv[0]}^{{commit}}"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    path = REPO / "README.md"
    path.write_text(pin(path.read_text(encoding="utf-8"), commit, version_at(commit)), encoding="utf-8")
    print(f"README.md: pinned to {commit} (v{version_at(commit)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
