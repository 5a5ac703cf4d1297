from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from store_helpers import TINY_WEIGHTS, TINY_WEIGHTS_URL, TINYHUB, sha256, store_contents

from generator.core.errors import Code
from generator.store.lock import Lock, LockItem
from generator.hub.hubconf import weights_url_for
from generator.hub.layout import hub_cache_dirname, serialized_filename
from generator.store.content import Store, tree_hash
from generator.store.materialize import StoreCorrupted, item_digest, materialize
from generator.store.sync import sync_local

CAT_URL = "https://data.megengine.org.cn/images/cat.jpg"
CHELSEA = "package:scikit-image/skimage/data/chelsea.png"


def _chelsea_bytes() -> bytes:
    import skimage

    return (Path(skimage.__file__).parent / "data" / "chelsea.png").read_bytes()


def tiny_lock(project_rel_repo: str = "zoo") -> Lock:
    sha, size = tree_hash(TINYHUB)
    data = TINY_WEIGHTS.read_bytes()
    cat = _chelsea_bytes()
    return Lock((
        LockItem("https://github.com/testowner/tinyhub", "hub-repo", sha, size,
                 f"path:{project_rel_repo}", repo="testowner/tinyhub"),
        LockItem(TINY_WEIGHTS_URL, "weights", sha256(data), len(data), "path:zoo.pkl"),
        LockItem(CAT_URL, "file", sha256(cat), len(cat), CHELSEA, substitute=True),
        LockItem("https://data.example.invalid/absent.pkl", "weights", "3" * 64, 1,
                 "https://data.example.invalid/absent.pkl"),
    ))


@pytest.fixture
def filled(project: Path, store: Store) -> Lock:
    (project / "zoo.pkl").write_bytes(TINY_WEIGHTS.read_bytes())
    lock = tiny_lock()
    new, diags = sync_local(lock, store, project)
    assert diags == [] and new == lock
    return lock


# ---------------------------------------------------------------- MegEngine's names


def test_hub_dirname_matches_megengine() -> None:
    # Value measured with MegEngine 1.13.0 itself (see MEGENGINE.md).
    assert hub_cache_dirname("megengine", "models") == "1_13_0_e093aa62cdf8f313"
    raw = "testowner_tinyhub_dev_x_abc"  # branch '/' -> '_', commit appended
    assert hub_cache_dirname("testowner", "tinyhub", "dev/x", "abc", "1.2.3") == (
        "1_2_3_" + hashlib.sha1(raw.encode()).hexdigest()[:16])


def test_serialized_filename() -> None:
    url = "https://data.megengine.org.cn/models/weights/resnet18_naiveaug_70312_78a63ca6.pkl"
    assert serialized_filename(url) == (
        hashlib.sha256(url.encode()).hexdigest()[:6] + "_resnet18_naiveaug_70312_78a63ca6.pkl")
    assert serialized_filename("https://x.example/files/abc?token=1").endswith("_abc")


# ---------------------------------------------------------------- materialize


def test_materialize_layout(filled: Lock, store: Store, tmp_path: Path) -> None:
    assets = materialize(filled, store, tmp_path / "run")
    home = tmp_path / "run" / "mge_home"
    assert assets.mge_home == home and assets.env() == {"MGE_HOME": str(home)}
    repo_dir = home / "hub" / hub_cache_dirname("testowner", "tinyhub")
    assert sorted(p.name for p in (home / "hub").iterdir()) == [repo_dir.name]
    assert tree_hash(repo_dir) == tree_hash(TINYHUB)
    weights = home / "serialized" / serialized_filename(TINY_WEIGHTS_URL)
    assert sorted(p.name for p in (home / "serialized").iterdir()) == [weights.name]
    assert weights.read_bytes() == TINY_WEIGHTS.read_bytes()
    cat = filled.get(CAT_URL)
    assert cat is not None
    assert assets.url_map == {CAT_URL: str(store.object_path(cat.sha256))}
    assert assets.substitutes == frozenset({CAT_URL})
    assert [it.url for it in assets.missing] == ["https://data.example.invalid/absent.pkl"]
    assert "build-site fetch" in assets.blocked_reason(assets.missing[0])
    assert assets.hub_repos == {"testowner/tinyhub": tree_hash(TINYHUB)[0]}
    assert assets.weights == {TINY_WEIGHTS_URL: sha256(TINY_WEIGHTS.read_bytes())}
    # Materialising again into the same run folder is allowed.
    assert materialize(filled, store, tmp_path / "run") == assets


