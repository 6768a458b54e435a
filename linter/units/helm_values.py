"""What a chart's values decide before Helm renders: its dependencies and
its schema.

Charts in repositories are kept as their authors keep them: an
``apiVersion: v1`` chart lists its dependencies in ``requirements.yaml``,
and a chart whose dependencies are declared is usually published without
them vendored (``charts/`` empty: ``helm dependency build`` fills it).
Helm refuses to render such a chart; somaxlint renders it without the
missing ones, so the chart's own templates are still checked, and every
finding of that render names each dependency left out -- except one whose
``condition`` is false in the values set, which would not deploy anyway.

A chart's ``values.schema.json`` is checked here, with jsonschema, against
the values each render uses (Helm does the same and refuses the render
when they do not conform); Helm never sees the schema, whose ``$ref`` it
would resolve over the network.  somaxlint fetches nothing: a ``$ref``
outside the schema file is an assumption of the render.
"""

from __future__ import annotations

import json
import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple


class Dependency:
    def __init__(self, name: str, alias: Optional[str], condition: Optional[str], version: Optional[str], declared_in: str):
        self.name, self.alias, self.condition, self.version, self.declared_in = name, alias, condition, version, declared_in

    @property
    def key(self) -> str:
        """Where its values live in the parent's: its alias, else its name."""
        return self.alias or self.name

    def label(self) -> str:
        return self.name + (f" {self.version}" if self.version else "")


def _rel(copy, chart_dir: str, name: str) -> str:
    rel = copy.rel(chart_dir)
    return name if rel == "." else f"{rel}/{name}"


def _load(copy, rel: str) -> Any:
    """A YAML file of the copy as plain data (YAML 1.1, as Helm reads it),
    or None when absent or not YAML."""
    found = copy.files.get(rel)
    if found is None:
        return None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe")
    yaml.version = (1, 1)
    yaml.allow_duplicate_keys = True
    try:
        return yaml.load(found[1].decode("utf-8", "replace"))
    except (YAMLError, RecursionError, ValueError):
        return None


def dependencies(copy, chart_dir: str) -> List[Dependency]:
    """Every dependency Chart.yaml (or, for apiVersion v1, requirements.yaml)
    declares."""
    out = []
    for name in ("Chart.yaml", "requirements.yaml"):
        data = _load(copy, _rel(copy, chart_dir, name))
        items = data.get("dependencies") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                text = lambda key: item[key] if isinstance(item.get(key), str) else None  # noqa: E731
                version = item.get("version")
                out.append(Dependency(item["name"], text("alias"), text("condition"), str(version) if version is not None else None, name))
    return out


def vendored(copy, chart_dir: str) -> set:
    """The names (and archive stems) of what charts/ holds in the copy."""
    present = set()
    under = _rel(copy, chart_dir, "charts") + "/"
    for path in list(copy.files) + sorted(copy.directories):
        if path.startswith(under):
            entry = path[len(under):].split("/", 1)[0]
            present.add(entry)
            if entry.endswith(".tgz"):
                present.add(entry[:-4].rsplit("-", 1)[0])
    # a vendored chart's own name, whatever its directory is called
    for path in copy.files:
        if path.startswith(under) and path.endswith("/Chart.yaml") and path.count("/") == under.count("/") + 1:
            data = _load(copy, path)
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                present.add(data["name"])
    return present


def missing(copy, chart_dir: str) -> List[Dependency]:
    present = vendored(copy, chart_dir)
    return [d for d in dependencies(copy, chart_dir) if d.name not in present and not any(p.startswith(d.name + "-") for p in present)]


def strip(copy, chart_dir: str, gone: List[Dependency]) -> None:
    """The copy's Chart.yaml and requirements.yaml without the dependencies
    that are not there, so Helm renders the chart's own templates (JSON is
    YAML: the files are written back as JSON)."""
    names = {d.name for d in gone}
    for name in ("Chart.yaml", "requirements.yaml"):
        rel = _rel(copy, chart_dir, name)
        data = _load(copy, rel)
        if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
            continue
        data["dependencies"] = [d for d in data["dependencies"] if not (isinstance(d, dict) and d.get("name") in names)]
        real = copy.files[rel][0]
        copy.files[rel] = (real, json.dumps(data, default=str).encode())


