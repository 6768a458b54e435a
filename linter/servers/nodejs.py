"""Node.js: `server.listen()` asks for 511 unless the code passes a backlog.

Sources (../shared/facts/servers.md §2.13, servers-2.md): `lib/net.js`
`setupListenHandle()`: `this._handle.listen(backlog || 511)` ("Use a
backlog of 512 entries. We pass 511 to the listen() call because the
kernel does: backlogsize = roundup_pow_of_two(backlogsize + 1)"); the
documentation of `server.listen()`: "The default value of this parameter
is 511 (not 512)". No option or environment variable sets it: only the
code does (`listen({port, backlog})`), which the manifest does not show,
so every Node.js listener rests on the assumption that the code passes
none.  Next.js (`next start`, the standalone `server.js`) calls
`server.listen(port, hostname)`: 511 (vercel/next.js start-server.ts).

Which container runs a Node.js server: `node SCRIPT` (not the bare `node`
of the official image's CMD, which is a REPL and listens on nothing),
`next start`, and `npm`/`yarn`/`pnpm` `start` (or `run` of `serve`,
`dev`, `prod`, `preview`: a script of package.json, not in the input,
said as an assumption; `npm ci`, `npm run build` start nothing).  The official
image's entrypoint prepends `node` to a first argument that is an option
or not a command (docker-library/node docker-entrypoint.sh: `set -- node
"$@"`): a `.js` file.  The port is the code's: PORT in the environment is
taken for it (an assumption: the convention of Next.js and most
frameworks), else it is unknown.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional

from somaxlint.servers import Launch, Listener, Option, find_option, parse_int

NAME = "nodejs"
TITLE = "Node.js"
IMAGES = ("node",)
COMMANDS = ("node", "nodejs", "next", "npm", "yarn", "pnpm")
ENTRYPOINT_PREPENDS = {"node": ("-*", "*.js", "*.mjs", "*.cjs")}
DEFAULT_BACKLOG = 511
DEFAULT_PORT = None
KNOB = "the backlog of server.listen() in the code (no option or variable sets it)"
SOURCE = "lib/net.js setupListenHandle() this._handle.listen(backlog || 511); servers.md §2.13"
STARTUP_WARNING = ""

CODE_ASSUMPTION = "the application's code passes no backlog to server.listen() (the input does not show the code)"
PACKAGE_SCRIPTS = ("npm", "yarn", "pnpm")
# the package.json scripts that conventionally start the server
SERVING_SCRIPTS = ("start", "serve", "dev", "prod", "production", "preview", "start:prod")
# node's options that take the next word as their value
NODE_VALUE_OPTIONS = ("-r", "--require", "--import", "--loader", "--experimental-loader", "--env-file", "--inspect-port", "-C", "--conditions", "--title")


def listeners(launch: Launch) -> List[Listener]:
    command = launch.command or "node"
    words = [w.text for w in launch.words]
    assumptions = [CODE_ASSUMPTION]
    if command in PACKAGE_SCRIPTS:
        script = words[1] if len(words) > 1 and words[0] in ("run", "run-script") else (words[0] if words else None)
        if script not in SERVING_SCRIPTS:
            return []  # `npm ci`, `npm run build`, `yarn test`: no server
        shown = " ".join(words[:2] if words[0] in ("run", "run-script") else words[:1])
        assumptions.insert(0, f"`{command} {shown}` runs a Node.js server (package.json's script, not in the input)")
    elif command == "next":
        if not words or words[0] not in ("start", "dev"):
            return []
    elif _script(words) is None:
        return []  # the bare `node` (a REPL), `node -e`/`-p` one-liners, `node --version`
    port, said = _next_port(launch) if command == "next" else _port(launch)
    if said:
        assumptions.append(said)
    return [
        Listener(
            NAME, "*", port, DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG} (server.listen())", launch.started_at, False, KNOB,
            assumption="; ".join(assumptions),
        )
    ]


def set_backlog(value: int) -> str:
    return f"pass backlog: {value} to server.listen() in the application's code (no option or variable sets it)"


def truncation_advice(requested: int, fits: bool) -> str:
    return (
        f"Raise net.core.somaxconn for the pod to at least {requested}, and pass the queue you need as the backlog "
        "of server.listen() in the code (`listen({port, backlog})`): both limit it"
    )


def _script(words: List[str]) -> Optional[str]:
    """The script `node` runs, or None (no script: a REPL or an inline
    program)."""
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-e", "--eval", "-p", "--print", "-v", "--version", "-h", "--help", "-i", "--interactive", "--check", "-c"):
            return None
        if word in NODE_VALUE_OPTIONS:
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return word
    return None


def _port(launch: Launch):
    """The port the code listens on, as far as the input shows it: PORT in
    the environment (the convention Next.js and most frameworks read),
    else unknown."""
    word = launch.env.get("PORT")
    if word is not None and parse_int(word.text) is not None:
        return parse_int(word.text), f"the code listens on PORT ({word.text}), as Next.js and most Node.js frameworks do"
    return None, None


NEXT_PORT = Option(long=("--port",), short=("-p",))
NEXT_DEFAULT_PORT = 3000


def _next_port(launch: Launch):
    """`next start -p N` (or --port), else PORT, else Next.js's 3000
    (vercel/next.js packages/next/src/cli/next-start.ts)."""
    found = find_option(launch.words, NEXT_PORT)
    if found is not None and parse_int(found[0]) is not None:
        return parse_int(found[0]), None
    word = launch.env.get("PORT")
    if word is not None and parse_int(word.text) is not None:
        return parse_int(word.text), None
    return NEXT_DEFAULT_PORT, None
