"""`build-site check`: everything a build validates before it runs anything (cards, registries,
the store lock, the verify specs). Nothing is run, fetched or written."""

from __future__ import annotations

import argparse
import sys

from generator.cli.config import Config
from generator.cli.inputs import read_inputs
from generator.core.errors import UserError, has_errors


def run(cfg: Config, args: argparse.Namespace) -> int:
    inputs, problems = read_inputs(cfg, verification=True)
    if has_errors(problems):
        raise UserError(problems)
    for d in problems:
        print(d, file=sys.stderr)
    print(f"{len(inputs.cards)} card(s) OK", file=sys.stderr)
    return 0
