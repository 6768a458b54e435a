"""Reading `.somaxlint.yaml` / `[tool.somaxlint]` into Settings.

Validated against the schema shipped in the package; a bad file is a
configuration error (exit status 2) naming the file, the key and what was
expected.  Nothing in a configuration file is ever executed.
"""

from __future__ import annotations

import json
import os
import re
from typing import Optional, Tuple

from linter.facts import parse_kernel_version
from linter.settings import ServerLink, Settings

CONFIG_NAMES = (".somaxlint.yaml", ".somaxlint.yml")
_TABLE = re.compile(rb"(?m)^\s*\[+\s*tool\.somaxlint\s*[\].]")


class ConfigError(Exception):
    pass


def find_config(start: str) -> Optional[str]:
    """The nearest .somaxlint.yaml, or pyproject.toml with [tool.somaxlint],
    from ``start`` upward."""
    directory = os.path.abspath(start)
    while True:
        for name in CONFIG_NAMES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                return candidate
        pyproject = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(pyproject) and _pyproject_section(pyproject) is not None:
            return pyproject
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _pyproject_section(path: str):
    try:
        with open(path, "rb") as handle:
            if not _TABLE.search(handle.read()):
                return None  # most pyproject.toml files: no TOML parser needed
    except OSError:
        return None
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, ValueError):
        return None
    return data.get("tool", {}).get("somaxlint")


def read_config(path: str) -> dict:
    if path.endswith(".toml"):
        section = _pyproject_section(path)
        if section is None:
            raise ConfigError(f"{path}: no [tool.somaxlint] table")
        return section
    from linter.load.yaml_stream import load_yaml
    from linter.load.positioned import YMap, YSeq

    try:
        with open(path, "rb") as handle:
            text = handle.read(1024 * 1024).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    documents, errors = load_yaml(text)
    if errors:
        e = errors[0]
        raise ConfigError(f"{path}:{e.line}:{e.column}: invalid YAML: {e.message}")
    if not documents or documents[0].root is None:
        return {}

    def plain(value):
        if isinstance(value, YMap):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, YSeq):
            return [plain(v) for v in value]
        return value

    return plain(documents[0].root)


def validate(data, path: str) -> None:
    import jsonschema
    from importlib import resources

    schema = json.loads(resources.files("linter").joinpath("schemas/config.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"{path}: key {key!r}: {error.message}")


def apply(data: dict, path: str, settings: Settings) -> None:
    settings.config_path = path
    if "kernel" in data:
        set_kernel(settings, data["kernel"])
    if "kubernetes" in data:
        settings.kubernetes = parse_kubernetes(data["kubernetes"])
    kubelet = data.get("kubelet") or {}
    if "allowedUnsafeSysctls" in kubelet:
        settings.allowed_unsafe_sysctls = list(kubelet["allowedUnsafeSysctls"])
        settings.allowed_unsafe_source = f"kubelet.allowedUnsafeSysctls in {path}"
    node = data.get("node") or {}
    settings.node_sysctls = {k: str(v) for k, v in (node.get("sysctls") or {}).items()}
    base = os.path.dirname(os.path.abspath(path))
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
        if value is False or (isinstance(value, dict) and value.get("enabled") is False):
            settings.ignore.append(ident)
        severity = value if isinstance(value, str) else (value.get("severity") if isinstance(value, dict) else None)
        if severity:
            settings.severity[ident.upper() if ident.upper().startswith("SMX") else ident] = severity
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


def load_settings(explicit: Optional[str], cwd: str) -> Settings:
    settings = Settings()
    path = explicit or find_config(cwd)
    if path is None:
        return settings
    if explicit and not os.path.isfile(explicit):
        raise ConfigError(f"{explicit}: no such configuration file")
    data = read_config(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    validate(data, path)
    apply(data, path, settings)
    return settings
