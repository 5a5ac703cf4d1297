"""Fuzzing every reader of the cards folder (Hypothesis, a fixed and small example budget so CI
stays fast; derandomized, so a run is repeatable): raw bytes, mutated cards and random registry
data. Whatever comes in, the answer is located diagnostics (one line each, a known code) or a
value: never another exception, and never slow."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cards.parse import parse_card
from generator.cards.registry import load_yaml, YamlProblem
from generator.cards.tags import load_tags
from generator.claims.datasets import load_registry
from generator.claims.spec import load_spec
from generator.core.errors import Code, Diagnostic, UserError
from generator.core.files import InputFileError, decode
from generator.site.i18n import parse_catalog
from generator.store.lock import parse_lock, read_lock

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SEEDS = [(HERE / "base" / "good.md").read_text(encoding="utf-8"),
         *(p.read_text(encoding="utf-8") for p in sorted((ROOT / "cards").glob("*.md")))]
TAGS, _ = load_tags(ROOT / "cards")
CODES = {c.value for c in Code}
LINE = re.compile(r"^[^\n]+:\d+: (error|warning): [^\n]+ \[([a-z0-9-]+)\]$")

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW_S = 2.0  # no single input may take longer (the alias bomb took 73 s)


def _well_formed(diags: list[Diagnostic]) -> None:
    for d in diags:
        m = LINE.match(str(d))
        assert m is not None, repr(str(d))
        assert m.group(2) in CODES


def _timed(fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    assert time.perf_counter() - t0 < SLOW_S
    return out


# ---------------------------------------------------------------- raw bytes

_utf8 = st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))

_REGISTRIES = ("tags.yaml", "datasets.yaml", "i18n.yaml", "store.lock.json", "good.verify.yaml")


def _read_registry(folder: Path, name: str) -> list[Diagnostic]:
    """Each registry read the way the read stage reads it; the diagnostics it gives."""
    if name == "tags.yaml":
        return load_tags(folder)[1]
    if name == "datasets.yaml":
        return load_registry(folder / name)[1]
    if name == "good.verify.yaml":
        card, _ = parse_card(str(folder / "good.md"), SEEDS[0], TAGS)
        assert card is not None
        return load_spec(card, folder)[1]
    try:
        if name == "i18n.yaml":
            from generator.site.i18n import load_catalog
            load_catalog(folder / name, f"cards/{name}")
        else:
            read_lock(folder / name, f"cards/{name}")
    except UserError as exc:
        assert exc.diagnostics
        return list(exc.diagnostics)
    return []


@FUZZ
@given(st.sampled_from(_REGISTRIES), st.one_of(st.binary(max_size=1500), _utf8))
def test_any_bytes_as_a_registry(tmp_path_factory: Any, name: str, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("cards")
    (folder / name).write_bytes(data)
    _well_formed(_timed(lambda: _read_registry(folder, name)))


# ---------------------------------------------------------------- mutated cards

_FRAGMENTS = ["---", "```", "~~~", "```python", "<!-- section: en_US -->", "<!-- section: zh_CN -->",
              "<!-- section: xx -->", "<!-- verify: skip -->", "<!-- verify: timeout=inf -->",
              "<!-- verify: timeout=1e400 -->", "<!-- verify: table=results -->", "| a | b |", "| --- | --- |",
              "| x | 1.5 |", "a: &a [x, x, x]", "b: [*a, *a, *a]", "template: *a", "verify: {repo: x}",
              "tags: [../../X]", "title: [1, 2]", "\x00", "\x1b[31m", "\ufeff", "\r", "\t", "é", "中文",
              "x" * 300, "[" * 200, "{" * 200, "    indented code", "> quote", "<script>alert(1)</script>"]


@st.composite
def mutated_card(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(lines)))
        op = draw(st.sampled_from(("insert", "delete", "duplicate", "replace")))
        frag = draw(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=40)))
        if op == "insert" or not lines:
            lines.insert(at, frag)
        elif op == "delete":
            del lines[min(at, len(lines) - 1)]
        elif op == "duplicate":
            lines[at:at] = lines[at:at + draw(st.integers(1, 5))]
        else:
            lines[min(at, len(lines) - 1)] = frag
    return "\n".join(lines)


@FUZZ
@given(st.one_of(st.binary(max_size=2000), _utf8, mutated_card().map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_any_bytes_as_a_card(data: bytes) -> None:
    try:
        text = decode(data, "cards/x.md")
    except InputFileError as exc:
        _well_formed([exc.diagnostic])
        assert exc.diagnostic.code is Code.ENCODING
        return
    card, diags = _timed(lambda: parse_card("cards/x.md", text, TAGS))
    _well_formed(diags)
    assert card is not None or any(d.level == "error" for d in diags)


@FUZZ
@given(mutated_card())
def test_mutated_cards(text: str) -> None:
    card, diags = _timed(lambda: parse_card("cards/m.md", text, TAGS))
    _well_formed(diags)
    n_lines = text.count("\n") + 2
    assert all(0 <= d.loc.line <= n_lines for d in diags)
    if card is not None:
        assert not any(d.level == "error" for d in diags)


# ---------------------------------------------------------------- random registry data

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=True),
                     st.text(max_size=20), st.sampled_from(["en_US", "zh_CN", "kind", "npz", "idx-gz",
                                                            "imagenet-folder", "../..", "{n}", "{n.x}", "{"]))
_data = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=10) | st.sampled_from(
                                                            ["en_US", "zh_CN", "kind", "size", "images", "repo",
                                                             "dataset", "preprocess", "rows", "version", "items",
                                                             "url", "sha256"]), inner, max_size=4)),
                     max_leaves=25)


def _mapping(keys: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), values, max_size=len(keys) + 1)


# The shape each registry should have, with every value free to be anything.
_SHAPES: dict[str, st.SearchStrategy[Any]] = {
    "tags.yaml": st.dictionaries(st.sampled_from(["vision", "../../X", "a\n", "Vision", "x" * 120]) | st.text(max_size=8),
                                 _mapping(["en_US", "zh_CN"], _data) | _data, max_size=4),
    "datasets.yaml": st.dictionaries(st.sampled_from(["mnist", "../x", "a b"]) | st.text(max_size=8), _mapping(
        ["kind", "size", "num_classes", "title", "env", "default", "missing", "images", "labels", "model_index"],
        st.sampled_from(["idx-gz", "npz", "imagenet-folder", "../../etc/passwd", "-1"]) | _data), max_size=3),
    "i18n.yaml": st.dictionaries(st.text(max_size=8), _mapping(["en_US", "zh_CN"], st.text(
        st.sampled_from("{}ab:.[]0!_"), max_size=12) | _data), max_size=4),
    "good.verify.yaml": _mapping(["repo", "dataset", "preprocess", "metrics", "tolerance", "rows", "batch_size",
                                  "entry_kwargs", "commit", "git_host"],
                                 _mapping(["channel_order", "resize", "crop", "mean", "std", "hub_entry", "top1"],
                                          _data) | _data),
    "store.lock.json": _mapping(["version", "items"], st.lists(_mapping(
        ["url", "kind", "sha256", "size", "source", "repo", "branch", "commit", "substitute", "note"],
        st.sampled_from(["https://x.example/a", "hub-repo", "file", "weights", "a" * 64, "path:x",
                         "package:a/b", "../../x"]) | _data), max_size=3) | _data),
}


@FUZZ
@given(st.sampled_from(_REGISTRIES).flatmap(lambda n: st.tuples(st.just(n), _SHAPES[n])))
def test_random_registry_data(tmp_path_factory: Any, named: tuple[str, Any]) -> None:
    name, data = named
    folder = tmp_path_factory.mktemp("cards")
    if name.endswith(".json"):
        text = json.dumps(data)
    else:
        text = yaml.safe_dump(data, allow_unicode=True)
    (folder / name).write_text(text, encoding="utf-8")
    _well_formed(_timed(lambda: _read_registry(folder, name)))


@FUZZ
@given(_data)
def test_yaml_loader_agrees_with_pyyaml_where_pyyaml_is_safe(data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        ours = load_yaml(text).data
    except YamlProblem as p:  # only the limits may refuse what PyYAML wrote
        assert p.code is Code.YAML_LIMIT
        return
    assert json.dumps(ours, sort_keys=True, default=str) == json.dumps(yaml.safe_load(text), sort_keys=True,
                                                                       default=str)


def test_catalog_and_lock_parsers_take_any_text() -> None:
    for text in ["", "{", "[]", "null", "a: {n.__class__}", "'{'", "a:\n  en_US: '{'\n  zh_CN: '{'\n"]:
        try:
            parse_catalog("cards/i18n.yaml", text)
        except UserError as exc:
            _well_formed(list(exc.diagnostics))
        _well_formed(parse_lock(text, "cards/store.lock.json")[1])
