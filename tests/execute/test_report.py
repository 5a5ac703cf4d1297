"""report.json and JUnit XML from verification results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path


from generator.core.model import BlockResult, CardVerification, ProgramResult
from generator.core.jsonio import atomic_write, pretty
from generator.site.report import junit_xml, report_dict


def _verifications() -> list[CardVerification]:
    both = ProgramResult("good", ("zh_CN", "en_US"), (
        BlockResult("prelude", 0, 12, "passed", duration_s=0.5, peak_mb=230.4),
        BlockResult("zh_CN", 0, 20, "passed", flags=("substitute-asset",), duration_s=0.25),
        BlockResult("en_US", 0, 40, "passed", flags=("substitute-asset",), duration_s=0.25),
    ), "a" * 64, "2026-01-01T00:00:00+00:00", {"megengine": "1.13.0"}, card_path="cards/good.md")
    zh = ProgramResult("bad", ("zh_CN",), (
        BlockResult("prelude", 0, 12, "passed"),
        BlockResult("zh_CN", 0, 20, "failed", reason="TypeError: py_apply expects tensor as inputs",
                    traceback='Traceback...\n  File "cards/bad.md", line 22\nTypeError: py_apply'),
    ), "b" * 64, "2026-01-01T00:00:00+00:00", card_path="cards/bad.md")
    en = ProgramResult("bad", ("en_US",), (
        BlockResult("prelude", 0, 12, "skipped", reason="needs a GPU"),
        BlockResult("en_US", 0, 40, "skipped", reason="needs a GPU"),
    ), "c" * 64, "2026-01-01T00:00:00+00:00", card_path="cards/bad.md")
    blocked = ProgramResult("hub", ("zh_CN",), (
        BlockResult("prelude", 0, 12, "blocked", reason="hub repository megengine/models is not in "
                    "the asset store; run: build-site fetch", cached=True),
        BlockResult("zh_CN", 0, 20, "skipped", reason="earlier block failed", cached=True),
    ), "d" * 64, "2026-01-01T00:00:00+00:00", card_path="cards/hub.md")
    return [CardVerification("good", (both,)), CardVerification("bad", (zh, en)),
            CardVerification("hub", (blocked,))]


def test_report_json(tmp_path: Path) -> None:
    path = tmp_path / "site" / "verify" / "report.json"
    atomic_write(path, pretty(report_dict(_verifications(), {"cards": "cards/", "lock": "cards/store.lock.json"})))
    data = json.loads(path.read_text())
    assert data["tool_version"] == "0.1.0"
    assert data["generated_from"]["lock"] == "cards/store.lock.json"
    assert [c["id"] for c in data["cards"]] == ["bad", "good", "hub"]
    good = data["cards"][1]
    assert good["claims"] == []
    (prog,) = good["programs"]
    assert prog["langs"] == ["zh_CN", "en_US"] and prog["cache_key"] == "a" * 64
    assert prog["environment"] == {"megengine": "1.13.0"}
    assert prog["blocks"][1] == {"lang": "zh_CN", "index": 0, "line": 20, "status": "passed",
                                 "flags": ["substitute-asset"], "duration_s": 0.25, "peak_mb": 0.0,
                                 "reason": "", "cached": False, "served": []}
    assert data["cards"][2]["programs"][0]["blocks"][0]["cached"] is True


def test_junit_xml(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    atomic_write(path, junit_xml(_verifications()))
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("bad", "zh_CN"), ("bad", "en_US"), ("good", "zh_CN"), ("good", "en_US"), ("hub", "zh_CN")]
    assert suite.get("tests") == str(len(cases)) == root.get("tests")
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert suite.get("failures") == str(len(failures)) == "2"
    assert suite.get("skipped") == str(len(skipped)) == "1"
    assert suite.get("errors") == "0"
    bad_zh = cases[0].find("failure")
    assert bad_zh is not None and bad_zh.get("type") == "failed"
    assert "py_apply expects tensor as inputs" in (bad_zh.get("message") or "")
    assert 'File "cards/bad.md", line 22' in (bad_zh.text or "")
    hub = cases[4].find("failure")
    assert hub is not None and hub.get("type") == "blocked" and "build-site fetch" in (hub.get("message") or "")
    assert skipped[0].get("classname") == "bad" and skipped[0].get("name") == "en_US"
    for c in cases:  # every time is a number; a case is failed, skipped, or neither
        float(c.get("time") or "x")
        assert not (c.find("failure") is not None and c.find("skipped") is not None)
    # the program shared by both languages counts its time once
    assert float(cases[2].get("time") or 0) == 0.75 and float(cases[3].get("time") or 0) == 0.0
    assert junit_xml([]).startswith(b"<?xml")
