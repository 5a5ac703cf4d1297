"""The UI string catalog (`templates/i18n.yaml`, or a cards folder's own `i18n.yaml`): every string
the site shows that is not card text.

Format: a mapping `key -> {en_US: text, zh_CN: text}`. Texts may hold `{name}` placeholders for
`str.format`; both languages must use the same placeholders. Loading checks that every key has
both languages, and `check_templates` checks that every `t("key")` in the templates exists, so a
missing translation is a build error, not a blank on the live site.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from generator.cards.registry import InputFileError, YamlProblem, load_yaml, read_input
from generator.core.errors import Code, Diagnostic, UserError, error
from generator.core.model import LANGS


@dataclass(frozen=True)
class Catalog:
    path: str
    strings: Mapping[str, Mapping[str, str]]  # key -> lang -> text
    lines: Mapping[str, int] = field(default_factory=dict)  # key -> its line in the file

    def get(self, lang: str, key: str, **params: object) -> str:
        try:
            text = self.strings[key][lang]
        except KeyError:
            raise UserError([error(Code.REGISTRY, f"UI string {key!r} missing for {lang}", self.path, 1)])
        if not params:
            return text
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError) as exc:  # check_against catches this before a build
            raise UserError([error(Code.REGISTRY, f"UI string {key!r} ({lang}) cannot be filled in: "
                                   f"{type(exc).__name__} {exc}", self.path, 1)]) from None


def _placeholders(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


def _placeholder_problem(text: str) -> str | None:
    """Only `{name}` and `{name:spec}` with a plain name: `str.format` would also follow
    `{n.__class__...}` and `{n[...]}`, which would let a catalog print the tool's internals."""
    try:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        return f"is not a valid text with {{placeholders}} ({exc}; write {{{{ and }}}} for braces)"
    for name, spec in fields:
        if not name.isidentifier() or "{" in (spec or ""):
            return f"has placeholder {{{name}}}: only plain names like {{n}} are allowed"
    return None


def check_against(catalog: Catalog, reference: Catalog) -> list[Diagnostic]:
    """A cards folder's own catalog may word every string, but may use only the placeholders the
    tool fills in (those of the tool's catalog): any other would fail while a page renders."""
    diags = []
    for key in sorted(set(catalog.strings) & set(reference.strings)):
        allowed = frozenset().union(*(_placeholders(t) for t in reference.strings[key].values()))
        for lang, text in sorted(catalog.strings[key].items()):
            extra = sorted(_placeholders(text) - allowed)
            if extra:
                diags.append(error(Code.REGISTRY, f"UI string {key!r} ({lang}) uses {{{extra[0]}}}, which the "
                                   f"site does not fill in (it has: {', '.join(sorted(allowed)) or 'none'})",
                                   catalog.path, catalog.lines.get(f"{key}.{lang}", catalog.lines.get(key, 1))))
    return diags


def parse_catalog(path: str, text: str) -> Catalog:
    """The catalog in `text`; the same (path, text) gives the same (read-only) Catalog again:
    the read and site stages and the badges each ask for it, and `serve` in every build."""
    return _parse_catalog(path, text)


@functools.lru_cache(maxsize=8)
def _parse_catalog(path: str, text: str) -> Catalog:
    diags: list[Diagnostic] = []
    try:
        doc = load_yaml(text)
    except YamlProblem as p:
        raise UserError([error(p.code, p.message("the UI catalog"), path, p.line)])
    data = doc.data
    if not isinstance(data, dict):
        raise UserError([error(Code.REGISTRY, "UI catalog must be a mapping of keys", path, 1)])
    lines = doc.lines
    strings: dict[str, dict[str, str]] = {}
    for key in sorted(data, key=str):
        entry = data[key]
        line = lines.get(str(key), 1)
        if not isinstance(entry, dict):
            diags.append(error(Code.REGISTRY, f"UI string {key!r} must map languages to text", path, line))
            continue
        texts: dict[str, str] = {}
        for lang in LANGS:
            value = entry.get(lang)
            if not isinstance(value, str) or not value.strip():
                diags.append(error(Code.REGISTRY, f"UI string {key!r} has no {lang} text", path, line))
            elif _placeholder_problem(value) is not None:
                diags.append(error(Code.REGISTRY, f"UI string {key!r} ({lang}) {_placeholder_problem(value)}",
                                   path, line))
            else:
                texts[lang] = value
        extra = sorted(set(map(str, entry)) - set(LANGS))
        if extra:
            diags.append(error(Code.REGISTRY, f"UI string {key!r} has unknown languages {extra}", path, line))
        if len(texts) == len(LANGS):
            ph = {lang: _placeholders(t) for lang, t in texts.items()}
            if len(set(ph.values())) > 1:
                diags.append(error(Code.REGISTRY, f"UI string {key!r} uses different placeholders per language", path, line))
        strings[str(key)] = texts
    if diags:
        raise UserError(diags)
    return Catalog(path, strings, dict(lines))


def load_catalog(path: Path, display_path: str | None = None) -> Catalog:
    shown = display_path or str(path)
    try:
        text = read_input(path, shown, within=path.parent)
    except InputFileError as exc:
        raise UserError([exc.diagnostic]) from None
    return parse_catalog(shown, text)


_T_CALL = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.-]+)["']""")


def check_templates(catalog: Catalog, templates: Mapping[str, str]) -> None:
    """Every literal `t("key")` in the templates must exist in the catalog (name -> source)."""
    diags = []
    for name in sorted(templates):
        for n, line in enumerate(templates[name].splitlines(), 1):
            for key in _T_CALL.findall(line):
                if key not in catalog.strings:
                    diags.append(error(Code.REGISTRY, f"template uses UI string {key!r} that {catalog.path} lacks",
                                       f"templates/{name}", n))
    if diags:
        raise UserError(diags)
