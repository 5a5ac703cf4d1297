from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.core.errors import Code, UserError
from generator.store.lock import Lock, LockItem, dump_lock, parse_lock, read_lock, write_lock

SHA_A = "a" * 64
SHA_B = "b" * 64

CANONICAL = """\
{
  "version": 1,
  "items": [
    {
      "url": "https://data.megengine.org.cn/images/cat.jpg",
      "kind": "file",
      "sha256": "%(a)s",
      "size": 10,
      "source": "package:scikit-image/skimage/data/chelsea.png",
      "substitute": true,
      "note": "scikit-image's chelsea photo stands in for the cat picture"
    },
    {
      "url": "https://data.megengine.org.cn/models/weights/resnet18_naiveaug_70312_78a63ca6.pkl",
      "kind": "weights",
      "sha256": "",
      "size": 0,
      "source": "https://data.megengine.org.cn/models/weights/resnet18_naiveaug_70312_78a63ca6.pkl",
      "substitute": false
    },
    {
      "url": "https://github.com/megengine/models",
      "kind": "hub-repo",
      "sha256": "%(b)s",
      "size": 1234,
      "source": "https://github.com/megengine/models/archive/master.zip",
      "substitute": false,
      "repo": "megengine/models",
      "branch": "master",
      "commit": null
    }
  ]
}
""" % {"a": SHA_A, "b": SHA_B}


def test_canonical_lock_round_trips_byte_for_byte() -> None:
    lock, diags = parse_lock(CANONICAL)
    assert diags == []
    assert [it.kind for it in lock.items] == ["file", "weights", "hub-repo"]
    assert lock.items[0].substitute and lock.items[0].source_kind == "package"
    assert lock.items[2].repo == "megengine/models" and lock.items[2].commit is None
    assert dump_lock(lock) == CANONICAL


def test_dump_sorts_by_url_and_normalises(tmp_path: Path) -> None:
    data = json.loads(CANONICAL)
    data["items"].reverse()
    del data["items"][0]["substitute"]  # defaults to false, written out explicitly
    lock, diags = parse_lock(json.dumps(data))
    assert diags == []
    out = tmp_path / "cards" / "store.lock.json"
    write_lock(out, lock)
    assert out.read_text(encoding="utf-8") == CANONICAL
    assert read_lock(out) == lock
    assert [p.name for p in out.parent.iterdir()] == ["store.lock.json"]  # no temp left


def test_with_item_replaces_by_url_and_keeps_order() -> None:
    lock, _ = parse_lock(CANONICAL)
    item = LockItem("https://a.example/x.bin", "file", SHA_A, 3, "https://a.example/x.bin")
    lock2 = lock.with_item(item).with_item(item)
    assert [it.url for it in lock2.items] == sorted(it.url for it in lock2.items)
    assert len(lock2.items) == len(lock.items) + 1
    assert lock2.get(item.url) == item


def test_missing_lock_is_empty(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "nope.json") == Lock()


def _lines(diags: list) -> list[tuple[int, str]]:
    return [(d.loc.line, d.message) for d in diags]


def _item_text(**fields: object) -> str:
    base = {"url": "https://x.example/a.pkl", "kind": "weights", "sha256": SHA_A, "size": 1,
            "source": "https://x.example/a.pkl"}
    base.update(fields)
    return json.dumps({"version": 1, "items": [{"url": "https://x.example/ok.pkl",
                                                  "kind": "weights", "sha256": "", "size": 0,
                                                  "source": "build:conv"}, base]}, indent=2)


# (text, expected line, fragment of the message)
CASES = [
    ('{\n  "version": 1,\n  "items": [\n    {"url": 1,}\n  ]\n}\n', 4, "invalid JSON"),
    ('[1, 2]', 1, "JSON object"),
    ('{\n  "version": 2,\n  "items": []\n}', 2, "`version` must be 1"),
    ('{\n  "version": 1,\n  "items": {}\n}', 3, "`items` must be a list"),
    ('{\n  "version": 1,\n  "extra": 0,\n  "items": []\n}', 3, "unknown key 'extra'"),
    ('{\n  "version": 1,\n  "version": 1,\n  "items": []\n}', 3, "duplicate key"),
    (_item_text(kind="model"), 13, "`kind` must be one of"),
    (_item_text(sha256="ABC"), 14, "`sha256` must be 64"),
    (_item_text(size=-1), 15, "non-negative"),
    (_item_text(size=True), 15, "non-negative"),
    (_item_text(source="ftp://x"), 16, "`source` must be"),
    (_item_text(source="package:skimage"), 16, "package:<dist>/<file"),
    (_item_text(url="cat.jpg"), 12, "`url` must be an http(s) URL"),
    (_item_text(colour="red"), 17, "unknown item key 'colour'"),
    (_item_text(repo="a/b"), 17, "only allowed on hub-repo"),
    (_item_text(substitute="yes"), 17, "`substitute` must be true or false"),
    (_item_text(kind="hub-repo"), 11, "needs `repo`"),
    (_item_text(kind="hub-repo", repo="a/b"), 12, "must be https://github.com/a/b"),
    (_item_text(url="https://x.example/ok.pkl"), 11, "duplicate url"),
]


@pytest.mark.parametrize("text,line,fragment", CASES)
def test_diagnostics_point_at_the_line(text: str, line: int, fragment: str) -> None:
    _, diags = parse_lock(text, "cards/store.lock.json")
    assert diags, "expected a diagnostic"
    assert all(d.code is Code.LOCKFILE and d.loc.path == "cards/store.lock.json" for d in diags)
    assert (line, fragment) in [(ln, fragment) for ln, msg in _lines(diags) if fragment in msg], (
        _lines(diags))


def test_missing_field_is_reported_at_the_item_and_every_problem_is_listed() -> None:
    text = ('{\n  "version": 1,\n  "items": [\n    {\n      "url": "https://x/a",\n'
            '      "kind": "file"\n    },\n    {\n      "url": "https://x/b", "kind": "nope",'
            ' "sha256": "", "size": 0, "source": "build:x"\n    }\n  ]\n}\n')
    lock, diags = parse_lock(text)
    assert lock.items == ()
    lines = _lines(diags)
    assert (4, "item is missing `sha256`") in lines
    assert (4, "item is missing `source`") in lines
    assert any(ln == 9 and "`kind`" in msg for ln, msg in lines)
    with pytest.raises(UserError) as exc:
        raise UserError(diags)
    assert "cards/store.lock.json:4: error: item is missing `size` [lockfile]" in str(exc.value)


def test_read_lock_raises_user_error(tmp_path: Path) -> None:
    f = tmp_path / "store.lock.json"
    f.write_text('{"version": 1,\n "items": [\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"cards/store.lock.json:3: error: invalid JSON"):
        read_lock(f)
