"""Reading `.somaxlint.yaml` / `[tool.somaxlint]` into Settings.

Validated against the schema shipped in the package; a bad file is a
configuration error (exit status 2) naming the file, the key and what was
expected.  Nothing in a configuration file is ever executed.
"""

from __future__ import annotations

import os
import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Optional, Tuple

from somaxlint.facts import parse_kernel_version
from somaxlint.patterns import LazyPattern
from somaxlint.settings import ServerLink, Settings

CONFIG_NAMES = (".somaxlint.yaml", ".somaxlint.yml")
_TABLE = LazyPattern(rb"(?m)^[ \t]*\[+[ \t]*tool\.somaxlint[ \t]*[\].]")


class ConfigError(Exception):
    pass


def find_config(start: str) -> Optional[str]:
    """The nearest .somaxlint.yaml, or pyproject.toml with [tool.somaxlint],
    from ``start`` upward.  A candidate that is a symlink leading out of
    its repository (or, outside any, out of its directory) is never read:
    a .somaxlint.yaml is then a configuration error naming it (not where it
    leads), a pyproject.toml is passed over."""
    directory = os.path.abspath(start)
    while True:
        found = config_in(directory)
        if found is not None:
            return found
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def config_in(directory: str) -> Optional[str]:
    """The configuration file of ``directory`` itself, if it has one (see
    ``find_config``)."""
    for name in CONFIG_NAMES:
        candidate = os.path.join(directory, name)
        if os.path.lexists(candidate):
            refuse_outside(candidate)
            if os.path.isfile(candidate) or (os.path.exists(candidate) and not os.path.isdir(candidate)):
                # a FIFO or device there is an error naming it, not
                # passed over (read_config says why)
                return candidate
    pyproject = os.path.join(directory, "pyproject.toml")
    if os.path.exists(pyproject) and not os.path.isdir(pyproject) and _stays(pyproject) and _pyproject_section(pyproject) is not None:
        return pyproject
    return None


def _stays(path: str) -> bool:
    """Whether ``path`` resolves, through any symlink, to a place under its
    repository (the git top level above it), else under its directory."""
    from somaxlint.discover import _git_top, within

    directory = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    boundary = _git_top(directory) or directory
    return within(path, [os.path.realpath(boundary)])


def refuse_outside(path: str) -> None:
    """A configuration file that leads out of its repository is an error
    that names it, never its target nor anything in it."""
    if not _stays(path):
        raise ConfigError(
            f"{path}: a symlink that leads outside the repository (or directory) holding it; "
            "somaxlint does not read it (put the file itself there)"
        )


# A configuration file larger than this is refused (exit 2), not read.
MAX_CONFIG_BYTES = 1024 * 1024


def _read_config_file(path: str) -> bytes:
    """The file's bytes; ConfigError when it is no regular file (a FIFO
    there would block the run) or larger than MAX_CONFIG_BYTES."""
    from somaxlint.discover import read_regular_file

    try:
        return read_regular_file(path, MAX_CONFIG_BYTES)
    except ValueError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def _pyproject_section(path: str, explicit: bool = False):
    """The [tool.somaxlint] table, or None when there is none.  A file that
    has the table (or was named by --config) but is not valid TOML is a
    configuration error: never silently linted without its settings."""
    try:
        raw = _read_config_file(path)
    except OSError as exc:
        if explicit:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        return None
    if not explicit and not _TABLE.search(raw):
        return None  # most pyproject.toml files: no TOML parser needed
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply to read") from None
    section = data.get("tool", {}).get("somaxlint") if isinstance(data.get("tool"), dict) else None
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{path}: tool.somaxlint must be a table")
    return section


# Keys whose values are versions: YAML reads an unquoted 5.10 as the number
# 5.1, so the text is taken from the source instead.
_VERSION_KEYS = ("kernel", "kubernetes")
_PLAIN_TOKEN = LazyPattern(r"[^\s,#\]}]+")


def _version_text(root, key: str, lines) -> None:
    """Replace a version written as an unquoted number (``kernel: 5.10``,
    loaded as 5.1) by the text written in the file ("5.10")."""
    from somaxlint.load.yaml_stream import resolve_plain

    value = root.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    line, column, style = root.vpos.get(key, (0, 0, None))
    if style != "" or not 1 <= line <= len(lines):
        return
    match = _PLAIN_TOKEN.match(lines[line - 1], column - 1)
    if match and resolve_plain(match.group()) == value:
        root[key] = match.group()


