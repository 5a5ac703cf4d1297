from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from store_helpers import (
    TINY_WEIGHTS,
    TINYHUB,
    FakeServer,
    github_zip,
    sha256,
    store_contents,
)

from generator.core.errors import Code, UserError
from generator.cli.fetch import add_fetch_arguments, run_fetch, run_fetch_args
from generator.store.fetch import FetchOptions, archive_url, download_url, fetch_missing
from generator.store.lock import LOCK_RELPATH, Lock, LockItem, dump_lock, read_lock
from generator.store.content import Store, tree_hash

CDN = "https://data.example.invalid"
BLOB = b"weights!" * 1000


def weights_item(name: str = "w.pkl", data: bytes = BLOB, *, sha: str | None = None,
                 size: int | None = None) -> LockItem:
    url = f"{CDN}/models/{name}"
    return LockItem(url, "weights", sha256(data) if sha is None else sha,
                    len(data) if size is None else size, url)


def hub_item(sha: str = "", size: int = 0, repo: str = "testowner/tinyhub") -> LockItem:
    return LockItem(f"https://github.com/{repo}", "hub-repo", sha, size,
                    f"https://github.com/{repo}/archive/master.zip", repo=repo)


def opts(server: FakeServer) -> FetchOptions:
    return FetchOptions(git_host=server.base, mirror=server.base, timeout_s=5)


def fetch(lock: Lock, store: Store, project: Path, server: FakeServer):
    return fetch_missing(lock, store, project, opts(server))


def write(project: Path, *items: LockItem) -> Path:
    f = project / LOCK_RELPATH
    f.write_text(dump_lock(Lock(items)), encoding="utf-8")
    return f


# ---------------------------------------------------------------- URLs


def test_archive_and_mirror_urls() -> None:
    item = hub_item()
    assert archive_url(item) == "https://github.com/testowner/tinyhub/archive/master.zip"
    assert archive_url(item, "git.example.com:8443") == (
        "https://git.example.com:8443/testowner/tinyhub/archive/master.zip")
    pinned = LockItem(item.url, "hub-repo", "", 0, item.source, repo=item.repo, commit="abc123")
    assert archive_url(pinned, "http://127.0.0.1:9/") == (
        "http://127.0.0.1:9/testowner/tinyhub/archive/abc123.zip")
    w = weights_item()
    assert download_url(w) == f"{CDN}/models/w.pkl"
    assert download_url(w, "http://127.0.0.1:9/m/") == (
        "http://127.0.0.1:9/m/data.example.invalid/models/w.pkl")


def test_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert FetchOptions.resolve() == FetchOptions()
    monkeypatch.setenv("HUB_GIT_HOST", "http://127.0.0.1:1")
    monkeypatch.setenv("HUB_MIRROR", "http://127.0.0.1:2")
    o = FetchOptions.resolve()
    assert (o.git_host, o.mirror) == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert FetchOptions.resolve(git_host="example.org").git_host == "example.org"


# ---------------------------------------------------------------- successful downloads


def test_fetches_weights_and_hub_repo(server: FakeServer, store: Store, project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB)
    server.add("/testowner/tinyhub/archive/master.zip", github_zip(TINYHUB, "tinyhub-master"))
    tree_sha, tree_size = tree_hash(TINYHUB)
    lock = Lock((weights_item(), hub_item(tree_sha, tree_size)))
    new, diags = fetch(lock, store, project, server)
    assert diags == []
    assert new == lock
    assert store.object_path(sha256(BLOB)).read_bytes() == BLOB
    tree = store.tree_path(tree_sha)
    assert (tree / "hubconf.py").read_bytes() == (TINYHUB / "hubconf.py").read_bytes()
    assert (tree / "tinymodels" / "linear.py").is_file()
    assert not (tree / "tinyhub-master").exists()  # the top folder was stripped
    assert all(store.has(it) for it in lock.items)
    # A second fetch has nothing to do: no request is made.
    hits = len(server.hits)
    assert fetch(lock, store, project, server) == (lock, [])
    assert len(server.hits) == hits


def test_empty_sha_is_recorded(server: FakeServer, store: Store, project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB)
    server.add("/testowner/tinyhub/archive/master.zip", github_zip(
        TINYHUB, "tinyhub-master", {"tinyhub-master/__pycache__/x.cpython-310.pyc": b"junk"}))
    lock = Lock((weights_item(sha="", size=0), hub_item()))
    new, diags = fetch(lock, store, project, server)
    assert diags == []
    w, h = new.get(weights_item().url), new.get(hub_item().url)
    assert w is not None and (w.sha256, w.size) == (sha256(BLOB), len(BLOB))
    assert h is not None and (h.sha256, h.size) == tree_hash(TINYHUB)
    assert not (store.tree_path(h.sha256) / "__pycache__").exists()


