"""Command line: `somaxlint [check] PATH...`, `somaxlint explain PATH...`,
`somaxlint rules [CODE]`, `somaxlint servers`, `somaxlint init`.

Exit status (the README's table):

  0    no findings (at or above --fail-on)
  1    findings at or above --fail-on, or inputs that could not be parsed
  2    usage, configuration or output error (one line on stderr)
  3    internal error: a bug in somaxlint (one line on stderr; the
       traceback too with SOMAXLINT_DEBUG=1)
  130  interrupted (Ctrl-C)
  141  standard output closed early (`somaxlint ... | head`): the status a
       shell reports for a program ended by SIGPIPE, and nothing on stderr
"""

from __future__ import annotations

import argparse
import os
import sys
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional

from somaxlint import __version__
from somaxlint.report import FORMATS

COMMANDS = ("check", "explain", "rules", "servers", "init")
EXPLAIN_FORMATS = ("text", "json")
MAX_FILE_SIZE_LIMIT = 1024 * 1024 * 1024  # 1 GiB: beyond it, a typo, not a manifest

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM (a CI job cancelled)
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE

# Under ``console``, what a run built (its result: model, loaded files) is
# held here until the process ends, so that returning from ``_lint`` does
# not free it object by object (about 0.1 s of a 3 s cold run of the
# benchmark corpus) just before the operating system frees it all at once.
# None in-process (tests): a run's result is freed as usual.
_HELD_UNTIL_EXIT: Optional[list] = None

_COMMANDS_EPILOG = """\
commands:
  somaxlint [check] [PATH ...]   lint (the default command; these options)
  somaxlint explain [PATH ...]   per listening socket, how its accept queue limit is worked out
  somaxlint rules [CODE|NAME]    the rule catalogue, or one rule's documentation
  somaxlint servers              the servers somaxlint reads, with their default backlog
  somaxlint init [--force]       write a commented .somaxlint.yaml to fill in

exit status: 0 clean, 1 findings, 2 usage/configuration/output error,
3 internal error, 130 interrupted, 141 standard output closed early
"""


