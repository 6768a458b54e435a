"""PHP-FPM: each pool listens on its `listen` address with its
`listen.backlog`; the backlog's default depends on the PHP version.

Sources (../shared/facts/servers.md §2.19): `FPM_BACKLOG_DEFAULT`
(sapi/fpm/fpm/fpm_sockets.h) was 511 on Linux from php/php-src#731 (2014)
and became -1 ("use somaxconn") on Linux with php/php-src#8410 (2022),
first released in PHP 8.2 -- that release is *inferred* on the sheet, so a
PHP >= 8.2 default is reported with that assumption. The official image
ships www.conf with `listen.backlog` commented out and no backlog in its
other pool files.

Read beyond the sheet: the official image's php-fpm.conf includes
`etc/php-fpm.d/*.conf`, which glob(3) reads in name order: docker.conf,
www.conf, zz-docker.conf; a section naming a pool already defined
continues it ("Found a wp with the same name. Bring it back",
`fpm_conf_ini_parser_section()` in sapi/fpm/fpm/fpm_conf.c), so a later
file's value replaces an earlier one. Where the image sets the `[www]`
pool's `listen = 9000` moved (docker-library/php @ 445bf414,
Dockerfile-linux.template:531-571): images built since f26909cd
(2026-01-09, #1635; all tags since 168b4293) set it in docker.conf, as a
default a mounted www.conf overrides; before, and for the patch releases
8.2.30, 8.3.29, 8.4.16 and 8.5.1 (the template's exception), it was in
zz-docker.conf, which overrides www.conf. `listen` is `port` (every
address: "::", else 0.0.0.0), `address:port` (`[...]` for IPv6) or a UNIX
socket path (`fpm_sockets_domain_from_address()`,
`fpm_socket_af_inet_listening_socket()` in sapi/fpm/fpm/fpm_sockets.c).
The kernel tests (tests/kernel/test_servers_truth.py) check both orders
against Debian's php-fpm 8.2.

What is read: the image's three pool files, when the input mounts them;
other files under php-fpm.d are not read. A pool with no `listen` (php-fpm
refuses it) gives no listener.

Official images built on php's -fpm variant run PHP-FPM the same way: their
-fpm tags (`fpm`, `fpm-alpine`, `5.1.0-fpm`, `6.8-php8.3-fpm-alpine`...)
are `FROM php:*-fpm*` with `CMD ["php-fpm"]` (their own, or php's
inherited), so the image's pool files and `listen = 9000` are php's:
matomo (matomo-org/docker @ adb618af, fpm/Dockerfile:1,100-101 `FROM
php:8.4-fpm`, fpm-alpine/Dockerfile:1,88-89), wordpress
(docker-library/wordpress @ bf223d1c, latest/php8.3/fpm/Dockerfile:7,156-157),
nextcloud (nextcloud/docker @ 4de1eed6, 33/fpm/Dockerfile:2,168-169,
33/fpm-alpine/Dockerfile:2,157-158), drupal (docker-library/drupal @
305e3e2a, 11.3/php8.4/fpm-bookworm/Dockerfile:8, no CMD or ENTRYPOINT of
its own: php's `ENTRYPOINT ["docker-php-entrypoint"]`, `CMD ["php-fpm"]`,
docker-library/php @ 445bf414, 8.4/bookworm/fpm/Dockerfile:227,278). Their
other tags run Apache. The entrypoints of matomo, wordpress and nextcloud
end in `exec "$@"` without prepending anything (matomo
fpm/docker-entrypoint.sh:59, wordpress latest/php8.3/fpm/docker-entrypoint.sh:99,
nextcloud 33/fpm/entrypoint.sh:330); php's prepends php-fpm to a first
argument starting with `-` (docker-php-entrypoint:4-7). Their tags carry
the application's version, not PHP's (`php8.3` when they name it): without
it the PHP version is an assumption; when they were built (which file sets
`listen`, see above) is not known either, so the current layout is taken.
"""

from __future__ import annotations

import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Word, image_reference, image_repository, parse_int, parsed

