"""Regenerate the documentation that is generated from the code:

* docs/rules.md, one section per rule, from the rules' docstrings (the
  SARIF `helpUri` of each rule points at its section);
* the README's rule table (`somaxlint rules --format markdown`) and server
  table (`somaxlint servers --format markdown`), between their markers;
* the README's `explain --format json` example: the command's own output on
  the shipped example (`examples/incident`, Linux 4.19).

    python tools/generate_docs.py          # rewrite what drifted
    python tools/generate_docs.py --check  # exit 1 and name what drifted

tests/test_packaging.py and tests/test_recipes.py fail when any of these
drifts from the code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def expected():
    """{path relative to the repository: its generated content}."""
    from somaxlint.rulebook import DOCS_PATH, markdown_table, rules_document
    from somaxlint.servers import catalogue

    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for marker, table in (("rules-table", markdown_table()), ("servers-table", catalogue("markdown")), ("explain-example", explain_example())):
        pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md: no <!-- {marker}:start --> ... <!-- {marker}:end --> markers")
        readme = pattern.sub(lambda m: m.group(1) + table + m.group(2), readme)
    return {DOCS_PATH: rules_document(), "README.md": readme}


def explain_example() -> str:
    """`somaxlint explain --format json --kernel 4.19 examples/incident`, as
    the README shows it (run in this process, from the repository)."""
    import contextlib
    import io
    import json

    from somaxlint.cli import main as somaxlint

    out = io.StringIO()
    here = os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out):
            somaxlint(["explain", "--format", "json", "--kernel", "4.19", "examples/incident"])
    finally:
        os.chdir(here)
    document = json.loads(out.getvalue())
    return "```json\n" + json.dumps(document, indent=2) + "\n```\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file drifted")
    args = parser.parse_args(argv)
    drifted = []
    for name, text in expected().items():
        path = os.path.join(REPO, name)
        try:
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        drifted.append(name)
        if not args.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
    verb = "out of date" if args.check else "rewritten"
    for name in drifted:
        print(f"{name}: {verb}")
    return 1 if drifted and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
