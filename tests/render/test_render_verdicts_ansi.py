"""Captured output is shown without terminal colour codes."""

from generator.site.views import strip_ansi


def test_strip_ansi_removes_colour_codes_only() -> None:
    raw = "\x1b[32m26 04:55:08 \x1b[0mload_serialized_obj_from_url: using cached x.pkl\n[not a code]"
    assert strip_ansi(raw) == "26 04:55:08 load_serialized_obj_from_url: using cached x.pkl\n[not a code]"