NAME = "php-fpm"
TITLE = "PHP-FPM"
IMAGES = ("php", "matomo", "wordpress", "nextcloud", "drupal")
# built on php's -fpm variant, in their -fpm tags only (see the docstring)
DERIVED_IMAGES = ("matomo", "wordpress", "nextcloud", "drupal")
# their entrypoints run the arguments as given (php's and drupal's prepend
# php-fpm to a first argument starting with "-": the default)
ENTRYPOINT_PREPENDS = {"matomo": (), "wordpress": (), "nextcloud": ()}
COMMANDS = ("php-fpm", "php-fpm7.4", "php-fpm8.0", "php-fpm8.1", "php-fpm8.2", "php-fpm8.3", "php-fpm8.4")
RECOGNISED_BY = "image php, and the -fpm tags of " + ", ".join(DERIVED_IMAGES) + "; command " + ", ".join(COMMANDS)
DEFAULT_BACKLOG = "511 (PHP <= 8.1); somaxconn (PHP >= 8.2)"
DEFAULT_PORT = 9000
KNOB = "listen.backlog in the pool file (php-fpm.d/*.conf)"
SOURCE = "php-src sapi/fpm/fpm/fpm_sockets.h FPM_BACKLOG_DEFAULT; php/php-src#731, #8410; servers.md §2.19"
STARTUP_WARNING = ""

OLD_DEFAULT = 511
# The pool files of the official image, in the order php-fpm reads them
# (the include's glob: name order); the last setting wins.
POOL_DIR = "/usr/local/etc/php-fpm.d"
POOL_FILES = (f"{POOL_DIR}/docker.conf", f"{POOL_DIR}/www.conf", f"{POOL_DIR}/zz-docker.conf")
IMAGE_POOL = "www"
IMAGE_LISTEN = "9000"  # the image's own `listen` for its pool (see the docstring)
# The first patch release per branch whose image sets it in docker.conf
# (earlier ones, and every branch before 8.2, set it in zz-docker.conf).
DOCKER_CONF_LISTEN_FROM = {(8, 2): 31, (8, 3): 30, (8, 4): 17, (8, 5): 2}
# (at most 9 digits a part: a tag of thousands of digits is no version,
# and converting one would cost time quadratic in its length)
_VERSION = re.compile(r"^(\d{1,9})\.(\d{1,9})(?!\d)(?:\.(\d{1,9})(?!\d))?")
_PHP_IN_TAG = re.compile(r"(?:^|-)php(\d{1,9})\.(\d{1,9})(?:-|$)")


def _repository_tag(image: str) -> Tuple[str, str]:
    return image_repository(image), image_reference(image)[2]


def _version(image: str):
    repository, tag = _repository_tag(image)
    if repository in DERIVED_IMAGES:
        match = _PHP_IN_TAG.search(tag)  # `6.8-php8.3-fpm`: the rest is the application's version
    else:
        match = _VERSION.match(tag)
    return (int(match.group(1)), int(match.group(2))) if match else None


def runs_image(image: str) -> bool:
    """Whether the image, run with its own command, is PHP-FPM: php (its
    CLI and Apache variants give no listener, see ``listeners``), and the
    -fpm tags of the images built on it."""
    repository, tag = _repository_tag(image)
    if repository not in DERIVED_IMAGES:
        return True
    return tag == "fpm" or tag.startswith("fpm-") or tag.endswith("-fpm") or "-fpm-" in tag


def _listen_in_zz_docker(image: str) -> bool:
    """Whether the image sets its pool's `listen` in zz-docker.conf (after
    www.conf) rather than docker.conf (before it)."""
    repository, tag = _repository_tag(image)
    if repository in DERIVED_IMAGES:
        # built on php: every branch before 8.2 set it in zz-docker.conf;
        # later ones by patch release, which their tags do not name
        version = _version(image)
        return version is not None and version < (8, 2)
    match = _VERSION.match(tag)
    if repository != "php" or not match:
        return False  # not the official image's layout; `fpm`, `latest`...: a current build
    branch, patch = (int(match.group(1)), int(match.group(2))), match.group(3)
    if branch < (8, 2):
        return True
    first = DOCKER_CONF_LISTEN_FROM.get(branch)
    return first is not None and patch is not None and int(patch) < first


