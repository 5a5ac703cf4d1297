"""One function per command; each takes the validated Config and returns an exit code."""

from __future__ import annotations

import argparse
import sys

from .config import Config
from .discover import read_cards
from .errors import UserError, has_errors


def run(command: str, cfg: Config, args: argparse.Namespace) -> int:
    if command == "check":
        return check(cfg)
    if command == "build":
        from .build import build

        return build(cfg)
    if command == "serve":
        from .serve import serve

        return serve(cfg, args.port)
    if command == "fetch":
        from .fetch import run_fetch_args

        return run_fetch_args(args, cfg.project, store=cfg.store)
    if command == "eval":
        from .evalcmd import run_eval

        return run_eval(cfg, args)
    if command == "serve":
        from .serve import serve

        return serve(cfg, args.port)
    if command == "setup":
        from .setup import setup

        return setup(cfg)
    raise UserError(f"build-site: the {command!r} command is not available yet")


def check(cfg: Config) -> int:
    """Everything a build validates before it runs anything: cards, registries, the store lock
    and the verify specs. Nothing is run, fetched or written."""
    from .verify import validate_inputs

    cards, _tags, problems = read_cards(cfg.cards)
    if not has_errors(problems):
        problems.extend(validate_inputs(cfg, cards)[1])
    if has_errors(problems):
        raise UserError(problems)
    for d in problems:
        print(d, file=sys.stderr)
    print(f"{len(cards)} card(s) OK", file=sys.stderr)
    return 0
