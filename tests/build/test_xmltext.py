"""core/xmltext.py gives the text xml.sax.saxutils gives (badges and the sitemap are written with it)."""

from __future__ import annotations

from xml.sax.saxutils import escape as sax_escape, quoteattr as sax_quoteattr

import pytest

from generator.core.xmltext import escape, quoteattr

SAMPLES = ["", "plain", "a & b", "<script>", "x > y < z", 'say "hi"', "it's", "both \" and '",
           "tab\tnew\nline\rret", "&amp; already", "中文 <b>", "\"'<&>\n"]


@pytest.mark.parametrize("text", SAMPLES)
def test_the_same_text_as_the_standard_library(text: str) -> None:
    assert escape(text) == sax_escape(text)
    assert quoteattr(text) == sax_quoteattr(text)
