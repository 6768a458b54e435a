"""An nginx `include` names a file that is not part of the input.

## What it does
Reports `include` directives that somaxlint did not follow: paths outside
the lint root (`include /etc/passwd;`, `include ../../../etc/*;`), files no
mount of the container provides, mounts whose content is not in the input
(emptyDir, hostPath, a ConfigMap missing from the input), include cycles,
and globs that match more files than the configured limit.

## Why it matters
somaxlint reads only what it was given, never the machine it runs on. A
listener defined in a file it could not read is a listener it could not
check; and a file missing from the container makes nginx refuse to start.

## Example
```nginx
http {
    include /srv/shared/servers/*.conf;   # not in the repository
}
```

## How to fix
Add the included files to the input (mount them from a ConfigMap that is
part of the input, or keep them under the directory being linted), or
correct the path.
"""

from __future__ import annotations

from somaxlint.findings import Finding

CODE = "SMX013"
NAME = "include-outside-input"
SEVERITY = "warning"
SUMMARY = "An nginx include names a file that is not part of the input"


def check(model):
    seen = set()
    for server in model.nginx_servers:
        for problem in server.config.problems:
            d = problem.directive
            location = d.source.locate(d.line, d.column)
            key = (location, problem.message)
            if key in seen:
                continue
            seen.add(key)
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                # The path itself is not repeated: it may name a file outside
                # the input, and the location already shows the directive.
                f"include not followed: {problem.message}",
                location,
                subject=f"{d.source.label}|{' '.join(d.args)}|{problem.message}",
                helm_source=d.source.helm_source,
            )