def test_run_fetch_writes_the_lock(server: FakeServer, store: Store, project: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB)
    f = write(project, weights_item(sha="", size=0))
    assert run_fetch(project, store=store.root, git_host=server.base, mirror=server.base,
                     timeout_s=5) == 0
    assert read_lock(f).items[0].sha256 == sha256(BLOB)
    assert f.read_text(encoding="utf-8") == dump_lock(read_lock(f))
    out = capsys.readouterr().out
    assert "recorded sha256" in out and "1 of 1 items present" in out


# ---------------------------------------------------------------- failures leave no trace


def test_wrong_checksum_never_enters_the_store(server: FakeServer, store: Store,
                                               project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB)
    lock = Lock((weights_item(sha="0" * 64),))
    new, diags = fetch(lock, store, project, server)
    assert new == lock
    assert [d.code for d in diags] == [Code.FETCH]
    assert "sha256 is" in diags[0].message and "discarded" in diags[0].message
    assert store_contents(store) == []


def test_wrong_tree_hash_never_enters_the_store(server: FakeServer, store: Store,
                                                project: Path) -> None:
    server.add("/testowner/tinyhub/archive/master.zip", github_zip(TINYHUB, "tinyhub-master"))
    _, diags = fetch(Lock((hub_item("1" * 64, 10),)), store, project, server)
    assert len(diags) == 1 and "tree hash is" in diags[0].message
    assert store_contents(store) == []


def test_404_is_a_diagnostic(server: FakeServer, store: Store, project: Path) -> None:
    _, diags = fetch(Lock((weights_item(), hub_item("1" * 64, 1))), store, project, server)
    assert sorted(d.message.split(" from ")[0] for d in diags) == ["HTTP 404 Not Found"] * 2
    assert store_contents(store) == []


