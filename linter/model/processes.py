"""Server processes of any kind, as the model holds them, and how the
containers that run a server of ``somaxlint.servers`` configured through its
launch (argv words with their positions, literal environment, the files
they name) are found.  nginx's own discovery, a tree of config files, is
``somaxlint.servers.nginx.instances``."""

from __future__ import annotations

import posixpath
from functools import lru_cache
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.findings import Location, Related
from somaxlint.model.environment import container_env, expand
from somaxlint.model.netns import Somaxconn, argv_location
from somaxlint.model.objects import Container, Workload
from somaxlint.model.shell import executed_program, parse_commands
from somaxlint.records import record, replace
from somaxlint.servers import Launch, Listener, Word, entrypoint_prepends, image_provenance, image_repository, launched_by, program_names


@record
class ServerProcess:
    """One server process: where it runs, what it listens on, and the
    namespace's somaxconn.  A standalone nginx config (no workload) runs
    against the default namespace."""

    module: object  # the somaxlint.servers module
    workload: Optional[Workload]
    container: Optional[Container]
    somaxconn: Somaxconn
    listeners: List[Listener]
    main_via: Tuple[Related, ...] = ()  # how the config reached the container
    # which of several equally near objects this process was evaluated
    # against ("ConfigMap default/nginx-conf from apps/a/cm.yaml"), if any
    variant: Optional[str] = None
    # How the container starts it (servers read from a launch; not nginx).
    # A class attribute, not a field: NginxServer adds fields positionally.
    launch = None
    # what its configuration makes it refuse at start-up (a module's
    # ``refusals(launch)``): a class attribute too, set per process
    config_refusals = ()

    @property
    def kind(self) -> str:
        return self.module.NAME

    @property
    def label(self) -> str:
        """Where it runs, for messages."""
        from somaxlint.model.objects import workload_label

        if self.workload is None:
            return f"standalone config {self.config.main.label}"
        label = f"container {self.container.name!r} of {workload_label(self.workload)}"
        if self.variant:
            label += f" (evaluated with {self.variant}: see SMX017)"
        return label

    @property
    def owner(self) -> str:
        """The workload's reference, else the standalone file: first part
        of every finding's subject."""
        return self.workload.ref if self.workload is not None else self.config.main.label

    def related(self) -> Tuple[Related, ...]:
        """The facts a finding about this process combines, besides the
        namespace's somaxconn: the config's way into the container, the
        container."""
        container = (Related(self.container.location, self.container.label),) if self.container is not None else ()
        return tuple(self.main_via) + container


@record
class Unresolved:
    """A container that runs a server whose configuration the input does
    not show: it still appears in `explain`, with the reason."""

    workload: Workload
    container: Container
    server: str  # "nginx"
    path: str  # the config path inside the container
    reason: str
    location: Location  # the mount, else the container
    related: Tuple[Related, ...] = ()


