"""Options of the site stage and what of the tool changes output bytes."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from generator import __version__



def package_templates() -> Path:
    """The templates the tool ships: `generator/templates/` in an installed wheel (package data),
    the checkout's top-level `templates/` when run from source (see pyproject.toml)."""
    package = Path(__file__).resolve().parents[1]
    inside = package / "templates"
    return inside if inside.is_dir() else package.parent / "templates"


DEFAULT_TEMPLATES = package_templates()
CATALOG_FILE = "i18n.yaml"  # the UI strings: next to the templates, or a cards folder's own
DEFAULT_CATALOG = DEFAULT_TEMPLATES / CATALOG_FILE
# sitemap.xml must hold absolute URLs; without --base-url this placeholder makes the need to
# configure one obvious (the .invalid TLD can never resolve) while keeping builds deterministic.
SITEMAP_FALLBACK_BASE = "https://example.invalid/"


@dataclass(frozen=True)
class SiteOptions:
    """base_url: where the site is served ("https://hub.example.org/"). When set, hreflang and
    canonical links are absolute; when empty they are relative (valid HTML, and the site still
    works from any folder or file://), and sitemap.xml falls back to SITEMAP_FALLBACK_BASE."""

    base_url: str = ""
    templates_dir: Path = DEFAULT_TEMPLATES
    catalog_path: Path = DEFAULT_CATALOG
    catalog_display: str = f"templates/{CATALOG_FILE}"  # how diagnostics name the catalog
    tool_version: str = __version__

    @classmethod
    def for_project(cls, cards_dir: Path, templates_dir: Path | None = None, base_url: str = "") -> "SiteOptions":
        """The catalog is the cards folder's `i18n.yaml` when it has one, else the templates'."""
        templates = templates_dir or DEFAULT_TEMPLATES
        # lexists, not is_file: a cards folder's i18n.yaml that is a folder or a dangling symlink
        # is its catalog, reported as unreadable, not silently replaced by the templates' one.
        catalog = next((p for p in (cards_dir / CATALOG_FILE, templates / CATALOG_FILE) if os.path.lexists(p)),
                       DEFAULT_CATALOG)
        shown = os.path.relpath(catalog) if catalog.is_absolute() else str(catalog)
        return cls(base_url=base_url, templates_dir=templates,
                   catalog_path=catalog, catalog_display=shown)

    @property
    def sitemap_base(self) -> str:
        base = self.base_url or SITEMAP_FALLBACK_BASE
        return base if base.endswith("/") else base + "/"


def tool_version(options: SiteOptions) -> str:
    """Everything in the tool that changes output bytes."""
    import jinja2
    import markdown_it
    import pygments

    return (f"verified-hub {options.tool_version}; jinja2 {jinja2.__version__}; "
            f"markdown-it-py {markdown_it.__version__}; pygments {pygments.__version__}; "
            f"python {platform.python_version()}")
