"""Command line: `somaxlint [check] PATH...`, `somaxlint explain PATH...`,
`somaxlint rules [CODE]`.

Exit status: 0 no findings (at or above --fail-on), 1 findings or inputs
that could not be parsed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from linter import __version__

COMMANDS = ("check", "explain", "rules", "servers")
FORMATS = ("text", "json", "sarif", "github", "gitlab")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit status 2, argparse's convention too
        raise UsageError(message)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to lint; - reads standard input")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: nearest .somaxlint.yaml or [tool.somaxlint] in pyproject.toml)")
    parser.add_argument("--kernel", metavar="VERSION", help="Linux version of the nodes, e.g. 5.15 (overrides `kernel`)")
    parser.add_argument("--kubernetes", metavar="VERSION", help="Kubernetes version, e.g. 1.29 (overrides `kubernetes`)")
    parser.add_argument("--format", default="text", help="output format")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--max-file-size", type=int, metavar="BYTES", help="largest input file read (default 16 MiB)")
    parser.add_argument("--progress", action="store_true", help="show progress on stderr even when it is not a terminal")


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The command-line parser; with ``only``, just that subcommand's (a
    pre-commit hook runs on every commit: building all of them costs)."""
    parser = _Parser(prog="somaxlint", description="Find listen backlogs truncated by a pod's net.core.somaxconn.")
    parser.add_argument("--version", action="version", version=f"somaxlint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    if only in (None, "check"):
        _check_parser(sub)
    if only in (None, "explain"):
        explain = sub.add_parser("explain", help="show, per listening socket, how its accept queue limit is worked out")
        _common(explain)
    if only in (None, "rules"):
        rules = sub.add_parser("rules", help="list the rules, or show one rule's documentation")
        rules.add_argument("rule", nargs="?", help="rule code or name")
        rules.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    if only in (None, "servers"):
        servers = sub.add_parser("servers", help="list the servers somaxlint reads, with their default backlog and knob")
        servers.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    return parser


def _check_parser(sub) -> None:
    check = sub.add_parser("check", help="lint manifests and nginx configs (the default command)")
    _common(check)
    check.add_argument("--select", action="append", default=None, metavar="RULE", help="only these rules (code or name; repeatable, comma-separated)")
    check.add_argument("--ignore", action="append", default=[], metavar="RULE", help="skip these rules (code or name)")
    check.add_argument("--fail-on", choices=("info", "warning", "error"), default="info", help="lowest severity that makes the exit status 1 (default: info, any finding)")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    check.add_argument("--baseline", metavar="FILE", help="do not report findings recorded in FILE (see --write-baseline)")
    check.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE and exit 0")
    check.add_argument("--report-unused-suppressions", action="store_true", help="report suppressions that silence nothing (SMX014)")
    check.add_argument("--helm-chart-dir", metavar="DIR", help="chart directory: point findings in Helm-rendered input at its templates")
    check.add_argument("--context", action="append", default=[], metavar="PATH", help="also read PATH for cross-references, but report only findings that touch the PATHs named as arguments (pre-commit)")
    check.add_argument("--stdin-filename", metavar="NAME", help="path to report for standard input (SARIF never shows <stdin>)")


def _split(values: Optional[List[str]]) -> Optional[List[str]]:
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "check")
    # A run builds millions of long-lived objects and no reference cycles
    # (recursive YAML aliases are refused): the cyclic collector's repeated
    # passes over them cost about 40% of a large run and free nothing.
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        args = build_parser(argv[0] if argv[0] in COMMANDS else None).parse_args(argv)
        if args.command == "rules":
            return _rules(args)
        if args.command == "servers":
            from linter.servers import catalogue

            sys.stdout.write(catalogue(args.format))
            return 0
        return _lint(args)
    except UsageError as exc:
        sys.stderr.write(f"somaxlint: error: {exc}\n")
        return 2
    except BrokenPipeError:  # `somaxlint ... | head`
        return 1
    finally:
        if collecting:
            gc.enable()


