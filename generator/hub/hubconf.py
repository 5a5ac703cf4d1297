"""Reading a hub repository's hubconf.py and the cards' `hub.load(...)` calls, without running
either: which entry points a repository offers, which weight file URL each entry's
`@hub.pretrained(URL)` names, and which repository and entries card code loads.

Only the `ast` of the files is used. Running hubconf.py would execute untrusted code in the build
process, and MegEngine itself runs it only inside sandboxed children.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


def weights_url_for(repo_tree: Path, entry: str) -> str | None:
    """The `@hub.pretrained(URL)` URL of a hub entry, found by reading (never running) the
    repository's hubconf.py and, through `from X import entry`, the module defining it."""
    return _Scanner(repo_tree).find(repo_tree / "hubconf.py", entry)


_NOT_HERE = object()


def entry_urls(repo_tree: Path) -> dict[str, str | None]:
    """Every entry hubconf.py offers with its `@hub.pretrained` URL (None: no weights), each file
    parsed once."""
    parsed: dict[Path, ast.Module | None] = {}
    return {name: _Scanner(repo_tree, parsed).find(repo_tree / "hubconf.py", name)
            for name in hub_entry_names(repo_tree)}


class _Scanner:
    def __init__(self, root: Path, parsed: dict[Path, ast.Module | None] | None = None) -> None:
        self.root = root
        self.seen: set[tuple[Path, str]] = set()
        self.parsed = parsed if parsed is not None else {}

    def find(self, module: Path, name: str) -> str | None:
        found = self._lookup(module, name)
        return found if isinstance(found, str) else None

    def _parse(self, module: Path) -> ast.Module | None:
        if module not in self.parsed:
            try:
                self.parsed[module] = ast.parse(module.read_text(encoding="utf-8"), str(module))
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
                self.parsed[module] = None
        return self.parsed[module]

    def _lookup(self, module: Path, name: str) -> object:
        """URL (str), None (defined here without weights) or _NOT_HERE."""
        if (module, name) in self.seen:
            return _NOT_HERE
        self.seen.add((module, name))
        tree = self._parse(module)
        if tree is None:
            return _NOT_HERE
        consts: dict[str, str] = {}
        result: object = _NOT_HERE
        star_modules: list[Path] = []
        for node in tree.body:  # in order: the last binding of `name` wins, as in Python
            if isinstance(node, ast.Assign):
                value = _const_str(node.value, consts)
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict):
                        # WEIGHT_URLS = {"entry": BASE + "x.pkl"}: remembered as WEIGHT_URLS[entry]
                        for k, v in zip(node.value.keys, node.value.values):
                            item = _const_str(v, consts)
                            if isinstance(k, ast.Constant) and isinstance(k.value, str) and item is not None:
                                consts[f"{target.id}[{k.value}]"] = item
                    if isinstance(target, ast.Name):
                        if value is not None:
                            consts[target.id] = value
                        else:
                            consts.pop(target.id, None)
                        if target.id == name:
                            result = _applied_pretrained(node.value, consts)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == name:
                    result = None
                    for dec in node.decorator_list:
                        url = _pretrained_arg(dec, consts)
                        if url is not None:
                            result = url
                            break
            elif isinstance(node, ast.ImportFrom):
                target_mod = self._module_file(module, node.module, node.level)
                for alias in node.names:
                    if alias.name == "*":
                        if target_mod is not None:
                            star_modules.append(target_mod)
                    elif (alias.asname or alias.name) == name:
                        result = (self._lookup(target_mod, alias.name)
                                  if target_mod is not None else _NOT_HERE)
        if result is _NOT_HERE:
            for m in star_modules:
                result = self._lookup(m, name)
                if result is not _NOT_HERE:
                    break
        return result

    def _module_file(self, current: Path, module: str | None, level: int) -> Path | None:
        if level == 0:
            base = self.root
        else:
            base = current.parent
            for _ in range(level - 1):
                base = base.parent
        parts = module.split(".") if module else []
        stem = base.joinpath(*parts)
        for candidate in (stem.with_suffix(".py") if parts else None, stem / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None


def _const_str(node: ast.expr, consts: dict[str, str]) -> str | None:
    """A string built only from literals, module-level string constants and `+`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
        return consts.get(f"{node.value.id}[{node.slice.value}]")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _const_str(node.left, consts), _const_str(node.right, consts)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    return None


def _is_pretrained(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "pretrained") or (
        isinstance(func, ast.Name) and func.id == "pretrained")


def _pretrained_arg(dec: ast.expr, consts: dict[str, str]) -> str | None:
    if not isinstance(dec, ast.Call) or not _is_pretrained(dec.func):
        return None
    if dec.args:
        return _const_str(dec.args[0], consts)
    for kw in dec.keywords:
        if kw.arg == "url":
            return _const_str(kw.value, consts)
    return None


def _applied_pretrained(value: ast.expr, consts: dict[str, str]) -> str | None:
    """`entry = hub.pretrained(URL)(builder)`."""
    if isinstance(value, ast.Call):
        return _pretrained_arg(value.func, consts)
    return None


def hub_entry_names(tree: Path) -> list[str]:
    """Public callables hubconf.py defines or imports by name (read, never run)."""
    try:
        mod = ast.parse((tree / "hubconf.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    names: list[str] = []
    for node in mod.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.ImportFrom):
            names.extend(a.asname or a.name for a in node.names if a.name != "*")
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


# ---------------------------------------------------------------- hub.load calls in card code


@dataclass(frozen=True)
class HubLoad:
    """One `….load(repo, entry, …)` call with literal arguments, as written in card code."""

    repo: str | None  # the first argument when it is a string literal
    entry: str | None  # the second argument when it is a string literal
    pretrained: bool  # `pretrained=True` is passed literally
    attribute: bool  # called as an attribute (`hub.load`), not a bare name (`load`)


def hub_loads(code: str) -> list[HubLoad]:
    """Every call of a function named `load` in `code`, in `ast.walk` order; [] when the code does
    not parse (the card parser reports that)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found: list[HubLoad] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name != "load":
            continue
        repo, entry = node.args[0], node.args[1] if len(node.args) >= 2 else None
        found.append(HubLoad(
            repo=repo.value if isinstance(repo, ast.Constant) and isinstance(repo.value, str) else None,
            entry=(entry.value if isinstance(entry, ast.Constant) and isinstance(entry.value, str) else None),
            pretrained=any(k.arg == "pretrained" and isinstance(k.value, ast.Constant) and k.value.value is True
                           for k in node.keywords),
            attribute=isinstance(func, ast.Attribute)))
    return found
