"""PHP-FPM: `listen.backlog` in the pool file; its default depends on the
PHP version.

Sources (../shared/facts/servers.md §2.19): `FPM_BACKLOG_DEFAULT`
(sapi/fpm/fpm/fpm_sockets.h) was 511 on Linux from php/php-src#731 (2014)
and became -1 ("use somaxconn") on Linux with php/php-src#8410 (2022),
first released in PHP 8.2 -- that release is *inferred* on the sheet, so a
PHP >= 8.2 default is reported with that assumption. The official image
(docker-library/php @ 445bf414) writes php-fpm.d/zz-docker.conf with
`listen = 9000` and no backlog, and ships www.conf with `listen.backlog`
commented out.
"""

from __future__ import annotations

import re
from typing import List, Optional

from linter.servers import Launch, Listener, Word, parse_int

NAME = "php-fpm"
TITLE = "PHP-FPM"
IMAGES = ("php",)
COMMANDS = ("php-fpm", "php-fpm7.4", "php-fpm8.0", "php-fpm8.1", "php-fpm8.2", "php-fpm8.3", "php-fpm8.4")
DEFAULT_BACKLOG = "511 (PHP <= 8.1); somaxconn (PHP >= 8.2)"
DEFAULT_PORT = 9000
KNOB = "listen.backlog in the pool file (php-fpm.d/*.conf)"
SOURCE = "php-src sapi/fpm/fpm/fpm_sockets.h FPM_BACKLOG_DEFAULT; php/php-src#731, #8410; servers.md §2.19"
STARTUP_WARNING = ""

OLD_DEFAULT = 511
# The pool files of the official image, read when the input mounts them.
POOL_FILES = ("/usr/local/etc/php-fpm.d/zz-docker.conf", "/usr/local/etc/php-fpm.d/www.conf")
_VERSION = re.compile(r"^(\d+)\.(\d+)")


def _version(image: str):
    tag = image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    match = _VERSION.match(tag)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _pool_backlog(launch: Launch) -> Optional[Word]:
    found = None
    for path in POOL_FILES:  # read in this order; the last setting wins
        read = launch.read(path)
        if read is None:
            continue
        text, locate = read
        for number, line in enumerate(text.split("\n"), start=1):
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "listen.backlog" and not line.lstrip().startswith(";"):
                found = Word(value.strip(), locate(number, len(line) - len(line.lstrip()) + 1))
    return found


def listeners(launch: Launch) -> List[Listener]:
    repository_tag = launch.image.split("@", 1)[0].rsplit("/", 1)[-1]
    if launch.image and repository_tag.startswith("php") and "fpm" not in repository_tag:
        return []  # a php CLI/apache image: not PHP-FPM
    word = _pool_backlog(launch)
    if word is not None and parse_int(word.text) is not None:
        backlog = parse_int(word.text)
        return [Listener(NAME, "*", DEFAULT_PORT, backlog, f"listen.backlog = {backlog}", word.location, True, KNOB)]
    version = _version(launch.image)
    if version is not None and version < (8, 2):
        return [Listener(NAME, "*", DEFAULT_PORT, OLD_DEFAULT, f"default listen.backlog {OLD_DEFAULT} (PHP {version[0]}.{version[1]})", launch.started_at, False, KNOB)]
    assumption = (
        "PHP-FPM from PHP 8.2 passes -1 (somaxconn) by default (php/php-src#8410; its first release is inferred)"
        if version is not None
        else "the PHP version is not in the image tag: assumed 8.2 or later, whose default listen.backlog is somaxconn"
    )
    return [
        Listener(
            NAME, "*", DEFAULT_PORT, -1, "backlog = net.core.somaxconn (default listen.backlog -1)", launch.started_at, False, KNOB,
            above_somaxconn="follows", assumption=assumption,
        )
    ]
