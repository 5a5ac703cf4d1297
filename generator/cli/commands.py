"""One function per command; each takes the validated Config and returns an exit code."""

from __future__ import annotations

import argparse
import sys

from generator.cli.config import Config
from generator.cards.discover import read_cards
from generator.core.errors import UserError, has_errors


def run(command: str, cfg: Config, args: argparse.Namespace) -> int:
    if command == "check":
        return check(cfg)
    if command == "build":
        from generator.cli.build import build

        return build(cfg)
    if command == "serve":
        from generator.cli.serve import serve

        return serve(cfg, args.port)
    if command == "fetch":
        from generator.store.fetch import run_fetch_args

        return run_fetch_args(args, cfg.project, store=cfg.store)
    if command == "eval":
        from generator.cli.eval import run_eval

        return run_eval(cfg, args)
    if command == "serve":
        from generator.cli.serve import serve

        return serve(cfg, args.port)
    if command == "setup":
        from generator.cli.setup import setup

        return setup(cfg)
    raise UserError(f"build-site: the {command!r} command is not available yet")


def check(cfg: Config) -> int:
    """Everything a build validates before it runs anything: cards, registries, the store lock
    and the verify specs. Nothing is run, fetched or written."""
    from generator.claims.verify import validate_inputs

    cards, _tags, problems = read_cards(cfg.cards)
    if not has_errors(problems):
        problems.extend(validate_inputs(cfg, cards)[1])
    if has_errors(problems):
        raise UserError(problems)
    for d in problems:
        print(d, file=sys.stderr)
    print(f"{len(cards)} card(s) OK", file=sys.stderr)
    return 0