def launch_of(container: Container, module, commands=None, read=None, env=None, parses=None, written=None) -> Optional[Launch]:
    """How ``container`` starts ``module``'s server, or None if it does not.
    ``commands``: the container's parsed commands, when already parsed;
    ``env``: its environment (``container_env``), when already read;
    ``parses``: the run's parses of config texts (``servers.parsed``);
    ``written``: its (command, args) as the kubelet runs them
    (``expanded``), when already expanded."""
    if env is None:
        env = container_env(container)
    command, args = written if written is not None else expanded(container, env)
    argv = command + args
    obj = container.workload.obj
    working_dir = container.node.get("workingDir")
    working_dir = working_dir if isinstance(working_dir, str) and working_dir else None
    if commands is None:
        commands = _commands(argv)
    if argv and commands is _parsed(tuple(argv))[0]:
        named = _named_in(tuple(argv), module)  # once per command line
    else:
        named = _first_named(commands, module)
    if named is not None:
        command = commands[named[0]]
        words, i = command.words, named[1]
        base = words[i].rsplit("/", 1)[-1]
        start = i + 1 if base in module.COMMANDS else i + 2
        located, at = _located(container, command, argv, i, start)
        return Launch(located, env, at, read or (lambda path: None), container.image, working_dir, base if base in module.COMMANDS else words[i + 1], parses)
    if (container.name, container.image) in getattr(module, "INJECTED_AS", ()):
        # written by an admission webhook at run time: started as the image says
        return Launch([], env, obj.value_loc(container.node, "image"), read or (lambda path: None), container.image, working_dir, parses=parses)
    repository = image_repository(container.image)
    if module.IMAGES and repository in module.IMAGES and command:
        by_hand = _entrypoint_by_hand(container, module, repository, commands, argv, env, read, working_dir, parses)
        if by_hand is not None:
            return by_hand
    if module.IMAGES and repository in module.IMAGES and not command:
        runs = getattr(module, "runs_image", None)
        if runs is not None and not runs(container.image):
            return None  # another variant of the image (a php image's CLI or Apache tag)
        # The official images' entrypoints prepend the server to arguments
        # that start with "-" (some also to a first argument ending in
        # ".conf": the module's ENTRYPOINT_PREPENDS) and run it alone when
        # there are none; some images' entrypoint is the server itself, run
        # with a subcommand (Istio's proxyv2: `pilot-agent proxy sidecar`).
        subcommands = getattr(module, "ENTRYPOINT_SUBCOMMANDS", {}).get(repository, ())
        if not args or entrypoint_prepends(module, repository, args[0]) or args[0] in subcommands:
            words = [Word(a, argv_location(container, i)) for i, a in enumerate(args)]
            return Launch(words, env, obj.value_loc(container.node, "image"), read or (lambda path: None), container.image, working_dir, parses=parses)
    return None


def _located(container, command, argv, i: int, start: int):
    """The words of ``command`` from ``start`` on, each at its place in the
    container's argv (a command that is the argv itself), else at the argv
    word that holds the script; and where word ``i`` (the program) is."""
    words = command.words
    direct = command.argv_index == 0 and words == argv[: len(words)]
    located = [
        Word(w, argv_location(container, command.argv_index + j) if direct else argv_location(container, command.argv_index))
        for j, w in enumerate(words[start:], start=start)
    ]
    return located, argv_location(container, command.argv_index + i if direct else command.argv_index)


def _entrypoint_by_hand(container, module, repository, commands, argv, env, read, working_dir, parses) -> Optional[Launch]:
    """A command that runs the image's own entrypoint script by hand
    (`bash -c "/entrypoint.sh --server-id=..."`, `export X=1 &&
    /docker-entrypoint.sh`) with words the entrypoint prepends the server
    to: the server, as the image starts it, with those words."""
    runs = getattr(module, "runs_image", None)
    if runs is not None and not runs(container.image):
        return None
    subcommands = getattr(module, "ENTRYPOINT_SUBCOMMANDS", {}).get(repository, ())
    for command in commands:
        program = executed_program(command.words)
        if program is None or "entrypoint" not in program[1].lower():
            continue
        words, i = command.words, program[0]
        rest = words[i + 1:]
        if rest and not (entrypoint_prepends(module, repository, rest[0]) or rest[0] in subcommands):
            continue
        located, at = _located(container, command, argv, i, i + 1)
        return Launch(located, env, at, read or (lambda path: None), container.image, working_dir, parses=parses)
    return None


