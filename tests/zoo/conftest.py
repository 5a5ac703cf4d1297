"""Shared helpers for the zoo tests. MegEngine only ever runs in child processes (it flushes
denormals process-wide and prints to fd 2), which return JSON on their last stdout line."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "zoo"
sys.path.insert(0, str(ZOO / "tools"))

import convert_efficientnet_lite0 as converter  # noqa: E402

HUB_REPO = "verifiedhub/zoo"


def weight_urls() -> dict[str, str]:
    """WEIGHT_URLS of hubconf.py, read as text so this process never imports megengine."""
    text = (ZOO / "hubconf.py").read_text()
    base = re.search(r'^BASE_URL = "([^"]+)"', text, re.M).group(1)
    return {k: base + v for k, v in re.findall(r'^\s+"(\w+)": BASE_URL \+ "([^"]+)"', text, re.M)}


def hub_dir_name(repo: str = HUB_REPO, branch: str = "master", version: str = "1.13.0") -> str:
    owner, name = repo.split("/")
    return "_".join(version.split(".")) + "_" + hashlib.sha1(f"{owner}_{name}_{branch}".encode()).hexdigest()[:16]


def serialized_name(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:6] + "_" + os.path.basename(url)


def child_env(mge_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MGE_HOME=str(mge_home),
        MGE_DEFAULT_DEVICE="cpux",
        MGE_FASTRUN_CACHE_TYPE="MEMORY",
        # Any download attempt fails at once instead of reaching out.
        HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9",
        PYTHONWARNINGS="ignore",
    )
    env.pop("XDG_CACHE_HOME", None)
    return env


def run_child(code: str, mge_home: Path, timeout: float = 120) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code], env=child_env(mge_home), cwd=str(mge_home),
        capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def legacy_state():
    with open(converter.default_source(), "rb") as f:
        return converter.read_legacy(f)


@pytest.fixture(scope="session")
def effnet_weights(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("effnet")
    return Path(converter.convert_file(converter.default_source(), str(out)))


@pytest.fixture(scope="session")
def fmnist_record() -> dict:
    return json.loads((ZOO / "weights" / "fmnist_resnet.json").read_text())


@pytest.fixture(scope="session")
def mge_home(tmp_path_factory, effnet_weights, fmnist_record) -> Path:
    """A MGE_HOME laid out as megengine.hub expects after a download: the repository under
    hub/<version>_<sha1(owner_name_branch)[:16]>/ and each weight file under
    serialized/<sha256(url)[:6]>_<basename(url)>."""
    home = tmp_path_factory.mktemp("mge_home")
    shutil.copytree(ZOO, home / "hub" / hub_dir_name(), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (home / "serialized").mkdir()
    urls = weight_urls()
    files = {
        "efficientnet_lite0": effnet_weights,
        "fmnist_resnet": ZOO / "weights" / fmnist_record["file"],
    }
    for entry, src in files.items():
        shutil.copyfile(src, home / "serialized" / serialized_name(urls[entry]))
    return home