def _pools(launch: Launch) -> Dict[str, Dict[str, Word]]:
    """Pool name -> {"listen", "listen.backlog"} -> the word that sets it,
    over the pool files the input provides, in php-fpm's order."""
    pools: Dict[str, Dict[str, Word]] = {}
    in_zz_docker = _listen_in_zz_docker(launch.image)
    if not in_zz_docker:
        pools[IMAGE_POOL] = {"listen": Word(IMAGE_LISTEN, launch.started_at)}
    provided_zz_docker = False
    for path in POOL_FILES:
        read = launch.read(path)
        if read is None:
            continue
        provided_zz_docker = provided_zz_docker or path.endswith("/zz-docker.conf")
        text, locate = read
        for section, key, value, number, column in parsed(launch, _pool_settings, text):
            pools.setdefault(section, {})[key] = Word(value, locate(number, column))
    if in_zz_docker and not provided_zz_docker:
        pools.setdefault(IMAGE_POOL, {})["listen"] = Word(IMAGE_LISTEN, launch.started_at)
    return pools


def _pool_settings(text: str) -> List[Tuple[str, str, str, int, int]]:
    """(pool, key, value, line, column) of each `listen` and
    `listen.backlog` of a pool file, in order."""
    out = []
    section: Optional[str] = None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or section is None or section.lower() == "global" or key not in ("listen", "listen.backlog"):
            continue
        column = len(line) - len(line.lstrip()) + 1
        out.append((section, key, value.strip(), number, column))
    return out


def _address(listen: str) -> Tuple[str, Optional[int]]:
    """`9000` -> every address; `127.0.0.1:9000`, `[::1]:9000` -> that
    address; a UNIX socket path (or a value that is not address:port) as
    written, without a port."""
    if ":" not in listen:
        port = parse_int(listen) if listen.isdigit() else None
        return ("*", port) if port is not None else (listen, None)
    host, _, port_text = listen.rpartition(":")
    port = parse_int(port_text) if port_text.isdigit() else None
    if port is None:
        return listen, None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def listeners(launch: Launch) -> List[Listener]:
    repository_tag = launch.image.split("@", 1)[0].rsplit("/", 1)[-1]
    if launch.image and repository_tag.startswith("php") and "fpm" not in repository_tag:
        return []  # a php CLI/apache image: not PHP-FPM
    version = _version(launch.image)
    out = []
    for settings in _pools(launch).values():
        listen = settings.get("listen")
        if listen is None:
            continue  # php-fpm refuses a pool without an address
        address, port = _address(listen.text)
        # a pool on a path is a Unix socket, with the same listen.backlog
        unix = {"family": "unix", "written": f"unix:{address}"} if port is None and address.startswith("/") else {}
        word = settings.get("listen.backlog")
        if word is not None and parse_int(word.text) is not None:
            backlog = parse_int(word.text)
            out.append(Listener(NAME, address, port, backlog, f"listen.backlog = {backlog}", word.location, True, KNOB, **unix))
        elif version is not None and version < (8, 2):
            out.append(
                Listener(NAME, address, port, OLD_DEFAULT, f"default listen.backlog {OLD_DEFAULT} (PHP {version[0]}.{version[1]})", launch.started_at, False, KNOB,
                         **unix)
            )
        else:
            assumption = (
                "PHP-FPM from PHP 8.2 passes -1 (somaxconn) by default (php/php-src#8410; its first release is inferred)"
                if version is not None
                else "the PHP version is not in the image tag: assumed 8.2 or later, whose default listen.backlog is somaxconn"
            )
            out.append(
                Listener(
                    NAME, address, port, -1, "backlog = net.core.somaxconn (default listen.backlog -1)", launch.started_at, False, KNOB,
                    above_somaxconn="follows", assumption=assumption, **unix,
                )
            )
    return out