@pytest.mark.parametrize("link", [False, True])
def test_writes_in_the_run_cannot_reach_the_store(filled: Lock, store: Store, tmp_path: Path,
                                                  link: bool) -> None:
    before = {p: p.read_bytes() for p in store.root.rglob("*") if p.is_file()}
    assets = materialize(filled, store, tmp_path / "run", link=link)
    repo_dir = assets.mge_home / "hub" / hub_cache_dirname("testowner", "tinyhub")
    (repo_dir / "__pycache__").mkdir()
    (repo_dir / "__pycache__" / "hubconf.cpython-310.pyc").write_bytes(b"bytecode")
    target = repo_dir / "hubconf.py"
    if link:
        # Store files are read-only: a hard-linked file cannot be opened for writing
        # (except by root, which is why root gets copies by default).
        assert not os.access(store.tree_path(filled.items[0].sha256) / "hubconf.py", os.W_OK) \
            or os.geteuid() == 0
    else:
        target.write_text("corrupted = True\n", encoding="utf-8")
    after = {p: p.read_bytes() for p in store.root.rglob("*") if p.is_file()}
    assert after == before
    assert all(store.verify(it) for it in filled.items if store.has(it))


def test_only_restricts_the_run(filled: Lock, store: Store, tmp_path: Path) -> None:
    assets = materialize(filled, store, tmp_path / "run", only={CAT_URL})
    assert list(assets.url_map) == [CAT_URL] and assets.weights == {} and assets.hub_repos == {}
    assert assets.missing == ()


def test_branch_and_commit_keys(store: Store, project: Path, tmp_path: Path) -> None:
    sha, size = store.put_tree(TINYHUB)
    lock = Lock((LockItem("https://github.com/testowner/tinyhub", "hub-repo", sha, size,
                          "https://github.com/testowner/tinyhub/archive/abc.zip",
                          repo="testowner/tinyhub", branch="dev", commit="abc"),))
    assets = materialize(lock, store, tmp_path / "run")
    assert assets.hub_repos == {"testowner/tinyhub:dev@abc": sha}
    name = hub_cache_dirname("testowner", "tinyhub", "dev", "abc")
    assert (assets.mge_home / "hub" / name / "hubconf.py").is_file()


def test_item_digest(filled: Lock, store: Store) -> None:
    d1 = item_digest(filled, store)
    assert d1 == item_digest(filled, store) and len(d1) == 64
    # Listing a not-yet-available item changes the digest (a blocked run then says "locked but
    # not in the store" instead of "not in the lock"), and so does it becoming available.
    absent = filled.get("https://data.example.invalid/absent.pkl")
    assert absent is not None
    assert item_digest(Lock(tuple(i for i in filled.items if i is not absent)), store) != d1
    cat = filled.get(CAT_URL)
    assert cat is not None
    real = filled.with_item(LockItem(cat.url, cat.kind, cat.sha256, cat.size, cat.source))
    assert item_digest(real, store) != d1  # substitute flag is part of the key


# ---------------------------------------------------------------- local sources at build time


def test_sync_local_reports_stale_own_repo(project: Path, store: Store) -> None:
    (project / "zoo.pkl").write_bytes(TINY_WEIGHTS.read_bytes())
    (project / "zoo" / "hubconf.py").write_text("# edited\n", encoding="utf-8")
    lock = tiny_lock()
    new, diags = sync_local(lock, store, project)
    assert new == lock
    assert len(diags) == 1
    d = diags[0]
    assert d.code is Code.LOCKFILE and d.loc.line == lock.items[0].line
    assert "is stale" in d.message and "run `build-site fetch`" in d.message
    assert not store.has(lock.items[0])
    # With refresh (what `build-site fetch` does) the lock follows the folder.
    new, diags = sync_local(lock, store, project, refresh=True)
    repo = new.get("https://github.com/testowner/tinyhub")
    assert diags == [] and repo is not None and store.has(repo)
    assert repo.sha256 == tree_hash(project / "zoo")[0]


def test_sync_local_checks_files_and_packages(project: Path, store: Store) -> None:
    (project / "zoo.pkl").write_bytes(b"not the weights")
    lock = tiny_lock()
    broken = lock.with_item(LockItem("https://x.example/y.png", "file", "4" * 64, 1,
                                     "package:scikit-image/skimage/data/nope.png"))
    broken = broken.with_item(LockItem("https://x.example/z.png", "file", "4" * 64, 1,
                                       "package:no-such-dist-xyz/a.png"))
    _, diags = sync_local(broken, store, project)
    msgs = sorted(d.message for d in diags)
    assert len(msgs) == 3, msgs
    assert any("path:zoo.pkl has sha256" in m for m in msgs)
    assert any("nope.png is not in the installed scikit-image" in m for m in msgs)
    assert any("'no-such-dist-xyz' is not installed" in m for m in msgs)
    assert not store.has(lock.get(TINY_WEIGHTS_URL))  # type: ignore[arg-type]
    assert all(".pkl" not in p for p in store_contents(store))


# ---------------------------------------------------------------- hubconf.py, read not run


def test_weights_url_for_follows_imports_and_constants() -> None:
    assert weights_url_for(TINYHUB, "tiny") == TINY_WEIGHTS_URL
    assert weights_url_for(TINYHUB, "untrained") is None
    assert weights_url_for(TINYHUB, "TinyNet") is None
    assert weights_url_for(TINYHUB, "nothing") is None