class UsageError(Exception):
    pass


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job), handled as Ctrl-C is: the renderers
    are stopped, their temporary directories removed, no partial report."""


def _terminate(signum, frame):
    raise Terminated()


def _columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil
    (and the compression modules it imports) on every run: argparse makes a
    help formatter for every argument it adds."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _RawDescriptionFormatter(_Formatter, argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        if kwargs.get("formatter_class", argparse.HelpFormatter) is argparse.HelpFormatter:
            kwargs["formatter_class"] = _Formatter
        super().__init__(*args, **kwargs)

    def error(self, message):  # exit status 2, argparse's convention too
        raise UsageError(message + self._suggestion(message))

    def _suggestion(self, message: str) -> str:
        """`--formt` -> did you mean --format (ruff and git say so too)."""
        prefix = "unrecognized arguments: "
        if not message.startswith(prefix):
            return ""
        import difflib

        options = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        for word in message[len(prefix):].split():
            name = word.split("=", 1)[0]
            if name.startswith("--"):
                near = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
                if near:
                    return f" (did you mean {near[0]}?)"
        return ""


def _file_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes") from None
    if not 1 <= value <= MAX_FILE_SIZE_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} is out of range: give 1 to {MAX_FILE_SIZE_LIMIT} bytes (1 GiB)")
    return value


def _common(parser: argparse.ArgumentParser, formats) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to lint; - reads standard input")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: nearest .somaxlint.yaml or [tool.somaxlint] in pyproject.toml)")
    parser.add_argument(
        "--trusted-config", metavar="FILE",
        help="run on an untrusted tree (a pull request): the configuration is FILE, from outside the repository "
        "(e.g. the base branch's), read as if at its root; the tree's own configuration is not read, its "
        "suppressions apply only if FILE says inline_suppressions: true, charts and kustomizations render only in the sandbox",
    )
    parser.add_argument("--kernel", metavar="VERSION", help="Linux version of the nodes, e.g. 5.15 (overrides `kernel`)")
    parser.add_argument("--kubernetes", metavar="VERSION", help="Kubernetes version, e.g. 1.29 (overrides `kubernetes`)")
    parser.add_argument(
        "--format", action="append", choices=formats,
        help=f"output format (default: {formats[0]}); repeatable: the n-th --output is the n-th format's file, a format without one goes to standard output",
    )
    parser.add_argument(
        "--output", "-o", action="append", metavar="FILE",
        help="write the report to FILE (replaced only when complete; - is standard output); repeatable, one per --format",
    )
    parser.add_argument("--max-file-size", type=_file_size, metavar="BYTES", help="largest input file read (default 16 MiB, at most 1 GiB)")
    parser.add_argument("--progress", action="store_true", help="show progress on stderr even when it is not a terminal")
    parser.add_argument("--cache-dir", metavar="DIR", help="where loaded files are cached (default: $SOMAXLINT_CACHE_DIR, else .somaxlint_cache at the repository root)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache: parse every file")


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
        _common(explain, EXPLAIN_FORMATS)
    if only in (None, "rules"):
        rules = sub.add_parser("rules", help="list the rules, or show one rule's documentation")
        rules.add_argument("rule", nargs="?", help="rule code or name")
        rules.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    if only in (None, "servers"):
        servers = sub.add_parser("servers", help="list the servers somaxlint reads, with their default backlog and knob")
        servers.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    if only in (None, "init"):
        init = sub.add_parser("init", help="write a commented .somaxlint.yaml in the current directory")
        init.add_argument("--force", action="store_true", help="overwrite an existing .somaxlint.yaml")
    return parser


def _check_parser(sub) -> None:
    check = sub.add_parser(
        "check",
        prog="somaxlint [check]",
        help="lint manifests and nginx configs (the default command)",
        description="Lint Kubernetes manifests and nginx configs: find listen backlogs truncated\nby a pod's net.core.somaxconn.",
        epilog=_COMMANDS_EPILOG,
        formatter_class=_RawDescriptionFormatter,
    )
    check.add_argument("--version", action="version", version=f"somaxlint {__version__}")
    _common(check, FORMATS)
    check.add_argument("--select", action="append", default=None, metavar="RULE", help="only these rules (code or name; repeatable, comma-separated)")
    check.add_argument("--ignore", action="append", default=[], metavar="RULE", help="skip these rules (code or name)")
    check.add_argument("--fail-on", choices=("info", "warning", "error"), default="info", help="lowest severity that makes the exit status 1 (default: info, any finding)")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text report: auto (on a terminal, unless NO_COLOR is set), always, never")
    check.add_argument("--statistics", action="store_true", help="after the report, count findings per rule (stdout for text, stderr for other formats)")
    check.add_argument("--baseline", metavar="FILE", help="do not report findings recorded in FILE (see --write-baseline)")
    check.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE and exit 0")
    check.add_argument("--report-unused-suppressions", action="store_true", help="report suppressions that silence nothing (SMX014)")
    check.add_argument("--helm-chart-dir", metavar="DIR", help="chart directory: point findings in Helm-rendered input at its templates")
    check.add_argument("--context", action="append", default=[], metavar="PATH", help="also read PATH for cross-references, but report only findings that touch the PATHs named as arguments (pre-commit); replaces --default-context")
    check.add_argument("--default-context", action="append", default=[], metavar="PATH", help="the context when no --context is given (the pre-commit hook passes .)")
    check.add_argument("--stdin-filename", metavar="NAME", help="path shown for standard input (-) in every format, instead of <stdin>")
    check.add_argument("--sarif-category", metavar="NAME", help="SARIF runs[0].automationDetails.id NAME/ (default: none; GitHub's upload-sarif sets its category)")


def _split(values: Optional[List[str]]) -> Optional[List[str]]:
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _say(line: str) -> None:
    """One line on stderr; control characters (a newline in a path, in an
    exception's message) are made visible, so it stays one line."""
    from somaxlint.report import escape_control

    sys.stderr.write(escape_control(line) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] != "--version":
        argv.insert(0, "check")  # `somaxlint --help` is check's help, with the commands listed
    # A run builds millions of long-lived objects and no reference cycles
    # (recursive YAML aliases are refused): the cyclic collector's repeated
    # passes over them cost about 40% of a large run and free nothing.
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        status = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        records = sys.modules.get("somaxlint.records")  # (not imported by --version)
        if records is not None:
            records.save_compiled()  # the records' __init__ code, for the next run
        return status
    except SystemExit as exc:  # --help, --version
        sys.stdout.flush()
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        _say(f"somaxlint: error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # `somaxlint ... | head`: the reader has what it wanted
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as exc:
        _say("somaxlint: interrupted")
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("SOMAXLINT_DEBUG") == "1":
            import traceback

            traceback.print_exc(file=sys.stderr)
        message = str(exc)
        _say(f"somaxlint: internal error: {type(exc).__name__}" + (f": {message}" if message else ""))
        return EXIT_INTERNAL
    finally:
        if collecting:
            gc.enable()


def console() -> None:
    """The ``somaxlint`` command (the console script, ``python -m somaxlint``):
    ``main()``, then the process ends at once.  The report is flushed and
    every output file is complete by then; what is left -- freeing a run's
    millions of objects one by one, the interpreter's own teardown -- is
    work the operating system does for free when the process exits.  Tests
    call ``main()`` in-process and never come here."""
    global _HELD_UNTIL_EXIT
    _HELD_UNTIL_EXIT = []
    import gc

    # Off for good: ``main`` turns the collector back on only when it found
    # it on, and then the first allocation after it returns collected the
    # youngest generation -- every object of the run (none was ever
    # promoted), 0.3-0.5 s of a 3 s cold run of the benchmark corpus --
    # just before the process ends.
    gc.disable()
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            if stream is sys.stdout and status != EXIT_INTERNAL:
                status = EXIT_BROKEN_PIPE
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(status if isinstance(status, int) else EXIT_INTERNAL)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final
    flush cannot fail again (the Python documentation's recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # not a real file (tests)
        pass


def _parse(argv: List[str]):
    """The command line, options and paths in any order (`somaxlint a
    --format json b`): the subcommand's own parser reads the words after
    it intermixed (argparse cannot with subparsers)."""
    command = argv[0] if argv[0] in COMMANDS else None
    parser = build_parser(command)
    if command is None:
        return parser.parse_args(argv)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    if command in ("check", "explain") and "--help" not in argv and "-h" not in argv and "--version" not in argv:
        args = sub.parse_intermixed_args(argv[1:])
    else:
        args = sub.parse_args(argv[1:])
    args.command = command
    return args


def _main(argv: List[str]) -> int:
    from somaxlint.report import OutputError

    args = _parse(argv)
    try:
        if args.command == "rules":
            return _rules(args)
        if args.command == "servers":
            from somaxlint.servers import catalogue

            sys.stdout.write(catalogue(args.format))
            return EXIT_CLEAN
        if args.command == "init":
            return _init(args)
        return _lint(args)
    except OutputError as exc:
        raise UsageError(str(exc)) from None


def _settings(args):
    from somaxlint.config import ConfigError, load_settings, parse_kubernetes, set_kernel

    cwd = os.getcwd()
    if args.config and args.trusted_config:
        raise UsageError("--config and --trusted-config exclude each other (--trusted-config is the configuration)")
    try:
        settings = load_settings(args.config, cwd, trusted=args.trusted_config)
        if args.kernel:
            set_kernel(settings, args.kernel)
        if args.kubernetes:
            settings.kubernetes = parse_kubernetes(args.kubernetes)
    except ConfigError as exc:
        raise UsageError(f"configuration: {exc}") from None
    if args.max_file_size is not None:
        settings.max_file_bytes = args.max_file_size
    select = _split(getattr(args, "select", None))
    ignore = _split(getattr(args, "ignore", None)) or []
    if select is not None or ignore:
        from somaxlint.rulebook import is_known, unknown_rule

        for option, idents in (("--select", select or ()), ("--ignore", ignore)):
            for ident in idents:
                if not is_known(ident):
                    raise UsageError(f"{option}: {unknown_rule(ident)}")
    if select is not None:
        settings.select = select
    settings.ignore.extend(ignore)
    settings.config_explicit = bool(args.config)
    settings.flags = {"kernel": args.kernel, "kubernetes": args.kubernetes, "select": select, "ignore": list(ignore)}
    for name in ("baseline", "helm_chart_dir", "stdin_filename"):
        if getattr(args, name, None):
            setattr(settings, name, getattr(args, name))
    # A --context replaces the default context instead of adding to it:
    # the pre-commit hook's entry says `--default-context .`, and a user's
    # `args: [--context, deploy/]` narrows the context to deploy/.
    context = getattr(args, "context", None) or getattr(args, "default_context", None)
    if context:
        settings.context = list(context)
    if getattr(args, "report_unused_suppressions", False):
        settings.report_unused_suppressions = True
    return settings


def _check_arguments(args, paths: List[str]) -> None:
    """Options that name things which must exist, checked before any work."""
    stdin_filename = getattr(args, "stdin_filename", None)
    if stdin_filename is not None:
        if not stdin_filename:
            raise UsageError("--stdin-filename: the name is empty")
        if "-" not in paths:
            raise UsageError("--stdin-filename names standard input, but no PATH is - (add - to read standard input)")
    chart = getattr(args, "helm_chart_dir", None)
    if chart is not None and not os.path.isdir(chart):
        reason = "not a directory" if os.path.exists(chart) else "no such directory"
        raise UsageError(f"--helm-chart-dir {chart}: {reason}")
    for option in ("context", "default_context"):
        for path in getattr(args, option, None) or ():
            if path != "-" and not os.path.lexists(path):
                raise UsageError(f"--{option.replace('_', '-')} {path}: no such file or directory")
    category = getattr(args, "sarif_category", None)
    if category is not None:
        if "sarif" not in getattr(args, "formats", [args.format]):
            raise UsageError(f"--sarif-category applies to --format sarif only (the format is {args.format})")
        if not category.strip("/"):
            raise UsageError("--sarif-category: the name is empty")


def _own_files(settings, args) -> None:
    """somaxlint's own files, which a walk of the repository reaches (a
    `.somaxlint.yaml`, the baseline, a report written there): skipped as
    what they are, never read as manifests."""
    own = {
        settings.config_path: "somaxlint's configuration",
        settings.baseline: "somaxlint's baseline",
        getattr(args, "write_baseline", None): "somaxlint's baseline",
    }
    for _fmt, path in getattr(args, "reports", ()):
        if path != "-":
            own[path] = "somaxlint's report"
    settings.own_files = {os.path.realpath(path): what for path, what in own.items() if path}
    for ignored in settings.untrusted_configs:
        settings.own_files[os.path.realpath(ignored)] = "somaxlint's configuration (not read under --trusted-config)"


def _command_hint(paths: List[str]) -> str:
    """`somaxlint chek sub`: the first path is no file and looks like a
    command's name."""
    import difflib

    if paths and not os.path.lexists(paths[0]):
        near = difflib.get_close_matches(paths[0], COMMANDS, n=1, cutoff=0.6)
        if near:
            return f" (did you mean the command `somaxlint {near[0]}`?)"
    return ""


def _reports(args) -> List[tuple]:
    """(format, output path) of every report the run writes: the n-th
    --output is the n-th --format's file; the formats left over go to
    standard output, which only one may take."""
    formats = list(args.format or [EXPLAIN_FORMATS[0] if args.command == "explain" else FORMATS[0]])
    outputs = list(args.output or [])
    if len(outputs) > len(formats):
        raise UsageError(f"{len(outputs)} --output for {len(formats)} --format: give each --output its --format")
    pairs = [(fmt, outputs[i] if i < len(outputs) else "-") for i, fmt in enumerate(formats)]
    on_stdout = [fmt for fmt, path in pairs if path == "-"]
    if len(on_stdout) > 1:
        raise UsageError(f"--format {' and '.join(on_stdout)} would both go to standard output: give all but one an --output FILE")
    if args.command == "explain" and len(pairs) > 1:
        raise UsageError("explain writes one report: give one --format")
    return pairs


def _lint(args) -> int:
    from somaxlint.config import ConfigError
    from somaxlint.discover import InputError, repository_root
    from somaxlint.engine import run
    from somaxlint.filtering import BaselineError, apply_baseline, dump_baseline, read_baseline
    from somaxlint.report import Output

    reports = args.reports = _reports(args)
    args.format = reports[0][0]  # the main format: the summary line, --sarif-category
    args.formats = [fmt for fmt, _ in reports]
    args.output = reports[0][1] if reports[0][1] != "-" else None
    settings = _settings(args)
    paths = args.paths or ["."]
    _check_arguments(args, paths)
    for ignored in settings.untrusted_configs:
        _say(f"somaxlint: trusted mode: {os.path.relpath(ignored, os.getcwd())} is not read (the configuration is --trusted-config)")
    cwd = os.getcwd()
    # Every machine-read path (JSON, GitHub, GitLab, SARIF, baselines,
    # fingerprints) is relative to this root, wherever somaxlint runs from.
    root = repository_root(paths, settings.config_path, cwd, settings.stdin_filename)
    _own_files(settings, args)
    # The baseline is read now (a bad one fails before the run) and applied
    # to what the run found.
    baseline_entries = None
    if settings.baseline:
        from somaxlint.discover import _under, confined

        refusal = confined(settings.baseline, root)
        if refusal is not None:
            raise UsageError(refusal)
        if settings.trusted and _under(os.path.realpath(settings.baseline), [os.path.realpath(root)]):
            raise UsageError(
                f"--baseline {settings.baseline}: under --trusted-config the baseline must come from outside "
                "the repository under review too (a pull request could add its own findings to it)"
            )
        try:
            baseline_entries = read_baseline(settings.baseline)
        except BaselineError as exc:
            raise UsageError(str(exc)) from None
        settings.baseline = None
    write_baseline = getattr(args, "write_baseline", None)
    # Opened before the run: an unwritable path is an error at once.
    outs = [(None, Output(write_baseline, "--write-baseline"))] if write_baseline else []
    try:
        for fmt, path in ([] if write_baseline else reports):
            outs.append((fmt, Output(path)))
    except BaseException:
        for _fmt, opened in outs:
            opened.abort()
        raise
    out = outs[0][1]
    try:
        stdin_bytes = sys.stdin.buffer.read() if "-" in paths else None
        progress = _Progress() if _Progress.wanted(args) else None
        cache = _cache(args, root)
        try:
            result = run(paths, settings, cwd, stdin_bytes, progress, root=root, cache=cache)
            if _HELD_UNTIL_EXIT is not None:
                _HELD_UNTIL_EXIT.append(result)
        except (InputError, BaselineError) as exc:
            raise UsageError(str(exc) + _command_hint(paths)) from None
        except ConfigError as exc:  # a sub-project's configuration (somaxlint.projects)
            raise UsageError(f"configuration: {exc}") from None
        finally:
            if progress is not None:
                progress.done()
        if args.command == "check" and settings.inline_suppressions is not False:
            _refuse_unknown_suppressions(result, cwd)
        if baseline_entries is not None:
            before = len(result.findings)
            result.findings, result.stale_baseline = apply_baseline(result.findings, baseline_entries)
            result.baselined = before - len(result.findings)
        nothing = result.summary.files == 0

        if write_baseline:
            dump_baseline(result.findings, out.handle)
            out.commit()
            _say(f"somaxlint: wrote {len(result.findings)} findings to the baseline {write_baseline}")
            if nothing:
                _say(NOTHING_TO_LINT)
            if cache is not None:
                cache.finish()
            return EXIT_CLEAN
        for entry in result.stale_baseline:
            _say(
                f"somaxlint: stale baseline entry {entry.get('rule', '?')} in {entry.get('path', '?')}: "
                f"no longer found ({_escape(str(entry.get('message', '')))[:200]})"
            )
        for fmt, each in outs:
            status = _report(args, result, settings, each, cwd, fmt)
        for _fmt, each in outs:
            each.commit()
    except BaseException:
        for _fmt, each in outs:
            each.abort()  # no partial report; an existing file stays as it was
        raise
    for note in result.notes:
        _say(f"somaxlint: {note}")
    if args.command == "check" and "text" in args.formats:
        _say(_summary_line(result))
    if args.command == "check" and args.statistics and "text" not in args.formats:
        sys.stderr.write(_statistics(result.findings))
    if nothing:
        _say(NOTHING_TO_LINT)
    if cache is not None:
        cache.finish()  # the size bound, once the report is out
        if cache.refused:
            _say(f"somaxlint: {cache.refused}")
    return status


def _cache(args, root: str):
    """The loading cache of this run (``somaxlint.cache``), or None with
    ``--no-cache``."""
    if args.no_cache:
        return None
    from somaxlint.cache import DEFAULT_MAX_BYTES, Cache, default_directory

    if args.trusted_config and not (args.cache_dir or os.environ.get("SOMAXLINT_CACHE_DIR")):
        return None  # the tree's own .somaxlint_cache is part of what is under review
    directory = args.cache_dir or default_directory(root)
    max_bytes = DEFAULT_MAX_BYTES
    limit = os.environ.get("SOMAXLINT_CACHE_MAX_MB")
    if limit:
        try:
            max_bytes = max(0, int(float(limit) * 1024 * 1024))
        except ValueError:
            raise UsageError(f"SOMAXLINT_CACHE_MAX_MB={limit!r} is not a number of MiB") from None
    return Cache(directory, max_bytes)


NOTHING_TO_LINT = "somaxlint: nothing to lint: no Kubernetes manifest, CNI configuration or nginx config in the input"


def _report(args, result, settings, out, cwd: str, fmt: str) -> int:
    from somaxlint.engine import exit_status

    handle = out.handle
    if args.command == "explain":
        from somaxlint.report import explain

        if fmt == "json":
            explain.write_json(result.model, handle)
        else:
            explain.write_text(result.model, handle)
        return EXIT_FINDINGS if any(f.rule == "SMX000" for f in result.findings) else EXIT_CLEAN
    if fmt == "json":
        from somaxlint.report import json_report

        json_report.write(result.findings, result.summary, handle)
    elif fmt == "sarif":
        from somaxlint.report import sarif

        for note in sarif.write(result, settings, handle, category=args.sarif_category):
            _say(f"somaxlint: {note}")
    elif fmt == "github":
        from somaxlint.report import github

        github.write(result.findings, handle)
    elif fmt == "gitlab":
        from somaxlint.report import gitlab

        gitlab.write(result.findings, handle)
    else:
        from somaxlint.report import text

        colour = args.color == "always" or (
            args.color == "auto" and out.is_stdout and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        )
        from somaxlint.discover import for_people

        text.write(result.findings, handle, colour, shown=lambda path: for_people(path, result.root, cwd))
        if args.statistics:
            handle.write(_statistics(result.findings))
    return exit_status(result.findings, args.fail_on)


def _statistics(findings) -> str:
    """`--statistics`: per rule with findings, `count<TAB>code<TAB>name`,
    most frequent first (then by code), like ruff's."""
    counts = {}
    for f in findings:
        counts[(f.rule, f.name)] = counts.get((f.rule, f.name), 0) + 1
    if not counts:
        return ""
    width = len(str(max(counts.values())))
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    return "".join(f"{count:>{width}}\t{code}\t{name}\n" for (code, name), count in rows)


def _refuse_unknown_suppressions(result, cwd: str) -> None:
    """A suppression naming no rule that exists is an error (exit status 2),
    with where it is: a typo there must never make CI green."""
    from somaxlint.filtering import unknown_suppressed_rules
    from somaxlint.rulebook import unknown_rule

    unknown = unknown_suppressed_rules(result.files, result.model.inventory)
    if result.focus is not None:  # with a context, the files named are judged
        unknown = [u for u in unknown if u[0].path in result.focus]
    if not unknown:
        return
    from somaxlint.discover import for_people

    location, ident, what = unknown[0]
    where = f"{for_people(location.path, result.root, cwd)}:{location.line}:{location.column}"
    more = f"; and {len(unknown) - 1} more" if len(unknown) > 1 else ""
    raise UsageError(f"{where}: {what}: {unknown_rule(ident)}{more}")


def _init(args) -> int:
    from somaxlint.config import CONFIG_NAMES, INIT_TEMPLATE
    from somaxlint.report import Output

    existing = [name for name in CONFIG_NAMES if os.path.lexists(name)]
    if existing and not args.force:
        raise UsageError(f"{existing[0]} already exists in this directory (--force overwrites .somaxlint.yaml)")
    out = Output(CONFIG_NAMES[0], "init:")
    try:
        out.handle.write(INIT_TEMPLATE)
        out.commit()
    except BaseException:
        out.abort()
        raise
    _say(f"somaxlint: wrote {CONFIG_NAMES[0]}: uncomment and fill in what you know about your cluster")
    return EXIT_CLEAN


class _Progress:
    """`somaxlint: reading 1200/3000 files`, then `rendering charts and
    kustomizations`, `modelling`, `checking`, on one line of stderr that
    is cleared when the run ends; for long runs on a terminal only: never
    on stdout, never in CI logs (unless --progress asks for it)."""

    DELAY = 1.5  # seconds before the first line: short runs stay silent

    def __init__(self):
        import time

        self.clock = time.monotonic
        self.start = self.clock()
        self.shown = False
        self.last = 0.0
        self.width = 0

    @staticmethod
    def wanted(args) -> bool:
        if getattr(args, "progress", False):
            return True
        return sys.stderr.isatty() and not os.environ.get("CI")

    def _show(self, text: str) -> None:
        line = f"somaxlint: {text}"
        sys.stderr.write("\r" + line + " " * max(0, self.width - len(line)))
        sys.stderr.flush()
        self.width = len(line)
        self.shown = True

    def __call__(self, number: int, total: int) -> None:
        now = self.clock()
        if now - self.start < self.DELAY or (now - self.last < 0.2 and number != total):
            return
        self.last = now
        self._show(f"reading {number}/{total} files")

    def stage(self, text: str) -> None:
        """A stage begins (``rendering charts and kustomizations``,
        ``modelling``, ``checking``): shown once the run is long."""
        if self.clock() - self.start >= self.DELAY:
            self._show(text)

    def done(self) -> None:
        if self.shown:
            # the line is cleared: what follows (the summary) starts clean
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def _escape(text: str) -> str:
    from somaxlint.report import escape_control

    return escape_control(text)


def _summary_line(result) -> str:
    counts = {}
    for f in result.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    found = ", ".join(f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning", "info") if s in counts)
    # what was found but is not shown, so a clean report says what it hides
    hidden = []
    if result.suppressed:
        hidden.append(f"{result.suppressed} suppressed")
    if getattr(result, "baselined", 0):
        hidden.append(f"{result.baselined} in the baseline")
    return f"somaxlint: {result.summary.text()}; {found or 'no findings'}" + (f" ({', '.join(hidden)})" if hidden else "")


def _rules(args) -> int:
    from somaxlint import rulebook

    if args.rule:
        try:
            rule = rulebook.find_rule(args.rule)
        except KeyError:
            raise UsageError(rulebook.unknown_rule(args.rule)) from None
        sys.stdout.write(rulebook.render_rule(rule, args.format))
        return EXIT_CLEAN
    sys.stdout.write(rulebook.render_catalogue(args.format))
    return EXIT_CLEAN