def test_truncated_download(server: FakeServer, store: Store, project: Path) -> None:
    # The server promises the full length, sends half, and closes the connection.
    server.add("/data.example.invalid/models/w.pkl", BLOB[: len(BLOB) // 2],
               content_length=len(BLOB))
    lock = Lock((weights_item(),))
    _, diags = fetch(lock, store, project, server)
    assert len(diags) == 1 and "truncated download" in diags[0].message
    assert f"sent {len(BLOB) // 2} of {len(BLOB)} bytes" in diags[0].message
    assert store_contents(store) == []


def test_truncated_archive(server: FakeServer, store: Store, project: Path) -> None:
    z = github_zip(TINYHUB, "tinyhub-master")
    server.add("/testowner/tinyhub/archive/master.zip", z[:-40], content_length=len(z))
    _, diags = fetch(Lock((hub_item(),)), store, project, server)
    assert len(diags) == 1 and "truncated download" in diags[0].message
    assert store_contents(store) == []


def test_content_length_disagreeing_with_lock(server: FakeServer, store: Store,
                                              project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB)
    _, diags = fetch(Lock((weights_item(size=len(BLOB) + 1),)), store, project, server)
    assert len(diags) == 1
    assert f"announces {len(BLOB)} bytes, the lock says {len(BLOB) + 1}" in diags[0].message
    assert store_contents(store) == []


def test_body_longer_than_lock_without_content_length(server: FakeServer, store: Store,
                                                      project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB + b"more", send_length=False)
    _, diags = fetch(Lock((weights_item(),)), store, project, server)
    assert len(diags) == 1 and "sent more than" in diags[0].message
    assert store_contents(store) == []


def test_body_shorter_than_lock_without_content_length(server: FakeServer, store: Store,
                                                       project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB[:-1], send_length=False)
    _, diags = fetch(Lock((weights_item(),)), store, project, server)
    assert len(diags) == 1 and "the lock says" in diags[0].message
    assert store_contents(store) == []


@pytest.mark.parametrize("evil", ["tinyhub-master/../../evil.py", "/etc/evil.py",
                                  "tinyhub-master/a/../../../evil.py"])
def test_zip_path_traversal_is_refused(server: FakeServer, store: Store, project: Path,
                                       tmp_path: Path, evil: str) -> None:
    z = github_zip(TINYHUB, "tinyhub-master", {evil: b"print('pwned')"})
    server.add("/testowner/tinyhub/archive/master.zip", z)
    _, diags = fetch(Lock((hub_item(),)), store, project, server)
    assert len(diags) == 1
    assert "unsafe path" in diags[0].message or "one top folder" in diags[0].message
    assert store_contents(store) == []
    assert not list(tmp_path.rglob("evil.py"))


def test_not_a_zip(server: FakeServer, store: Store, project: Path) -> None:
    server.add("/testowner/tinyhub/archive/master.zip", b"<html>rate limited</html>")
    _, diags = fetch(Lock((hub_item(),)), store, project, server)
    assert len(diags) == 1 and "not a valid zip" in diags[0].message
    assert store_contents(store) == []


def test_slow_server_times_out(server: FakeServer, store: Store, project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB, delay_s=2.0)
    o = FetchOptions(mirror=server.base, timeout_s=0.3)
    _, diags = fetch_missing(Lock((weights_item(),)), store, project, o)
    assert len(diags) == 1 and "timed out" in diags[0].message, diags
    assert store_contents(store) == []


def test_non_200_success_status_is_refused(server: FakeServer, store: Store,
                                           project: Path) -> None:
    server.add("/data.example.invalid/models/w.pkl", BLOB, status=203)
    _, diags = fetch(Lock((weights_item(),)), store, project, server)
    assert len(diags) == 1 and "HTTP 203" in diags[0].message
    assert store_contents(store) == []


def test_unreachable_host(store: Store, project: Path) -> None:
    o = FetchOptions(git_host="http://127.0.0.1:9", mirror="http://127.0.0.1:9", timeout_s=2)
    _, diags = fetch_missing(Lock((weights_item(),)), store, project, o)
    assert len(diags) == 1 and "cannot download" in diags[0].message


def test_run_fetch_reports_every_error_at_the_item_line(server: FakeServer, store: Store,
                                                        project: Path) -> None:
    server.add("/data.example.invalid/models/ok.pkl", b"ok")
    f = write(project, weights_item("a.pkl"), weights_item("ok.pkl", b"ok"),
              weights_item("b.pkl"),
              LockItem(f"{CDN}/conv.pkl", "weights", "", 0, "build:effnet-convert"))
    before = f.read_text(encoding="utf-8")
    with pytest.raises(UserError) as exc:
        run_fetch(project, store=store.root, git_host=server.base, mirror=server.base,
                  timeout_s=5)
    text = str(exc.value)
    lines = before.splitlines()

    def line_of(url: str) -> int:  # the item's opening brace, one line above its url
        return lines.index(f'      "url": "{url}",')

    assert f"cards/store.lock.json:{line_of(f'{CDN}/models/a.pkl')}: error: HTTP 404" in text
    assert f"cards/store.lock.json:{line_of(f'{CDN}/models/b.pkl')}: error: HTTP 404" in text
    assert f"cards/store.lock.json:{line_of(f'{CDN}/conv.pkl')}: error: {CDN}/conv.pkl is " \
           f"produced by the set-up step `build:effnet-convert`" in text
    assert text.count("[fetch]") == 3
    assert store.has(weights_item("ok.pkl", b"ok"))  # the good one still arrived
    assert f.read_text(encoding="utf-8") == before


def test_only_one_url(server: FakeServer, store: Store, project: Path) -> None:
    server.add("/data.example.invalid/models/ok.pkl", b"ok")
    write(project, weights_item("a.pkl"), weights_item("ok.pkl", b"ok"))
    assert run_fetch(project, store=store.root, url=f"{CDN}/models/ok.pkl",
                     mirror=server.base, out=io.StringIO()) == 0
    with pytest.raises(UserError, match="is not in cards/store.lock.json"):
        run_fetch(project, store=store.root, url=f"{CDN}/nope.pkl", out=io.StringIO())


# ---------------------------------------------------------------- --from


def test_from_file_inside_project(store: Store, project: Path) -> None:
    (project / "zoo" / "weights").mkdir()
    w = project / "zoo" / "weights" / "tiny.pkl"
    w.write_bytes(TINY_WEIGHTS.read_bytes())
    url = f"{CDN}/tinyhub/weights/tiny.pkl"
    assert run_fetch(project, from_path=w, url=url, store=store.root, note="made by a test",
                     out=io.StringIO()) == 0
    item = read_lock(project / LOCK_RELPATH).get(url)
    assert item == LockItem(url, "weights", sha256(w.read_bytes()), w.stat().st_size,
                            "path:zoo/weights/tiny.pkl", note="made by a test")
    assert store.has(item)
    # Re-adding keeps the note and, once asked, records the substitute flag.
    run_fetch(project, from_path=w, url=url, store=store.root, substitute=True, out=io.StringIO())
    again = read_lock(project / LOCK_RELPATH).get(url)
    assert again is not None and again.substitute and again.note == "made by a test"
    # Forgetting --substitute when refreshing must not promote the stand-in to the real thing.
    run_fetch(project, from_path=w, url=url, store=store.root, out=io.StringIO())
    still = read_lock(project / LOCK_RELPATH).get(url)
    assert still is not None and still.substitute


def test_cli_arguments_reach_run_fetch(store: Store, project: Path) -> None:
    parser = argparse.ArgumentParser()
    add_fetch_arguments(parser)
    ns = parser.parse_args(["--from", str(project / "zoo"), "--repo", "testowner/tinyhub",
                            "--branch", "dev", "--note", "ours"])
    assert run_fetch_args(ns, project, store=store.root, out=io.StringIO()) == 0
    item = read_lock(project / LOCK_RELPATH).get("https://github.com/testowner/tinyhub")
    assert item is not None and (item.branch, item.note) == ("dev", "ours")
    # A caller's own parser with only some of the flags works too.
    minimal = argparse.Namespace(from_path=project / "zoo" / "hubconf.py",
                                 url="https://x.example/h", repo=None, substitute=False,
                                 git_host=None, mirror=None)
    assert run_fetch_args(minimal, project, store=store.root, out=io.StringIO()) == 0
    assert read_lock(project / LOCK_RELPATH).get("https://x.example/h") is not None


def test_from_package_file_as_substitute(store: Store, project: Path) -> None:
    import skimage

    chelsea = Path(skimage.__file__).parent / "data" / "chelsea.png"
    url = "https://data.megengine.org.cn/images/cat.jpg"
    run_fetch(project, from_path=chelsea, url=url, substitute=True, store=store.root,
              out=io.StringIO())
    item = read_lock(project / LOCK_RELPATH).get(url)
    assert item is not None
    assert (item.kind, item.source, item.substitute) == (
        "file", "package:scikit-image/skimage/data/chelsea.png", True)
    assert store.object_path(item.sha256).read_bytes() == chelsea.read_bytes()


def test_from_repo_folder(store: Store, project: Path, tmp_path: Path) -> None:
    run_fetch(project, from_path=project / "zoo", repo="testowner/tinyhub", store=store.root,
              out=io.StringIO())
    elsewhere = tmp_path / "checkout"
    elsewhere.mkdir()
    (elsewhere / "hubconf.py").write_text("x = 1\n", encoding="utf-8")
    (elsewhere / ".git").mkdir()
    (elsewhere / ".git" / "HEAD").write_text("ref\n", encoding="utf-8")
    run_fetch(project, from_path=elsewhere, repo="megengine/models", store=store.root,
              out=io.StringIO())
    lock = read_lock(project / LOCK_RELPATH)
    tiny = lock.get("https://github.com/testowner/tinyhub")
    assert tiny is not None and (tiny.sha256, tiny.size) == tree_hash(TINYHUB)
    assert (tiny.kind, tiny.source, tiny.repo, tiny.branch) == (
        "hub-repo", "path:zoo", "testowner/tinyhub", "master")
    mm = lock.get("https://github.com/megengine/models")
    assert mm is not None and mm.source == "https://github.com/megengine/models/archive/master.zip"
    assert sorted(p.name for p in store.tree_path(mm.sha256).iterdir()) == ["hubconf.py"]
    data = json.loads((project / LOCK_RELPATH).read_text(encoding="utf-8"))
    assert [it["url"] for it in data["items"]] == sorted(it["url"] for it in data["items"])


@pytest.mark.parametrize("kwargs,fragment", [
    ({"from_path": "zoo/hubconf.py"}, "needs --url"),
    ({"from_path": "zoo"}, "needs --repo"),
    ({"from_path": "nope.bin", "url": "https://x/y"}, "no such file"),
    ({"from_path": "cards", "repo": "a/b"}, "no hubconf.py"),
    ({"from_path": "zoo/hubconf.py", "url": "https://x/y", "source": "file:/x"}, "--source"),
])
def test_from_argument_errors(store: Store, project: Path, kwargs: dict, fragment: str) -> None:
    kwargs = {**kwargs, "from_path": project / kwargs["from_path"]}
    with pytest.raises(UserError, match=fragment):
        run_fetch(project, store=store.root, out=io.StringIO(), **kwargs)
    assert not (project / LOCK_RELPATH).exists()


# ---------------------------------------------------------------- local sources


def test_fetch_refreshes_the_projects_own_repo(store: Store, project: Path) -> None:
    f = write(project, LockItem("https://github.com/testowner/tinyhub", "hub-repo", "2" * 64, 5,
                                "path:zoo", repo="testowner/tinyhub"))
    assert run_fetch(project, store=store.root, out=io.StringIO()) == 0
    item = read_lock(f).items[0]
    assert (item.sha256, item.size) == tree_hash(project / "zoo")
    assert store.has(item)