def test_weights_url_for_patterns(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "hubconf.py").write_text(textwrap.dedent("""\
        from megengine import hub
        from pkg import *
        from pkg.sub.mod import b as renamed
        import os

        BASE = "https://cdn.example/w/"
        NAME = BASE + "direct_" "70000_aa.pkl"

        @hub.pretrained(NAME)
        def direct(**kw):
            pass

        @hub.pretrained(url=f"https://cdn.example/w/kw.pkl")
        def keyword(**kw):
            pass

        def _build():
            pass

        applied = hub.pretrained(BASE + "applied.pkl")(_build)

        @hub.pretrained(BASE + os.sep)
        def dynamic(**kw):
            pass

        @hub.pretrained("https://cdn.example/w/old.pkl")
        def redefined(**kw):
            pass

        @hub.pretrained("https://cdn.example/w/new.pkl")
        def redefined(**kw):
            pass
        """), encoding="utf-8")
    (tmp_path / "pkg" / "__init__.py").write_text(
        "from .sub.mod import a as from_star\n", encoding="utf-8")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "sub" / "mod.py").write_text(textwrap.dedent("""\
        from megengine.hub import pretrained
        from ..sub.mod import a as again  # a cycle must not loop

        @pretrained("https://cdn.example/w/a.pkl")
        class a:
            pass

        @pretrained("https://cdn.example/w/b.pkl")
        def b():
            pass
        """), encoding="utf-8")
    assert weights_url_for(tmp_path, "direct") == "https://cdn.example/w/direct_70000_aa.pkl"
    assert weights_url_for(tmp_path, "keyword") == "https://cdn.example/w/kw.pkl"
    assert weights_url_for(tmp_path, "applied") == "https://cdn.example/w/applied.pkl"
    assert weights_url_for(tmp_path, "dynamic") is None
    assert weights_url_for(tmp_path, "redefined") == "https://cdn.example/w/new.pkl"
    assert weights_url_for(tmp_path, "renamed") == "https://cdn.example/w/b.pkl"
    assert weights_url_for(tmp_path, "from_star") == "https://cdn.example/w/a.pkl"
    assert weights_url_for(tmp_path / "pkg", "x") is None  # no hubconf.py at all


# ---------------------------------------------------------------- the real thing


@pytest.mark.megengine
def test_megengine_hub_load_runs_offline_from_materialized_home(filled: Lock, store: Store,
                                                                tmp_path: Path) -> None:
    assets = materialize(filled, store, tmp_path / "run")
    code = textwrap.dedent("""\
        import megengine, megengine.hub as hub
        m = hub.load("testowner/tinyhub", "tiny", pretrained=True)
        x = megengine.tensor([[1.0, 2.0, 3.0]])
        print([round(float(v), 4) for v in m(x).numpy()[0]])
        print(hub.load("testowner/tinyhub", "untrained").fc.weight.shape)
        """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MGE_", "MEGENGINE_"))}
    # Any attempt to reach the network goes to a closed local port and fails loudly.
    env.update(assets.env(), MGE_DEFAULT_DEVICE="cpux", MGE_FASTRUN_CACHE_TYPE="MEMORY",
               https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the test wants to see where bytecode goes
    before = {p: p.read_bytes() for p in store.root.rglob("*") if p.is_file()}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path / "run",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    # fc.weight = [[0, .1, .2], [.3, .4, .5]], bias = [.5, -.5]: x·Wᵀ + b
    assert lines[0] == "[1.3, 2.1]"
    assert lines[1] == "(2, 3)"
    repo_dir = assets.mge_home / "hub" / hub_cache_dirname("testowner", "tinyhub")
    assert (repo_dir / "tinymodels" / "__pycache__").is_dir()  # MegEngine's import wrote here
    after = {p: p.read_bytes() for p in store.root.rglob("*") if p.is_file()}
    assert after == before  # ... and not into the store


def test_weights_url_for_reads_a_module_level_dict_of_urls(tmp_path: Path) -> None:
    (tmp_path / "hubconf.py").write_text(textwrap.dedent("""\
        from megengine import hub
        BASE = "https://cdn.example/w/"
        URLS = {"a": BASE + "a_70312_00aa11bb.pkl", "b": computed()}

        @hub.pretrained(URLS["a"])
        def a(**kw):
            pass

        @hub.pretrained(URLS["b"])
        def b(**kw):
            pass
        """), encoding="utf-8")
    assert weights_url_for(tmp_path, "a") == "https://cdn.example/w/a_70312_00aa11bb.pkl"
    assert weights_url_for(tmp_path, "b") is None


@pytest.mark.parametrize("what", ["object", "tree"])
def test_content_changed_in_the_store_is_refused_when_materialised(filled: Lock, store: Store, tmp_path: Path,
                                                                   what: str) -> None:
    if what == "object":
        target = next(p for p in (store.root / "objects").rglob("*") if p.is_file())
    else:
        target = next(p for p in (store.root / "trees").rglob("*.py") if p.is_file())
    target.chmod(0o644)
    target.write_bytes(target.read_bytes() + b"\n# changed in place\n")
    with pytest.raises(StoreCorrupted, match="no longer hashes to the sha256 the lock pins"):
        materialize(filled, store, tmp_path / "run")
