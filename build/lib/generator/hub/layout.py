"""Where MegEngine 1.13's hub looks for repositories and weights under $MGE_HOME (read from
megengine/hub/fetcher.py and hub.py), so a run can be made fully offline by putting them there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_MEGENGINE_VERSION = "1.13.0"


def hub_cache_dirname(owner: str, name: str, branch: str = "master", commit: str | None = None,
                      megengine_version: str = DEFAULT_MEGENGINE_VERSION) -> str:
    """Folder name megengine.hub's fetchers give a repository under $MGE_HOME/hub (see
    megengine/hub/fetcher.py: branch '/' becomes '_', `_<commit>` is appended before hashing)."""
    raw = f"{owner}_{name}_{branch.replace('/', '_')}" + (f"_{commit}" if commit else "")
    digest = hashlib.sha1(raw.encode()).hexdigest()[:16]
    return "_".join(megengine_version.split(".")) + "_" + digest


def serialized_filename(url: str) -> str:
    """File name `load_serialized_obj_from_url` looks for under $MGE_HOME/serialized."""
    return hashlib.sha256(url.encode()).hexdigest()[:6] + "_" + os.path.basename(urlparse(url).path)


def split_repo(repo_info: str) -> tuple[str, str, str]:
    """`owner/name[:branch]` -> (owner, name, branch), branch defaulting to master as hub.load does."""
    owner_name, _, branch = repo_info.partition(":")
    owner, _, name = owner_name.partition("/")
    return owner, name, branch or "master"


def repo_tree(mge_home: Path, repo_info: str, commit: str | None = None,
              megengine_version: str = DEFAULT_MEGENGINE_VERSION) -> Path | None:
    """The materialised checkout of a repository in `mge_home`, or None when it is not there."""
    owner, name, branch = split_repo(repo_info)
    p = mge_home / "hub" / hub_cache_dirname(owner, name, branch, commit, megengine_version)
    return p if (p / "hubconf.py").is_file() else None
