"""`build-site fetch` says what it wrote when some items fail: the lock it updated and the items
it put into the store, never "nothing was written" after "updated cards/store.lock.json"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _item(url: str, source: str, repo: str, sha256: str = "", size: int = 0) -> dict[str, object]:
    return {"url": url, "kind": "hub-repo", "sha256": sha256, "size": size, "source": source,
            "substitute": False, "note": "", "repo": repo, "branch": "master", "commit": None}


def test_fetch_with_an_error_after_updating_the_lock_says_so(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "cards").mkdir(parents=True)
    (project / "myhub").mkdir()
    (project / "myhub" / "hubconf.py").write_text("def entry():\n    return 1\n", encoding="utf-8")
    lock = {"version": 1, "items": [
        _item("https://github.com/me/myhub", "path:myhub", "me/myhub", "0" * 64, 1),  # stale hash
        _item("https://github.com/megengine/models", "https://github.com/megengine/models/archive/master.zip",
              "megengine/models"),  # cannot be fetched (nothing listens there)
    ]}
    (project / "cards" / "store.lock.json").write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "HUB_STORE"}
    proc = subprocess.run([sys.executable, "-m", "generator", "fetch", "--project", str(project),
                           "--store", str(tmp_path / "store"), "--git-host", "http://127.0.0.1:9", "--timeout", "5"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "updated cards/store.lock.json" in proc.stdout
    assert "nothing was written" not in proc.stderr
    assert "build-site: 1 error(s); wrote only cards/store.lock.json and 1 item(s) into the store" in proc.stderr
    new = json.loads((project / "cards" / "store.lock.json").read_text(encoding="utf-8"))
    assert new["items"][0]["sha256"] != "0" * 64
