"""somaxlint's nginx lexer against crossplane's, in one process.

    python bench/lexer.py                  # the shared corpus, 30 rounds
    python bench/lexer.py --rounds 50 --corpus /path/to/corpus

The inputs are every file under ``<corpus>/nginx`` and every nginx text
somaxlint parses while linting ``<corpus>/k8s`` (ConfigMap data and the
images' built-in configs, recorded in-process from what is handed to
``parse_nginx``), deduplicated by text.  Each round lexes all of them to the
last token with one lexer, then with the other (alternating which goes
first); the same for the texts without ``*_by_lua_block`` (which both
settings hand to crossplane's lexer), and for whole ``parse_nginx`` calls.
The figures are medians over the rounds.  Before timing, both lexers'
tokens are compared: a difference stops the benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

import somaxlint.load as load_module  # noqa: E402
import somaxlint.load.nginx_text as nginx_text  # noqa: E402
import somaxlint.servers.nginx.config as nginx_config  # noqa: E402
from somaxlint.cli import main as lint_main  # noqa: E402
from somaxlint.load.nginx_lexer import crossplane_lex_text, lex_text, needs_crossplane  # noqa: E402


def corpus_nginx_files(corpus):
    texts = []
    for dirpath, _, names in os.walk(os.path.join(corpus, "nginx")):
        for name in sorted(names):
            with open(os.path.join(dirpath, name), "rb") as handle:
                texts.append(handle.read().decode("utf-8-sig", "replace"))
    return texts


def embedded_configs(corpus):
    """nginx texts somaxlint parses while linting ``<corpus>/k8s``: ConfigMap
    data and the built-in configs of the images that mount them."""
    seen = []
    real = nginx_text.parse_nginx

    def recording(text):
        seen.append(text)
        return real(text)

    saved = load_module.parse_nginx, nginx_config.parse_nginx
    load_module.parse_nginx = nginx_config.parse_nginx = recording
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            lint_main(["--format", "json", os.path.join(corpus, "k8s")])
    finally:
        load_module.parse_nginx, nginx_config.parse_nginx = saved
    return list(dict.fromkeys(seen))


def outcome(lexer, text):
    tokens = []
    try:
        for token in lexer(text, "<bench>"):
            tokens.append(token)
    except Exception as exc:  # the same error, at the same point
        tokens.append((type(exc).__name__, str(exc), getattr(exc, "lineno", None)))
    return tokens


def lex_all(lexer, texts):
    start = time.perf_counter()
    for text in texts:
        try:
            for _ in lexer(text, "<bench>"):
                pass
        except Exception:
            pass
    return time.perf_counter() - start


def parse_all(which, texts):
    saved = nginx_text.LEXER
    nginx_text.LEXER = which
    try:
        start = time.perf_counter()
        for text in texts:
            nginx_text.parse_nginx(text)
        return time.perf_counter() - start
    finally:
        nginx_text.LEXER = saved


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=os.path.join(os.path.dirname(REPO), "shared", "corpus"))
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.corpus, "nginx")):
        sys.exit(f"bench: no nginx corpus under {args.corpus}")

    files = corpus_nginx_files(args.corpus)
    embedded = embedded_configs(args.corpus)
    texts = list(dict.fromkeys(files + embedded))
    size = sum(len(t) for t in texts)
    lua = sum(needs_crossplane(t) for t in texts)
    for text in texts:
        if outcome(lex_text, text) != outcome(crossplane_lex_text, text):
            sys.exit("bench: the lexers disagree on a text:\n" + text[:2000])

    plain = [t for t in texts if not needs_crossplane(t)]
    lexers = {"crossplane": crossplane_lex_text, "somaxlint": lex_text}
    measures = {
        "lex (tokens only), all texts": lambda which: lex_all(lexers[which], texts),
        f"lex, the {len(plain)} texts without *_by_lua_block": lambda which: lex_all(lexers[which], plain),
        "parse_nginx (lex + crossplane parse + analyse), all texts": lambda which: parse_all(which, texts),
    }
    times = {label: {"crossplane": [], "somaxlint": []} for label in measures}
    for round_ in range(args.rounds):
        order = ["crossplane", "somaxlint"] if round_ % 2 == 0 else ["somaxlint", "crossplane"]
        for label, measure in measures.items():
            for which in order:
                times[label][which].append(measure(which))

    print(
        f"{len(texts)} nginx texts ({len(files)} corpus files, {len(embedded)} from linting the manifests, "
        f"deduplicated; {size / 1024:.0f} KiB; {lua} use *_by_lua_block and go to crossplane's lexer); "
        f"tokens identical; medians of {args.rounds} alternating rounds"
    )
    for label, pair in times.items():
        old, new = statistics.median(pair["crossplane"]), statistics.median(pair["somaxlint"])
        print(f"  {label}")
        print(f"    crossplane lexer  {old * 1000:8.1f} ms")
        print(f"    somaxlint lexer   {new * 1000:8.1f} ms   {old / new:5.2f}x faster")

if __name__ == "__main__":
    main()
