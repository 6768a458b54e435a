"""Helm's in-process binding, run in a process of its own (in the jail).

Run as a script by its path: ``python -I helm_worker.py`` reads one JSON
request on standard input --

    {"chart": DIR, "renders": [{"values": [FILE, ...], "release": NAME}, ...]}

-- and writes one JSON line per render, in order, as each finishes:

    {"manifests": {template: text}}    or    {"error": MESSAGE, "file": FILE, "line": N}

(``file``/``line`` where a values file is at fault).  The binding loads a
native library and cannot be interrupted: here a runaway render costs
this process, which the jail's limits and the caller's deadline end,
never somaxlint's.  The values files are read with Helm's own YAML reader
(YAML 1.1, as ``helm -f`` reads them), merged the way ``helm -f`` merges
them, over the chart's ``values.yaml`` (which the binding adds itself).
"""

import json
import re
import sys

_YAML_LINE = re.compile(r"\bline (\d+)\b")


def _merge(base, over):
    # helm's mergeMaps for -f files: maps merge key by key, anything else
    # (lists, scalars, null) replaces
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _values(helm, files):
    merged = None
    for path in files:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        try:
            values = helm.values_from_yaml(text)
        except helm.HelmError as exc:
            match = _YAML_LINE.search(str(exc))
            raise _ValuesError(f"values file {path.rsplit('/', 1)[-1]}: {exc}", path, int(match.group(1)) if match else 1)
        if values is not None and not isinstance(values, dict):
            raise _ValuesError(f"values file {path.rsplit('/', 1)[-1]} is not a mapping", path, 1)
        merged = _merge(merged or {}, values or {})
    return merged


class _ValuesError(Exception):
    def __init__(self, message, path, line):
        super().__init__(message)
        self.path = path
        self.line = line


def _say(answer):
    sys.stdout.write(json.dumps(answer, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def main():
    request = json.loads(sys.stdin.read())
    import helm_python as helm

    for render in request["renders"]:
        try:
            values = _values(helm, render["values"])
            with helm.Chart.load(request["chart"]) as chart:
                manifests = chart.render(values=values, name=render["release"])
            _say({"manifests": manifests})
        except _ValuesError as exc:
            _say({"error": str(exc), "file": exc.path, "line": exc.line})
        except helm.HelmError as exc:
            _say({"error": str(exc)})
        except MemoryError:
            _say({"error": "helm ran out of memory"})
        except RecursionError:
            _say({"error": "helm's values are nested too deeply"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
