"""`--eval-eager` reaches the evaluator's options: the compiled graph is the default, and a user
who wants the reference path (every batch eager) can ask for it on build and eval alike."""

from pathlib import Path

import pytest

from generator.cli import config_from, parser
from generator.cli.config import eval_options

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", ["build", "eval"])
def test_eval_eager_turns_the_compiled_graph_off(command: str) -> None:
    default = eval_options(config_from(parser().parse_args([command, "--project", str(ROOT)])), progress=False)
    eager = eval_options(config_from(parser().parse_args([command, "--project", str(ROOT), "--eval-eager"])),
                         progress=False)
    assert default.compiled is True
    assert eager.compiled is False
