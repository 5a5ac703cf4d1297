"""core/jsonio.pretty writes what json.dumps(indent=2, sort_keys=True, ensure_ascii=False) writes
(report.json, the model indexes and the API files are made with it)."""

from __future__ import annotations

import json
import math
import random

import pytest

from generator.core.jsonio import pretty


def _stdlib(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


CASES = [
    {}, [], "", 0, -1, 2**70, 1.5, -0.0, 1e300, 1e-7, math.nan, math.inf, -math.inf, True, False, None,
    {"b": [1, 2.25, {"z": None, "a": "x"}], "a": {}, "c": [], "é": "中文 \"q\" \\ \n\t\u2028 \x01"},
    [(1, 2), ("a", [True, False])], {"k": {"k": {"k": [[], [{}]]}}},
    {1: "non-str keys go to the json module"}, {"x": [3, 4]},
]


@pytest.mark.parametrize("obj", CASES, ids=range(len(CASES)))
def test_the_same_bytes_as_the_json_module(obj: object) -> None:
    assert pretty(obj) == _stdlib(obj)


def test_random_documents() -> None:
    rng = random.Random(7)

    def value(depth: int) -> object:
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randrange(-10**6, 10**6)
        if kind == 2:
            return rng.uniform(-1e6, 1e6)
        if kind in (3, 4):
            return "".join(rng.choice("ab\"\\\n中ü\x7f ") for _ in range(rng.randrange(6)))
        if kind in (5, 6):
            return {"".join(rng.choice("kéy") for _ in range(3)) + str(i): value(depth + 1) for i in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))]

    for _ in range(300):
        doc = value(0)
        assert pretty(doc) == _stdlib(doc)


def test_what_json_refuses_is_still_refused() -> None:
    with pytest.raises(TypeError):
        pretty({"x": object()})