def server_processes(workload: Workload, somaxconn_for, fs_for=None, choose=None, parses=None) -> List[ServerProcess]:
    """``somaxconn_for(container)``: the somaxconn the container's server
    listens with (``NetNamespace.somaxconn_for``: its own writes before the
    server starts count); ``fs_for(container)``: the container's filesystem
    as the input builds it (config files a server names are read from
    there); ``choose(kind, name, where)``: the object a reference reaches
    (envFrom ConfigMaps); ``parses``: the run's parses of the config texts
    they read (``servers.parsed``), so that each text is parsed once."""
    out = []
    for container in workload.containers + [c for c in workload.init_containers if c.sidecar]:
        referred = None
        if any("$(" in word for word in container.command + container.args):
            # Kubernetes expands $(NAME) in command and args from the
            # container's environment before the process starts
            env = container_env(container, choose)
            written, referred = expanded(container, env), env.asked
        else:
            written = (container.command, container.args)
        argv = written[0] + written[1]
        commands, words = _parsed(tuple(argv)) if argv else ([], frozenset())
        repository = image_repository(container.image)
        # (only the modules of the servers the container may start are imported)
        for module in launched_by(words, repository, container):
            env = container_env(container, choose)
            if referred:
                env.asked |= referred  # the names the expansion read count as read
            launch = launch_of(container, module, commands, _reader(container, fs_for), env, parses, written)
            if launch is None:
                continue
            listeners = module.listeners(launch)
            hidden = env.unknown()
            if hidden:
                # the server read a name whose value the input does not show
                listeners = [replace(l, assumption=l.assumption or hidden) for l in listeners]
            if not launch.command:
                # the image's own command runs it: which image it is counts
                elsewhere = image_provenance(container.image)
                if elsewhere is not None:
                    listeners = [replace(l, assumption=f"{elsewhere}; {l.assumption}" if l.assumption else elsewhere) for l in listeners]
            process = ServerProcess(module, workload, container, somaxconn_for(container), listeners)
            process.launch = launch
            refusals = getattr(module, "refusals", None)
            if refusals is not None:
                process.config_refusals = tuple(refusals(launch))
            out.append(process)
    return out


def expanded(container: Container, env) -> Tuple[List[str], List[str]]:
    """The container's `command` and `args` as the kubelet runs them:
    `$(NAME)` references expanded from its environment
    (``environment.expand``)."""
    return [expand(w, env) for w in container.command], [expand(w, env) for w in container.args]


def _commands(argv: List[str]):
    """The parsed commands of a command line (read, never changed, by the
    callers here)."""
    return _parsed(tuple(argv))[0] if argv else []


# One script anchored once and aliased into many containers is one string
# object: it is parsed and searched once, however many containers run it
# (a key's hash is its strings' own, cached; equal keys compare by
# identity first).


@lru_cache(maxsize=256)
def _parsed(argv: Tuple[str, ...]):
    """(the commands, the program names of all their words)."""
    commands = parse_commands(list(argv))
    return commands, program_names(commands)


@lru_cache(maxsize=1024)
def _named_in(argv: Tuple[str, ...], module):
    return _first_named(_parsed(argv)[0], module)


def _first_named(commands, module) -> Optional[Tuple[int, int]]:
    """(command, word) indexes of the first command whose executed program
    (``model.shell.executed_program``: past wrappers, entrypoint scripts,
    `python -m`) is ``module``'s server; an argument that merely names it
    (`contour envoy shutdown-manager`) runs nothing."""
    for index, command in enumerate(commands):
        program = executed_program(command.words)
        if program is not None and program[1] in module.COMMANDS:
            return index, program[0]
    return None


def unread(process: ServerProcess) -> bool:
    """A server whose listeners live in a configuration the input does not
    show (or shows with values that are not literal)."""
    if process.listeners or process.config_refusals or not getattr(process.module, "EMPTY_MEANS_UNREAD", False):
        return False  # (a configuration the server refuses is read: SMX028 says so)
    # (a module may tell a launch that is another server's: Jetty's start.jar
    # is no unread Tomcat)
    others = getattr(process.module, "launch_is_other_server", None)
    return not (others is not None and process.launch is not None and others(process.launch))


