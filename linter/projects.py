"""Configuration in a monorepo: every file is governed by the nearest
configuration file above it, as ruff does.

A `.somaxlint.yaml` (or `.somaxlint.yml`, or a `pyproject.toml` with
`[tool.somaxlint]`) in a sub-directory of the repository makes that
directory a project: the files under it, down to the next project, are
linted with its settings -- its rules and severities, `exclude` (from its
own directory), `kernel`, `kubernetes`, `nginx.version`, `kubelet`,
`node`, `cni.default`, `servers` and Helm values sets.  The command line
wins over every configuration (`--kernel`, `--kubernetes`, `--select`,
`--ignore`); what belongs to the run stays the run's (the baseline, the
context, `--max-file-size`, trusted mode, suppressions honoured).

Each project is modelled on its own: its workloads, ConfigMaps and server
configurations are linked among themselves, as if somaxlint ran in its
directory (a project is a cluster's worth of manifests: different kernels
are different nodes).  With `--config` or `--trusted-config` one
configuration governs everything, and the tree's are not read.

Pure bookkeeping: it reads configuration files (``somaxlint.config``) and
groups the inputs; the engine runs the stages per group.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional

from somaxlint.discover import InputFile, Skipped, _excluded, display_path
from somaxlint.records import record, field
from somaxlint.settings import Settings


@record
class Project:
    """The files one configuration governs."""

    settings: Settings
    # the configuration file (None: the run's settings, from the run's file
    # or none) and how reports show it
    config: Optional[str] = None
    shown: Optional[str] = None
    inputs: List[InputFile] = field(default_factory=list)


class Nearest:
    """The nearest configuration file above a directory, up to the
    repository root: each directory is looked at once however many files
    it holds or lie below it."""

    def __init__(self, boundary: str):
        self.boundary = os.path.realpath(boundary)
        self._found: Dict[str, Optional[str]] = {}
        self._real: Dict[str, str] = {}  # a directory as given -> its real path (files share directories)

    def of(self, directory: str) -> Optional[str]:
        from somaxlint.config import config_in

        # (by its real path: a directory that is a symlink out of the
        # repository is never looked into)
        real = self._real.get(directory)
        if real is None:
            real = self._real[directory] = os.path.realpath(directory)
        directory = real
        if not _inside(directory, self.boundary):
            return None  # outside the repository: the run's settings
        walked = []
        found = None
        while True:
            if directory in self._found:
                found = self._found[directory]
                break
            walked.append(directory)
            here = config_in(directory)
            if here is not None:
                found = here
                break
            parent = os.path.dirname(directory)
            if directory == self.boundary or parent == directory:
                break
            directory = parent
        for one in walked:
            self._found[one] = found
        return found


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def govern(inputs: List[InputFile], settings: Settings, base: str, cwd: str) -> "tuple":
    """(the projects, in the order of their configurations' paths -- the
    run's own first --, the configuration files found among the inputs,
    skipped as what they are, and the ``Nearest`` that found them, for
    what is placed later: rendered units).  One project holding every
    input when a single configuration governs the run."""
    from somaxlint.config import CONFIG_NAMES, project_settings

    run = Project(settings, settings.config_path, display_path(settings.config_path, base) if settings.config_path else None)
    # one configuration for every file: the tree's are not read
    single = "--trusted-config" if settings.trusted else "--config" if settings.config_explicit else None
    nearest = Nearest(base)
    own = os.path.realpath(settings.config_path) if settings.config_path else None
    projects: Dict[str, Project] = {}
    skipped: List[Skipped] = []
    for f in inputs:
        if f.path != "-" and os.path.basename(f.path) in CONFIG_NAMES:
            # a sub-project's configuration, reached by the walk
            of = display_path(os.path.dirname(f.path), base)
            skipped.append(Skipped(f.display, f"somaxlint's configuration (not read: {single} governs every file)" if single
                                   else f"somaxlint's configuration (of {of})"))
            continue
        if single or f.error is not None:
            run.inputs.append(f)  # (a path not read at all: an error where it is)
            continue
        if f.path == "-":
            directory = os.path.dirname(f.stands_for) if f.stands_for else cwd
        else:
            directory = os.path.dirname(f.path)
        found = nearest.of(directory)
        if found is None or os.path.realpath(found) == own:
            run.inputs.append(f)
            continue
        project = projects.get(found)
        if project is None:
            project = projects[found] = Project(project_settings(found, settings), found, display_path(found, base))
        if _excluded_by(project, f):
            continue
        project.inputs.append(f)
    return [run] + [projects[k] for k in sorted(projects)], skipped, nearest


def rooted_exclude(settings: Settings, base: str) -> tuple:
    """The run's `exclude` patterns as paths from the repository root
    (``base``), which discovery matches: each configuration's patterns are
    paths from its own directory (a trusted configuration stands at the
    root)."""
    if not settings.config_path or not settings.exclude:
        return settings.exclude
    where = display_path(os.path.dirname(os.path.abspath(settings.config_path)), base)
    if where in (".", "") or where.startswith(("/", "../")) or where == "..":
        return settings.exclude
    return tuple(f"{where}/{pattern.lstrip('/')}" for pattern in settings.exclude)


def _excluded_by(project: Project, f: InputFile) -> bool:
    """A project's `exclude` patterns are paths from its own directory."""
    patterns = project.settings.exclude
    if not patterns or f.path == "-":
        return False
    return _excluded(display_path(f.path, os.path.dirname(project.config)), patterns)


def project_of(projects: List[Project], nearest: "Nearest", path: str) -> int:
    """The index of the project that governs ``path`` (a file or directory
    on disk, such as a chart's): the run's (0) when no other does."""
    found = nearest.of(path if os.path.isdir(path) else os.path.dirname(path))
    for i, project in enumerate(projects):
        if i and project.config == found:
            return i
    return 0
