"""The small pieces the corpus relies on, each on its own: the file reader, the id rule, the
URL check of the writer, text made safe for the terminal, XML and pages, JUnit output."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from generator.core.errors import Code, UserError, error
from generator.core.files import InputFileError, decode, read_bytes
from generator.core.ids import id_problem, is_id
from generator.core.model import BlockResult, CardVerification, ProgramResult
from generator.core.text import escape_controls, for_terminal, for_xml, one_line
from generator.site.report import junit_xml
from generator.site.write import FolderWriter, safe_url

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\x00\x08\x0b\x0c\x7f\x9b\ud800\ufffe tail"


def _reason(path: Path, **kw: object) -> str:
    with pytest.raises(InputFileError) as exc:
        read_bytes(path, "x", **kw)  # type: ignore[arg-type]
    return exc.value.diagnostic.message


def test_reader_refuses_devices_folders_and_links_out_of_the_folder(tmp_path: Path) -> None:
    assert _reason(Path("/dev/zero")) == "a character device, not a file"
    assert _reason(tmp_path) == "a folder, not a file"
    (tmp_path / "in").mkdir()
    os.symlink("/dev/null", tmp_path / "in" / "null.md")
    assert "outside in/" in _reason(tmp_path / "in" / "null.md", within=tmp_path / "in")
    assert _reason(tmp_path / "in" / "null.md") == "a symlink to a character device, not a file"
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    assert _reason(big, limit=100) == "101 bytes; an input file may have at most 100"
    assert read_bytes(big, "x", limit=101) == b"x" * 101


def test_decode_names_line_column_and_byte() -> None:
    with pytest.raises(InputFileError) as exc:
        decode("ok\nnaïve \x80".encode("utf-8").replace(b"\xc2\x80", b"\x80"), "f")
    d = exc.value.diagnostic
    assert (d.loc.line, d.code, d.message) == (2, Code.ENCODING, "not valid UTF-8 (byte 0x80 at column 7)")
    assert decode("\ufeffa".encode("utf-8"), "f") == "a"  # a byte-order mark is dropped


@pytest.mark.parametrize("value,ok", [("resnet", True), ("a.b-c_d", True), ("..", False), (".x", False),
                                      ("../x", False), ("a/b", False), ("evil\n", False), ("a b", False),
                                      ("x" * 101, False), ("", False), (3, False), ("ü", False)])
def test_one_id_rule(value: object, ok: bool) -> None:
    assert is_id(value) is ok
    assert (id_problem("tag id", value) is None) is ok


@pytest.mark.parametrize("url", ["../x/index.html", "en/../../x", "/etc/x", "a\\b", "en//x", "a\nb", "", ".."])
def test_the_writer_never_writes_outside_its_folder(tmp_path: Path, url: str) -> None:
    with pytest.raises(UserError):
        FolderWriter(tmp_path / "site").write(url, b"x")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
    assert safe_url("en/tags/a.b/index.html", tmp_path) == "en/tags/a.b/index.html"


def test_text_for_each_destination() -> None:
    assert for_terminal(HOSTILE) == "red\ud800\ufffe tail"
    assert "\n" not in one_line("a\nb\r\nc\td") and one_line("a\nb") == "a b"
    ET.fromstring(f"<a b='{for_xml(HOSTILE)}'>{for_xml(HOSTILE)}</a>")
    assert escape_controls("a\x00b\x07c\x1b[31md") == "a\\x00b\\x07cd"


def test_a_diagnostic_is_one_line_whatever_it_quotes() -> None:
    d = error(Code.SNIPPET_FAILED, "failed: \x1b[31mboom\x1b[0m\nsecond line\x07", "cards/evil\n.md", 3)
    assert str(d) == "cards/evil\\n.md:3: error: failed: boom second line [snippet-failed]"


def test_junit_is_well_formed_whatever_a_snippet_printed() -> None:
    bad = BlockResult("en_US", 0, 20, "failed", stdout=HOSTILE, reason=HOSTILE, traceback=HOSTILE)
    skipped = BlockResult("zh_CN", 0, 12, "skipped", reason=HOSTILE)
    cv = CardVerification("c", (ProgramResult("c", ("en_US",), (bad,), "k", "t"),
                                ProgramResult("c", ("zh_CN",), (skipped,), "k2", "t")))
    root = ET.fromstring(junit_xml([cv]))
    failure = root.find(".//failure")
    assert failure is not None and "red" in failure.get("message", "") and "\x1b" not in failure.get("message", "")
