"""What the linter is told about the world it cannot see in the files.

Filled from the configuration file and the command line (flags win); the
model reads it, nothing else does.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.records import record, field


@record
class ServerLink:
    """A standalone nginx file and the workload/container that runs it."""

    path: str  # glob, relative to the config file's directory
    workload: str  # Kind/namespace/name
    container: Optional[str] = None
    mount_path: Optional[str] = None  # where the file sits in the container


@record
class Settings:
    kernel: Optional[Tuple[int, int, int]] = None
    kernel_text: Optional[str] = None
    # `nginx.version` of the configuration: for containers whose image tag
    # does not say (and standalone files)
    nginx_version: Optional[Tuple[int, int, int]] = None
    kubernetes: Optional[Tuple[int, int]] = None
    allowed_unsafe_sysctls: Optional[List[str]] = None  # None: unknown
    allowed_unsafe_source: Optional[str] = None
    node_sysctls: Dict[str, str] = field(default_factory=dict)
    servers: List[ServerLink] = field(default_factory=list)
    # real paths of the CNI configurations that are the pods' network
    cni_default: Tuple[str, ...] = ()
    # real chart directory -> values sets (each a list of files relative to
    # the chart); a chart not named here renders once with its values.yaml
    helm_values: Dict[str, List[List[str]]] = field(default_factory=dict)
    helm_release: Dict[str, str] = field(default_factory=dict)  # real chart directory -> release name
    select: Optional[List[str]] = None
    ignore: List[str] = field(default_factory=list)
    severity: Dict[str, str] = field(default_factory=dict)
    # rule code -> its options (`rules: {SMX027: {min_queue: 64}}`)
    rule_options: Dict[str, dict] = field(default_factory=dict)
    exclude: Tuple[str, ...] = ()
    max_file_bytes: int = 16 * 1024 * 1024
    max_include_files: int = 2000
    max_include_depth: int = 32
    config_path: Optional[str] = None
    report_unused_suppressions: bool = False
    baseline: Optional[str] = None
    helm_chart_dir: Optional[str] = None
    stdin_filename: Optional[str] = None
    # read for cross-references, but report only findings that touch the
    # files named on the command line (pre-commit passes staged files)
    context: List[str] = field(default_factory=list)
    # --trusted-config: the configuration comes from outside the tree under
    # review, whose own configuration files are not read; inline
    # suppressions apply only when that configuration says so; renderers
    # run only in the sandbox's namespaces
    trusted: bool = False
    # whether suppression comments and annotations apply (None: the mode's
    # default -- yes, or no under --trusted-config)
    inline_suppressions: Optional[bool] = None
    require_sandbox: bool = False
    # the tree's configuration files that trusted mode did not read
    untrusted_configs: List[str] = field(default_factory=list)
    # somaxlint's own files (its configuration, the baseline, the output),
    # by real path -> what they are: never read as inputs where a walk
    # reaches them, and listed among the skipped files as such
    own_files: Dict[str, str] = field(default_factory=dict)
    # the configuration was named (--config): it governs every file, a
    # sub-project's own is not read (``somaxlint.projects``)
    config_explicit: bool = False
    # the command line's settings, which win over every configuration
    # file a sub-project has: kernel, kubernetes, select, ignore
    flags: dict = field(default_factory=dict)