def _settings(args):
    from linter.config import ConfigError, load_settings, parse_kubernetes, set_kernel

    cwd = os.getcwd()
    try:
        settings = load_settings(args.config, cwd)
        if args.kernel:
            set_kernel(settings, args.kernel)
        if args.kubernetes:
            settings.kubernetes = parse_kubernetes(args.kubernetes)
    except ConfigError as exc:
        raise UsageError(f"configuration: {exc}") from None
    if args.max_file_size:
        settings.max_file_bytes = args.max_file_size
    if getattr(args, "select", None) is not None:
        settings.select = _split(args.select)
    if getattr(args, "ignore", None):
        settings.ignore.extend(_split(args.ignore))
    for name in ("baseline", "helm_chart_dir", "stdin_filename"):
        if getattr(args, name, None):
            setattr(settings, name, getattr(args, name))
    if getattr(args, "context", None):
        settings.context = list(args.context)
    if getattr(args, "report_unused_suppressions", False):
        settings.report_unused_suppressions = True
    return settings


def _open_output(args):
    if args.output:
        return open(args.output, "w", encoding="utf-8", newline="\n")
    return sys.stdout


def _lint(args) -> int:
    from linter.discover import InputError
    from linter.engine import exit_status, run

    if args.command == "check" and args.format not in FORMATS:
        raise UsageError(f"--format: choose from {', '.join(FORMATS)}")
    if args.command == "explain" and args.format not in ("text", "json"):
        raise UsageError("--format: choose from text, json")
    settings = _settings(args)
    paths = args.paths or ["."]
    stdin_bytes = sys.stdin.buffer.read() if "-" in paths else None
    from linter.filtering import BaselineError, write_baseline

    progress = _Progress() if _Progress.wanted(args) else None
    try:
        result = run(paths, settings, os.getcwd(), stdin_bytes, progress)
    except (InputError, BaselineError) as exc:
        raise UsageError(str(exc)) from None
    finally:
        if progress is not None:
            progress.done()

    if getattr(args, "write_baseline", None):
        write_baseline(args.write_baseline, result.findings)
        sys.stderr.write(f"somaxlint: wrote {len(result.findings)} findings to the baseline {args.write_baseline}\n")
        return 0
    for entry in result.stale_baseline:
        sys.stderr.write(
            f"somaxlint: stale baseline entry {entry.get('rule', '?')} in {entry.get('path', '?')}: "
            f"no longer found ({_escape(str(entry.get('message', '')))[:200]})\n"
        )

    out = _open_output(args)
    try:
        if args.command == "explain":
            from linter.report import explain

            if args.format == "json":
                explain.write_json(result.model, out)
            else:
                explain.write_text(result.model, out)
            return 1 if any(f.rule == "SMX000" for f in result.findings) else 0
        if args.format == "json":
            from linter.report import json_report

            json_report.write(result.findings, result.summary, out)
        elif args.format == "sarif":
            from linter.report import sarif

            sarif.write(result, settings, out)
        elif args.format == "github":
            from linter.report import github

            github.write(result.findings, out)
        elif args.format == "gitlab":
            from linter.report import gitlab

            gitlab.write(result.findings, out)
        else:
            from linter.report import text

            colour = args.color == "always" or (
                args.color == "auto" and out is sys.stdout and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            )
            text.write(result.findings, out, colour)
            sys.stderr.write(_summary_line(result) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return exit_status(result.findings, args.fail_on)


class _Progress:
    """`read 1200/3000 files` on stderr, for long runs on a terminal only:
    never on stdout, never in CI logs (unless --progress asks for it)."""

    DELAY = 1.5  # seconds before the first line: short runs stay silent

    def __init__(self):
        import time

        self.clock = time.monotonic
        self.start = self.clock()
        self.shown = False
        self.last = 0.0

    @staticmethod
    def wanted(args) -> bool:
        if getattr(args, "progress", False):
            return True
        return sys.stderr.isatty() and not os.environ.get("CI")

    def __call__(self, number: int, total: int) -> None:
        now = self.clock()
        if now - self.start < self.DELAY or (now - self.last < 0.2 and number != total):
            return
        self.last = now
        self.shown = True
        sys.stderr.write(f"\rsomaxlint: read {number}/{total} files")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def _escape(text: str) -> str:
    from linter.report import escape_control

    return escape_control(text)


def _summary_line(result) -> str:
    counts = {}
    for f in result.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    found = ", ".join(f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning", "info") if s in counts)
    return f"somaxlint: {result.summary.text()}; {found or 'no findings'}"


def _rules(args) -> int:
    from linter import rulebook

    if args.rule:
        try:
            rule = rulebook.find_rule(args.rule)
        except KeyError:
            raise UsageError(f"unknown rule {args.rule!r} (see `somaxlint rules`)") from None
        sys.stdout.write(rulebook.render_rule(rule, args.format))
        return 0
    sys.stdout.write(rulebook.render_catalogue(args.format))
    return 0