def values(copy, chart_dir: str, files: List[str]) -> Tuple[Optional[dict], Optional[str]]:
    """(the values a render uses: values.yaml, then each file over it, as
    ``helm -f`` merges them; or None, why not)."""
    merged: dict = {}
    for rel in [_rel(copy, chart_dir, "values.yaml")] + list(files):
        data = _load(copy, rel)
        if data is None:
            if rel in copy.files and copy.files[rel][1].strip():
                return None, f"{rel.rsplit('/', 1)[-1]} is not valid YAML"
            continue
        if not isinstance(data, dict):
            return None, f"{rel.rsplit('/', 1)[-1]} is not a mapping"
        merged = _merge(merged, data)
    return merged, None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def enabled(dependency: Dependency, merged: Optional[dict]) -> bool:
    """Whether the values turn the dependency on: its ``condition`` (paths
    separated by commas; the first that is a boolean decides), else on."""
    if not dependency.condition or merged is None:
        return True
    for path in dependency.condition.split(","):
        node: Any = merged
        for step in path.strip().split("."):
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, bool):
            return node
    return True


def schema_problem(copy, chart_dir: str, merged: Optional[dict], files: List[str]) -> Tuple[Optional[Tuple[str, int, str]], Optional[str]]:
    """((real path, line, Helm's refusal) when the values break the
    chart's values.schema.json, or None; an assumption when a ``$ref`` it
    names is not in the schema itself, or None)."""
    found = copy.files.get(_rel(copy, chart_dir, "values.schema.json"))
    if found is None or merged is None:
        return None, None
    schema_path, data = found
    try:
        schema = json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return (schema_path, 1, "values.schema.json is not valid JSON (Helm refuses the chart)"), None
    if not isinstance(schema, (dict, bool)):
        return (schema_path, 1, "values.schema.json is not a JSON schema (Helm refuses the chart)"), None
    import jsonschema
    from referencing import Registry
    from referencing.exceptions import NoSuchResource, Unresolvable

    def refuse(uri: str):
        raise NoSuchResource(ref=uri)  # nothing is fetched

    try:
        validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        validator = validator_class(schema, registry=Registry(retrieve=refuse))
        error = jsonschema.exceptions.best_match(validator.iter_errors(merged))
    except Unresolvable as exc:
        return None, f"values.schema.json refers to {getattr(exc, 'ref', 'a schema')} outside it, which somaxlint does not fetch: the values are not checked against it"
    except (jsonschema.exceptions.SchemaError, RecursionError, ValueError) as exc:
        return (schema_path, 1, f"values.schema.json is not a valid schema: {str(exc).splitlines()[0][:200]}"), None
    if error is None:
        return None, None
    where = ".".join(str(p) for p in error.absolute_path) or "(the values)"
    path, line = _locate(copy, chart_dir, files, list(error.absolute_path))
    return (path or schema_path, line, f"Helm refuses these values: {where}: {error.message[:300]} (values.schema.json)"), None


def _locate(copy, chart_dir: str, files: List[str], keys: List[Any]) -> Tuple[Optional[str], int]:
    """The values file (the last that sets it) and line of the key path."""
    from somaxlint.load.positioned import YMap, YSeq
    from somaxlint.load.yaml_stream import load_yaml

    for rel in reversed([_rel(copy, chart_dir, "values.yaml")] + list(files)):
        found = copy.files.get(rel)
        if found is None:
            continue
        documents, _ = load_yaml(found[1].decode("utf-8", "replace"))
        node = documents[0].root if documents else None
        line = None
        for key in keys:
            if isinstance(node, YMap) and key in node:
                line = node.kpos[key][0]
                node = node[key]
            elif isinstance(node, YSeq) and isinstance(key, int) and key < len(node):
                line = node.ipos[key][0]
                node = node[key]
            else:
                line = None
                break
        if line is not None:
            return found[0], line
    return None, 1