def unread_config(process: ServerProcess) -> str:
    """The configuration file(s) an unread server loads, as the module
    names them from its launch (``config_paths(launch)``: `-f`, else the
    image's own command), else "(its configuration)"."""
    paths = getattr(process.module, "config_paths", None)
    named = paths(process.launch) if paths is not None and process.launch is not None else []
    return ", ".join(named) if named else "(its configuration)"


def _reader(container: Container, fs_for):
    """The container's files for its launch (``Launch.read``), which also
    tells whether a mount covers a path and lists the input's files in a
    directory (``Launch.covered``, ``Launch.listed``)."""
    if fs_for is None:
        return None
    built = []

    def fs():
        if not built:
            built.append(fs_for(container))
        return built[0]

    def read(path: str):
        mounted = fs().get(path)
        if mounted is None:
            return None
        source = mounted.source
        return source.text, source.locate

    read.covered = lambda path: fs().is_covered(posixpath.normpath(path))
    read.listed = lambda directory: sorted(
        p for p, _ in fs().files.items_under(directory) if posixpath.dirname(p) == posixpath.normpath(directory)
    )
    return read


@record
class Verdict:
    """How a listener compares with the namespace's possible somaxconn
    values: shared by every rule about server processes."""

    certain: bool  # every possible value gives the same answer
    limit: int  # the value the finding speaks of
    setting: object  # where that value comes from (SysctlSetting or None)
    related: tuple  # the facts combined: the setting, the container
    assumptions: tuple  # what the finding rests on when not certain


def verdict(process: ServerProcess, hits: List[int], listener: Optional[Listener] = None, limit: Optional[int] = None) -> Verdict:
    """``hits``: the possible somaxconn values for which the rule's
    condition holds (non-empty)."""
    from somaxlint.model.netns import somaxconn_related

    somaxconn = process.somaxconn
    certain = len(hits) == len(somaxconn.values)
    if limit is None:
        limit = somaxconn.assumed if somaxconn.assumed in hits else hits[0]
    setting = somaxconn.setting_for(limit)
    related = tuple(somaxconn_related(setting)) + process.related()
    assumptions = (somaxconn.assumption,) if somaxconn.assumption and not certain else ()
    if listener is not None and listener.assumption:
        # the backlog itself rests on something the input does not show
        certain = False
        assumptions += (listener.assumption,)
    return Verdict(certain, limit, setting, related, assumptions)


def condition(settings, somaxconn) -> str:
    """How a finding that holds for only some of the possible somaxconn
    values says when it holds; the assumption appended to it says why."""
    setting = somaxconn.setting
    if setting is not None and setting.how == "kernel default" and settings.kernel is None:
        return " if the node kernel is older than Linux 5.4"
    if setting is not None and setting.how == "kernel default":
        return " in one of the cases the input leaves open"
    return " under one of the possible orders"


def process_finding(rule: tuple, process: ServerProcess, listener: Listener, v: Verdict, message: str, subject: str, extra: dict):
    """The finding of ``rule`` (its code, name and default severity) about
    one listener."""
    from somaxlint.findings import Finding

    unchecked = getattr(process.module, "NOT_KERNEL_CHECKED", None)
    if unchecked:
        # a server with no package to run: the value follows its source alone
        message += f" (not checked against a running {process.module.TITLE}: {unchecked})"
        extra = dict(extra, kernel_checked=False)
    for assumption in v.assumptions:
        message += f" (assumption: {assumption})"
    code, name, severity = rule
    return Finding(
        code,
        name,
        severity if v.certain or severity == "info" else "warning",  # (an uncertain info stays info)
        message,
        listener.location,
        related=v.related,
        assumptions=v.assumptions,
        subject="|".join((process.owner, process.container.name if process.container else "", listener.section or process.module.NAME, subject)),
        helm_source=listener.helm_source or (process.workload.obj.helm_source if process.workload else None),
        objects=(process.workload.ref,) if process.workload else (),
        extra=dict(extra, server=process.module.NAME),
    )