def read_config(path: str, explicit: bool = False) -> dict:
    if path.endswith(".toml"):
        section = _pyproject_section(path, explicit)
        if section is None:
            raise ConfigError(f"{path}: no [tool.somaxlint] table")
        for key in _VERSION_KEYS:
            value = section.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                example = "5.10" if key == "kernel" else "1.30"
                raise ConfigError(
                    f"{path}: key {key!r}: {value!r} is a number, not a version (TOML reads {example} as "
                    f'{float(example)}): write it as a string, e.g. {key} = "{example}"'
                )
        return section
    from somaxlint.load.yaml_stream import load_yaml
    from somaxlint.load.positioned import YMap, YSeq

    try:
        text = _read_config_file(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    documents, errors = load_yaml(text)
    if errors:
        e = errors[0]
        raise ConfigError(f"{path}:{e.line}:{e.column}: invalid YAML: {e.message}")
    if not documents or documents[0].root is None:
        return {}
    root = documents[0].root
    if isinstance(root, YMap):
        lines = text.splitlines()
        for key in _VERSION_KEYS:
            _version_text(root, key, lines)

    def plain(value):
        if isinstance(value, YMap):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, YSeq):
            return [plain(v) for v in value]
        return value

    return plain(root)


def validate(data, path: str) -> None:
    import json
    from importlib import resources

    schema = json.loads(resources.files("somaxlint").joinpath("schemas/config.schema.json").read_text("utf-8"))
    if _conforms(data, schema) is True:
        _known_rules(data, path)
        return
    # jsonschema says what is wrong (and decides any case the check above
    # does not know): imported only then, it is a tenth of a hook's run
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        key, message = _describe(errors[0])
        raise ConfigError(f"{path}: key {key!r}: {message}")
    _known_rules(data, path)


# The JSON-schema keywords ``_conforms`` knows; a schema with any other is
# left to jsonschema whole.
_KEYWORDS = frozenset(("$schema", "title", "description", "type", "properties", "additionalProperties", "enum",
                       "items", "minimum", "maximum", "minLength", "pattern", "oneOf", "required"))


def _conforms(value, schema):
    """True when ``value`` conforms to ``schema`` (the subset of draft 7
    the shipped schema uses), False when it does not, None when the schema
    holds a keyword this does not know.  A fast path only: a False or None
    is always handed to jsonschema, whose verdict and words are the ones
    reported."""
    if schema is True:
        return True
    if not isinstance(schema, dict) or not set(schema) <= _KEYWORDS:
        return None
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            return False
    if "enum" in schema and not any(value == e and type(value) is type(e) for e in schema["enum"]):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return False
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return False
    if isinstance(value, dict):
        if any(k not in value for k in schema.get("required", ())):
            return False
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if not isinstance(key, str):
                return False
            sub = props.get(key, extra)
            if sub is False:
                return False
            verdict = _conforms(item, sub)
            if verdict is not True:
                return verdict
    if isinstance(value, list) and "items" in schema:
        for item in value:
            verdict = _conforms(item, schema["items"])
            if verdict is not True:
                return verdict
    if "oneOf" in schema:
        verdicts = [_conforms(value, branch) for branch in schema["oneOf"]]
        if None in verdicts:
            return None
        if verdicts.count(True) != 1:
            return False
    return True


def _known_rules(data, path: str) -> None:
    from somaxlint.rulebook import find_rule, is_known, unknown_rule

    for ident, value in (data.get("rules") or {}).items():
        if not is_known(str(ident)):
            raise ConfigError(f"{path}: key 'rules.{ident}': {unknown_rule(str(ident))}")
        if isinstance(value, dict) and "min_queue" in value and find_rule(str(ident)).code != "SMX027":
            raise ConfigError(f"{path}: key 'rules.{ident}.min_queue': only SMX027 (queue-too-small) takes min_queue")


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


_TYPE_NAMES = {"string": "a string", "integer": "an integer", "boolean": "true or false", "array": "a list", "object": "a mapping", "number": "a number"}
_JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict, "number": (int, float)}


