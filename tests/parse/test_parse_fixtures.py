"""Good cards in, parsed structure out (`good/<name>.json`; `--regen-golden` rewrites them)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from generator.cards.tags import load_tags
from generator.cards.parse import parse_card

HERE = Path(__file__).parent
GOOD = sorted((HERE / "good").glob("*.md"))
TAGS, _ = load_tags(HERE.parent.parent / "cards")


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in ("source", "body", "tokens", "markdown_env", "tokens_dropped")}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("card", GOOD, ids=[p.stem for p in GOOD])
def test_good_card_structure(card: Path, regen: bool) -> None:
    parsed, diags = parse_card(f"good/{card.name}", card.read_text(encoding="utf-8"), TAGS)
    assert parsed is not None, [str(d) for d in diags]
    got = json.dumps({"card": _plain(parsed), "diagnostics": [str(d) for d in diags]},
                     indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    expected = card.with_suffix(".json")
    if regen:
        expected.write_text(got, encoding="utf-8")
    assert json.loads(got) == json.loads(expected.read_text(encoding="utf-8"))


def test_section_body_lines_match_source() -> None:
    card = HERE / "good" / "resnet.md"
    text = card.read_text(encoding="utf-8")
    parsed, _ = parse_card("resnet.md", text, TAGS)
    assert parsed is not None
    lines = text.split("\n")
    for sec in parsed.sections.values():
        assert lines[sec.loc.line - 1].startswith("<!-- section:")
        assert sec.body.split("\n")[0] == lines[sec.body_line - 1]
        for snip in sec.snippets:
            assert lines[snip.loc.line - 1].startswith("```")
            assert lines[snip.code_line - 1] == snip.code.split("\n")[0]
        for table in sec.tables:
            assert lines[table.loc.line - 1].startswith("|")
            for row, line in zip(table.rows, table.row_lines):
                assert lines[line - 1].lstrip("| ").startswith(row[0])


def test_program_is_prelude_then_python_blocks() -> None:
    parsed, _ = parse_card("marks.md", (HERE / "good" / "marks.md").read_text(encoding="utf-8"), TAGS)
    assert parsed is not None
    program = parsed.program("en_US")
    assert [s.lang for s in program] == ["prelude", "en_US", "en_US"]
    assert program[1].mark("skip") is not None and program[1].mark("skip").value == "needs a GPU"  # type: ignore[union-attr]
    assert {m.kind for m in program[2].marks} == {"expect-error", "timeout", "output-contains"}
    assert parsed.sections["en_US"].tables[0].marks[0].value == "ignore"
    assert parsed.meta.verify == {"dataset": "fashion-mnist-test"}
