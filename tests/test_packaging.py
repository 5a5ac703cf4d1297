"""A non-editable install builds a site on its own: the wheel carries every module, the templates,
the static files and the UI catalog, and `build-site` from it renders the bundled cards exactly as
the checkout does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: setuptools writes build/ and *.egg-info next to the sources.
    src = tmp_path_factory.mktemp("src")
    for name in ("generator", "templates"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("verified_hub-*.whl")
    return whl


def test_wheel_holds_every_module_and_template(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "generator").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    templates = {"generator/templates/" + p.relative_to(ROOT / "templates").as_posix()
                 for p in (ROOT / "templates").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert templates <= names, sorted(templates - names)
    assert "generator/templates/i18n.yaml" in names and "generator/templates/static/site.js" in names


def test_installed_wheel_builds_the_bundled_cards(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site_packages = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    # The heavy pinned dependencies come from the project's environment (a path entry, so its
    # editable install of this project is not seen); the project itself only from the wheel.
    (site_packages / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site_packages)
    python = venv / "bin" / "python"
    elsewhere = tmp_path / "work"  # no templates/ or cards/ here: everything must come from the wheel
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HUB_STORE")}
    where = subprocess.run([str(python), "-c", "import generator; print(generator.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site_packages), where.stdout
    proc = subprocess.run([str(python), "-m", "generator", "build", "--no-verify", "--no-search",
                           "--project", str(elsewhere), "--cards", str(ROOT / "cards"),
                           "--out", str(tmp_path / "site")],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    ref = subprocess.run([sys.executable, "-m", "generator", "build", "--no-verify", "--no-search",
                          "--cards", str(ROOT / "cards"), "--out", str(tmp_path / "ref")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    pages = sorted(p.relative_to(tmp_path / "ref") for p in (tmp_path / "ref").rglob("*.html"))
    assert len(pages) > 10
    for rel in pages:
        assert (tmp_path / "site" / rel).read_bytes() == (tmp_path / "ref" / rel).read_bytes(), rel
