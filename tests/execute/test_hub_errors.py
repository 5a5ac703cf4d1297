"""Whose fault a failure is: an import that fails inside the hub repository's own files, or
MegEngine's check of the `dependencies` its hubconf.py lists, is `hub-error` (the repository's
problem); the same exception raised by card code stays `failed` (the card's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exec_support import TEST_LIMITS, AssetsFactoryDouble, load_card, run_card

pytestmark = pytest.mark.megengine

CARD = """---
template: hub1
title: Broken hub
summary:
    en_US: executor test card
    zh_CN: 执行器测试卡片
author: Test Team
tags: [vision]
github-link: https://github.com/testowner/broken
---

```python
import megengine.hub
model = megengine.hub.load("testowner/broken", "entry")
```
<!-- section: zh_CN -->
```python
{section}
```
"""

HUBS = {
    # a module the repository names but does not contain (its models/ package is there)
    "missing-module": {"hubconf.py": "import models.nothere\n\ndef entry():\n    return 1\n",
                       "models/__init__.py": ""},
    # a package it needs that is not installed
    "missing-package": {"hubconf.py": '"""needs a package"""\nimport ftfy_not_installed_here\n\n'
                                      "def entry():\n    return 1\n"},
    # `dependencies` that megengine.hub checks before loading an entry
    "dependencies": {"hubconf.py": 'dependencies = ["ftfy_not_installed_here"]\n\ndef entry():\n    return 1\n'},
}


def _run(tmp_path: Path, hub: dict[str, str], section: str = "print(model)"):  # type: ignore[no-untyped-def]
    folder = tmp_path / "hub"
    for rel, text in hub.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    card_file = tmp_path / "exec_broken.md"
    card_file.write_text(CARD.format(section=section), encoding="utf-8")
    (p,) = run_card(load_card("", card_file), AssetsFactoryDouble(hubs={"testowner/broken": folder}), TEST_LIMITS)
    return p


HUB_CODES = {"missing-module": "hub.not-in-repo", "missing-package": "hub.missing-package",
             "dependencies": "hub.missing-deps"}


@pytest.mark.parametrize("name, words", [
    ("missing-module", "the hub repository's hubconf.py line 1 imports models.nothere, which the repository "
                       "does not contain"),
    ("missing-package", "the hub repository's hubconf.py line 2 needs the Python package "
                        "'ftfy_not_installed_here', which is not installed here"),
    ("dependencies", "the hub repository's hubconf.py lists dependencies that are not installed "
                     "(ftfy_not_installed_here)"),
])
def test_hub_repository_problems_are_hub_errors(tmp_path: Path, name: str, words: str) -> None:
    p = _run(tmp_path, HUBS[name])
    prelude, section = p.blocks[0], p.blocks[1]
    assert prelude.status == "hub-error", prelude
    assert prelude.reason.startswith(words), prelude.reason
    assert section.status == "skipped"
    assert section.reason == "not run: the block at line 12 hit an error of the hub repository"
    assert prelude.reason_code == HUB_CODES[name], prelude
    assert (section.reason_code, section.reason_args) == ("stopped.hub-error", {"line": "12"})


def test_the_same_error_in_card_code_is_the_cards(tmp_path: Path) -> None:
    ok = {"hubconf.py": "def entry():\n    return 1\n"}
    p = _run(tmp_path, ok, section="import ftfy_not_installed_here")
    assert p.blocks[0].status == "passed"
    assert p.blocks[1].status == "failed" and "ModuleNotFoundError" in p.blocks[1].reason