def _is_type(value, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _JSON_TYPES.get(name, object))


def _expected(schema: dict) -> str:
    """What a (sub)schema accepts, in words."""
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if schema.get("type") == "object" and schema.get("properties"):
        return "a mapping with " + ", ".join(schema["properties"])
    types = schema.get("type")
    types = types if isinstance(types, list) else [types] if types else []
    return " or ".join(_TYPE_NAMES.get(t, t) for t in types) or "valid"


def _describe(error):
    """(key, message) for a schema error, listing the allowed values or keys
    where the schema has a list of them."""
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator in ("oneOf", "anyOf"):
        # The branch of the instance's own type says what is wrong in it.
        branches = error.validator_value
        for number, branch in enumerate(branches):
            types = branch.get("type")
            types = types if isinstance(types, list) else [types] if types else []
            if any(_is_type(instance, t) for t in types):
                inner = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == number]
                if inner:
                    return _describe(sorted(inner, key=lambda e: len(e.absolute_path))[0])
        return _key(path), f"{instance!r} must be " + ", or ".join(_expected(b) for b in branches)
    if error.validator == "enum":
        return _key(path), f"{instance!r} must be one of " + ", ".join(map(str, error.validator_value))
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        import difflib

        allowed = list(error.schema.get("properties", {}))
        extra = next((str(k) for k in instance if k not in allowed), "?")
        near = difflib.get_close_matches(extra, allowed, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return _key(path + [extra]), f"unknown key{hint}; allowed keys: {', '.join(allowed)}"
    if error.validator == "type" and path and path[-1] in _VERSION_KEYS and len(path) == 1 and isinstance(instance, (int, float)):
        return _key(path), f'{instance!r} is a number, not a version: quote it, e.g. {path[-1]}: "{instance}"'
    if error.validator == "pattern" and error.schema.get("description"):
        return _key(path), f"{instance!r} is not valid here: expected {error.schema['description']}"
    if error.validator == "type":
        return _key(path), f"{instance!r} must be {_expected(error.schema)}"
    return _key(path), error.message


def apply(data: dict, path: str, settings: Settings, base: Optional[str] = None) -> None:
    """``base``: the directory relative paths are read from (default: the
    file's own; a trusted configuration stands at the repository root)."""
    settings.config_path = path
    if "inline_suppressions" in data:
        settings.inline_suppressions = bool(data["inline_suppressions"])
    if "kernel" in data:
        set_kernel(settings, data["kernel"])
    if "kubernetes" in data:
        settings.kubernetes = parse_kubernetes(data["kubernetes"])
    version = (data.get("nginx") or {}).get("version")
    if version:
        settings.nginx_version = tuple(int(p) for p in (version.split(".") + ["0"])[:3])
    kubelet = data.get("kubelet") or {}
    if "allowedUnsafeSysctls" in kubelet:
        settings.allowed_unsafe_sysctls = list(kubelet["allowedUnsafeSysctls"])
        settings.allowed_unsafe_source = f"kubelet.allowedUnsafeSysctls in {path}"
    node = data.get("node") or {}
    settings.node_sysctls = {k: str(v) for k, v in (node.get("sysctls") or {}).items()}
    base = base or os.path.dirname(os.path.abspath(path))
    settings.servers = [
        ServerLink(os.path.join(base, s["path"]), s["workload"], s.get("container")) for s in data.get("servers") or []
    ]
    default = (data.get("cni") or {}).get("default") or ()
    if isinstance(default, str):
        default = (default,)
    settings.cni_default = tuple(os.path.realpath(os.path.join(base, p)) for p in default)
    for chart, how in ((data.get("helm") or {}).get("charts") or {}).items():
        real = os.path.realpath(os.path.join(base, chart))
        if how.get("values"):
            settings.helm_values[real] = [list(s) for s in how["values"]]
        if how.get("release"):
            settings.helm_release[real] = how["release"]
    for ident, value in (data.get("rules") or {}).items():
        if value is False or value == "off" or (isinstance(value, dict) and value.get("enabled") is False):
            settings.ignore.append(ident)
        severity = value if isinstance(value, str) and value != "off" else (value.get("severity") if isinstance(value, dict) else None)
        if severity:
            settings.severity[ident.upper() if ident.upper().startswith("SMX") else ident] = severity
        if isinstance(value, dict) and "min_queue" in value:
            settings.rule_options.setdefault("SMX027", {})["min_queue"] = value["min_queue"]
    settings.exclude = tuple(data.get("exclude") or ())
    limits = data.get("limits") or {}
    settings.max_file_bytes = limits.get("max_file_size", settings.max_file_bytes)
    settings.max_include_files = limits.get("max_include_files", settings.max_include_files)
    settings.max_include_depth = limits.get("max_include_depth", settings.max_include_depth)


def set_kernel(settings: Settings, text: str) -> None:
    version = parse_kernel_version(text)
    if version is None:
        raise ConfigError(f"kernel: {text!r} is not a Linux version (expected e.g. 5.15 or 4.19.0-21-amd64)")
    settings.kernel = version
    settings.kernel_text = str(text).strip()


def parse_kubernetes(text: str) -> Tuple[int, int]:
    parts = str(text).lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise ConfigError(f"kubernetes: {text!r} is not a Kubernetes version (expected e.g. 1.29)") from None


def load_settings(explicit: Optional[str], cwd: str, trusted: Optional[str] = None) -> Settings:
    """The settings of a run: from ``explicit`` (--config), else the
    nearest configuration file above ``cwd``; with ``trusted``
    (--trusted-config) from that file alone, which must lie outside the
    repository under review and is read as if it stood at its root."""
    if trusted is not None:
        return _trusted_settings(trusted, cwd)
    settings = Settings()
    path = explicit or find_config(cwd)
    if path is None:
        return settings
    if explicit and os.path.lexists(explicit):
        refuse_outside(explicit)
    if explicit and (not os.path.exists(explicit) or os.path.isdir(explicit)):
        raise ConfigError(f"{explicit}: no such configuration file")
    data = read_config(path, explicit=bool(explicit))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    validate(data, path)
    try:
        apply(data, path, settings)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return settings


def project_settings(path: str, run: Settings) -> Settings:
    """The settings of the files a sub-project's configuration ``path``
    governs (``somaxlint.projects``): the file's, then the command line's
    (``run.flags``), and what belongs to the run, the run's."""
    from somaxlint.records import replace

    settings = Settings()
    data = read_config(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    validate(data, path)
    try:
        apply(data, path, settings)
        apply_flags(settings, run.flags)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return replace(
        settings,
        max_file_bytes=run.max_file_bytes, baseline=run.baseline, helm_chart_dir=run.helm_chart_dir,
        stdin_filename=run.stdin_filename, context=run.context, report_unused_suppressions=run.report_unused_suppressions,
        inline_suppressions=run.inline_suppressions if run.inline_suppressions is not None else settings.inline_suppressions,
        own_files=run.own_files, flags=run.flags,
    )


def apply_flags(settings: Settings, flags: dict) -> None:
    """The command line's settings, which win over any configuration file."""
    if flags.get("kernel"):
        set_kernel(settings, flags["kernel"])
    if flags.get("kubernetes"):
        settings.kubernetes = parse_kubernetes(flags["kubernetes"])
    if flags.get("select") is not None:
        settings.select = list(flags["select"])
    settings.ignore.extend(flags.get("ignore") or ())


def _trusted_settings(path: str, cwd: str) -> Settings:
    from somaxlint.discover import _under, argument_boundary

    root = argument_boundary(cwd)
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such configuration file (--trusted-config)")
    if _under(os.path.realpath(path), [root]) or _under(os.path.abspath(path), [root]):
        raise ConfigError(
            f"{path}: --trusted-config must come from outside the repository under review "
            "(the base branch's copy, the runner's): a file in the tree is what a pull request changes"
        )
    settings = Settings(trusted=True, require_sandbox=True)
    data = read_config(path, explicit=True)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    validate(data, path)
    try:
        apply(data, path, settings, base=root)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    settings.config_path = None  # not a file of the tree: neither its root nor one of its files
    if settings.inline_suppressions is None:
        settings.inline_suppressions = False
    try:
        found = find_config(cwd)
    except ConfigError:  # a symlinked one: not read either way
        found = None
    if found is not None and _under(os.path.abspath(found), [root]):
        settings.untrusted_configs.append(found)
    return settings


# `somaxlint init`: every key, commented out, with what it means.  Loaded
# as it is written, it sets nothing (a test keeps it so); uncommenting a
# `#key:` line (dropping the `#`) gives a valid setting.
INIT_TEMPLATE = '''\
# somaxlint configuration: what somaxlint cannot see in your manifests.
#
# Every key is optional and commented out: as written, this file changes
# nothing. Uncomment a setting (drop the leading "#") and fill in what you
# know about your cluster; the more you say, the fewer findings rest on
# assumptions. Command-line flags (--kernel, --kubernetes, --select,
# --ignore, --max-file-size) win over this file.
# `somaxlint rules` lists the rule codes and names used under `rules:`.

# Linux version of the nodes (`uname -r`), e.g. "5.15" or "4.19.0-21-amd64".
# A pod's own network namespace starts with net.core.somaxconn 128 before
# Linux 5.4 and 4096 from 5.4 on; unknown, somaxlint says which it assumed.
# Quote it: YAML reads 5.10 unquoted as the number 5.1.
#kernel: "5.15"

# Kubernetes version of the cluster, e.g. "1.29": which sysctls the kubelet
# treats as safe (net.ipv4.ip_unprivileged_port_start since 1.22, ...).
# Unknown, a current release is assumed.
#kubernetes: "1.29"

# The nginx your containers run, when their image tag does not say (a tag
# like nginx:1.22 does; nginx:stable does not). Versions change what nginx
# accepts: before 1.25.5, two stream servers may not listen on one
# address and port. Unknown, a current nginx is assumed.
#nginx:
#  version: "1.22.1"

# The kubelet's configuration (KubeletConfiguration).
#kubelet:
  # allowedUnsafeSysctls: the unsafe sysctls (names, or prefixes ending in
  # *) pods may set. Unknown, a pod setting one (net.core.somaxconn is
  # unsafe) is a warning; known, an error unless listed here. A
  # KubeletConfiguration among the inputs is read before this.
#  allowedUnsafeSysctls: ["net.core.somaxconn"]

# The nodes' own sysctl values: what hostNetwork pods see, as they share
# the node's network namespace.
#node:
#  sysctls:
#    net.core.somaxconn: "4096"

# The pods' network: a CNI configuration in the repository applies to
# every pod only when named here (a path relative to this file, or a list
# of them). Others (Podman's, a plugin's test data) are not applied.
#cni:
#  default: cni/10-net.conflist

# How Helm charts are rendered: chart directory (relative to this file) ->
# values sets and release name. One render per values set; each set is a
# list of values files relative to the chart, layered over its values.yaml
# ([] is values.yaml alone). The release name defaults to release-name.
#helm:
#  charts:
#    charts/web:
#      values: [[], [values-prod.yaml]]
#      release: web

# Standalone nginx files (not in a ConfigMap) and the workload that runs
# them: path is a glob relative to this file, workload Kind/namespace/name,
# container the container's name (default: the first container).
#servers:
#  - path: nginx/*.conf
#    workload: Deployment/default/web
#    container: nginx

# Per rule (code or name): false or off disables it, info, warning or error
# sets its severity, or a mapping {enabled: true|false, severity: ...}.
#rules:
#  SMX013: false
#  listen-backlog-truncated: warning

# Files never read nor reported: globs matched against each path from the
# directory of this file (fnmatch: `*` matches `/` too; a directory's
# pattern covers what is under it), e.g. a chart's test fixtures.
#exclude: ["charts/*/tests/*"]

# Whether suppression comments (`# somaxlint: ignore ...`) and
# `somaxlint.io/ignore` annotations in the linted files apply. Under
# --trusted-config (pull requests from forks) they apply only when that
# configuration says true: the tree under review cannot silence itself.
#inline_suppressions: true

# Limits on what one run reads.
#limits:
  # largest input file read, in bytes (1 to 1073741824; default 16 MiB);
  # a larger file is reported (SMX000), not read
#  max_file_size: 16777216
  # files one nginx config may include, and how deeply nested
#  max_include_files: 2000
#  max_include_depth: 32
'''
