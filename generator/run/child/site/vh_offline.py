"""Offline shim for card code (installed by sitecustomize.py at interpreter start).

Runs are hermetic: the parent also puts the child in an empty network namespace when it can, but
that only makes connections fail slowly or obscurely. This shim makes every way card code reaches
the network either be served from the pinned asset store or fail at once with a message that
says what was needed and how to get it:

- sockets: connect/connect_ex/sendto and name lookups to anything but loopback raise
  `NetworkBlocked` (an OSError, so libraries fail the way they would offline).
- urllib.request.urlopen / urlretrieve / URLopener.retrieve|open and requests' HTTPAdapter.send
  serve URLs in the store's url map (a copy to the target file) and raise `AssetBlocked` for any
  other http(s)/ftp URL.
- megengine.hub: a repository must already be in $MGE_HOME/hub (use_cache is forced on); one that
  is not raises `AssetBlocked` naming it. `@hub.pretrained` entries whose weights are not in the
  store keep their freshly initialised weights (event "placeholder") so the code is still run.

Every served/blocked/placeholder event is appended as a JSON line to $VH_EVENTS, which the runner
reads after each block: that survives card code that swallows the exception with a bare except,
and works for Python subprocesses the card starts (they import this shim too).
Patches are applied when the patched module is first imported (a post-import hook), so a card
that never imports urllib or megengine pays nothing for them.
"""

from __future__ import annotations

import json
import os
import sys

# Only type checkers see it true; a plain constant spares every process of a card run importing
# `typing` (annotations are strings here, thanks to the __future__ import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import email.message
    import importlib.machinery
    import types
    from typing import Any, Sequence

    from requests.models import PreparedRequest

INSTALLED = False
_CONFIG: dict = {}
FETCH_HINT = "run: build-site fetch"


class AssetBlocked(OSError):
    """A URL or hub repository the card needs is not in the asset store (not the card's fault)."""


class NetworkBlocked(AssetBlocked):
    """Card code tried to open a network connection; runs are offline."""


# ---------------------------------------------------------------- events

def _emit(event: str, **fields: object) -> None:
    path = os.environ.get("VH_EVENTS")
    if not path:
        return
    line = (json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one O_APPEND write per event: lines from several processes don't mix
    finally:
        os.close(fd)


def _blocked(kind: str, target: str, message: str, code: str, args: dict[str, str],
             exc: type[AssetBlocked] = AssetBlocked) -> AssetBlocked:
    """`message` in English for the terminal; `code` and `args`: the same as data, one of the
    parent's run/reasons.CODES (this module imports nothing of the tool, hence the literals)."""
    _emit("blocked", kind=kind, target=target, message=message, code=code, args=args)
    return exc(message)


def _missing_urls() -> set[str]:
    return set(_CONFIG.get("missing_urls", ()))


def _url_blocked(url: str) -> AssetBlocked:
    if url in _missing_urls():
        msg = f"card code needs {url}, which is locked but not in the asset store; {FETCH_HINT}"
        return _blocked("url", url, msg, "url-not-stored", {"url": url})
    msg = (f"card code tried to download {url}, which is not in the asset store; runs are "
           f"offline — add the URL to the store lock, then {FETCH_HINT}")
    return _blocked("url", url, msg, "url-not-locked", {"url": url})


def _serve(url: str) -> str | None:
    """Store path for `url`, recording that it was served (and whether it is a stand-in)."""
    path = _CONFIG.get("url_map", {}).get(url)
    if path is not None:
        _emit("served", url=url, substitute=url in _CONFIG.get("substitutes", ()))
    return path


def _is_remote(url: str) -> bool:
    return url.split(":", 1)[0].lower() in ("http", "https", "ftp")


# ---------------------------------------------------------------- sockets

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    import ipaddress
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        import socket
        return host == socket.gethostname().lower()
    return addr.is_loopback or addr.is_unspecified


def _check_address(sock: object, address: object) -> None:
    import socket
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return  # AF_UNIX, netlink, ...: local by nature
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
    else:
        host, port = address, "?"
    if _is_local_host(host):
        return
    raise _blocked("network", f"{host}:{port}",
                   f"card code tried to reach {host}:{port}; runs are offline — add the URL to "
                   f"the store with build-site fetch", "network-blocked", {"target": f"{host}:{port}"},
                   NetworkBlocked)


# The patched modules are typed Any on purpose: the hooks read and replace attributes that only
# exist at run time (and the wrappers pass through whatever the real functions return).

def _patch_socket(socket: Any) -> None:
    cls = socket.socket
    real_connect, real_connect_ex, real_sendto = cls.connect, cls.connect_ex, cls.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: object, address: object) -> Any:
        _check_address(self, address)
        return real_connect(self, address)

    def connect_ex(self: object, address: object) -> Any:
        _check_address(self, address)
        return real_connect_ex(self, address)

    def sendto(self: object, data: object, *args: object) -> Any:
        _check_address(self, args[-1])
        return real_sendto(self, data, *args)

    def getaddrinfo(host: object, port: object, *args: object, **kwargs: object) -> Any:
        if not _is_local_host(host):
            import ipaddress
            try:
                ipaddress.ip_address(str(host))  # numeric: no lookup; connect() decides
            except ValueError:
                raise _blocked("network", f"{host}:{port}",
                               f"card code tried to reach {host}:{port}; runs are offline — add "
                               f"the URL to the store with build-site fetch", "network-blocked",
                               {"target": f"{host}:{port}"}, NetworkBlocked) from None
        return real_getaddrinfo(host, port, *args, **kwargs)

    cls.connect, cls.connect_ex, cls.sendto = connect, connect_ex, sendto
    socket.getaddrinfo = getaddrinfo


# ---------------------------------------------------------------- urllib

def _headers_for(path: str) -> email.message.Message:
    import email.message
    import mimetypes
    msg = email.message.Message()
    msg["Content-Type"] = mimetypes.guess_type(path)[0] or "application/octet-stream"
    msg["Content-Length"] = str(os.path.getsize(path))
    return msg


def _copy_to(path: str, filename: str | None, suffix_from: str) -> str:
    import shutil
    if filename is None:
        import tempfile
        fd, filename = tempfile.mkstemp(suffix=os.path.splitext(suffix_from)[1])
        os.close(fd)
    shutil.copyfile(path, filename)
    return filename


def _retrieve(url: str, filename: str | None, reporthook: object) -> tuple[str, email.message.Message]:
    path = _serve(url)
    if path is None:
        raise _url_blocked(url)
    target = _copy_to(path, filename, url)
    size = os.path.getsize(path)
    if callable(reporthook):
        reporthook(1, size, size)
    return target, _headers_for(path)


def _open(url: str) -> object:
    import urllib.response
    path = _serve(url)
    if path is None:
        raise _url_blocked(url)
    return urllib.response.addinfourl(open(path, "rb"), _headers_for(path), url, 200)


def _patch_urllib_request(mod: Any) -> None:
    real_urlopen, real_urlretrieve = mod.urlopen, mod.urlretrieve
    opener = mod.URLopener
    real_retrieve, real_open = opener.retrieve, opener.open

    def urlopen(url: object, *args: object, **kwargs: object) -> Any:
        full = url if isinstance(url, str) else getattr(url, "full_url", "")
        if isinstance(full, str) and _is_remote(full):
            return _open(full)
        return real_urlopen(url, *args, **kwargs)

    def urlretrieve(url: object, filename: str | None = None, reporthook: object = None,
                    data: object = None) -> Any:
        if isinstance(url, str) and _is_remote(url):
            return _retrieve(url, filename, reporthook)
        return real_urlretrieve(url, filename, reporthook, data)

    def retrieve(self: object, url: object, filename: str | None = None, reporthook: object = None,
                 data: object = None) -> Any:
        if isinstance(url, str) and _is_remote(url):
            return _retrieve(url, filename, reporthook)
        return real_retrieve(self, url, filename, reporthook, data)

    def open_(self: object, fullurl: object, data: object = None) -> Any:
        if isinstance(fullurl, str) and _is_remote(fullurl):
            return _open(fullurl)
        return real_open(self, fullurl, data)

    mod.urlopen, mod.urlretrieve = urlopen, urlretrieve
    opener.retrieve, opener.open = retrieve, open_


def _patch_requests_adapters(mod: Any) -> None:
    adapter = mod.HTTPAdapter
    real_send = adapter.send

    def send(self: object, request: PreparedRequest, *args: object, **kwargs: object) -> Any:
        url = getattr(request, "url", "") or ""
        if not _is_remote(url):
            return real_send(self, request, *args, **kwargs)
        path = _serve(url)
        if path is None:
            raise _url_blocked(url)
        import io
        from requests.models import Response
        from requests.structures import CaseInsensitiveDict
        resp = Response()
        with open(path, "rb") as f:
            body = f.read()
        resp.status_code, resp.url, resp.request, resp.reason = 200, url, request, "OK"
        resp.headers = CaseInsensitiveDict({"Content-Length": str(len(body))})
        resp.raw = io.BytesIO(body)
        return resp

    adapter.send = send


# ---------------------------------------------------------------- megengine.hub

def _serialized_path(url: str, model_dir: str | None, mge_home: str) -> str:
    import hashlib
    from urllib.parse import urlparse
    folder = model_dir or os.path.join(mge_home, "serialized")
    name = hashlib.sha256(url.encode()).hexdigest()[:6] + "_" + os.path.basename(urlparse(url).path)
    return os.path.join(folder, name)


def _patch_megengine_hub(mod: Any) -> None:
    import functools
    import importlib
    version = importlib.import_module("megengine.version").__version__
    real_get_repo = mod._get_repo
    real_load_url = mod.load_serialized_obj_from_url
    base_pretrained = mod.pretrained
    home = mod._get_megengine_home

    def _get_repo(git_host: str, repo_info: str, use_cache: bool = False, commit: str | None = None,
                  protocol: str = "HTTPS") -> Any:
        fetcher = mod.PROTOCOLS.get(protocol)
        if fetcher is not None:
            owner, name, branch = fetcher._parse_repo_info(repo_info)  # raises InvalidRepo itself
            raw = f"{owner}_{name}_{branch.replace('/', '_')}" + (f"_{commit}" if commit else "")
            folder = "_".join(version.split(".")) + "_" + fetcher._gen_repo_dir(raw)
            if not os.path.isdir(os.path.join(home(), "hub", folder)):
                what = f"{owner}/{name}" + (f":{branch}" if branch != "master" else "") + (
                    f"@{commit}" if commit else "")
                locked = what in _CONFIG.get("missing_repos", ())
                state = "is locked but not in the asset store" if locked else (
                    "is not in the asset store; runs are offline — add it to the store lock, then")
                sep = ";" if locked else ""
                raise _blocked("hub", what, f"hub repository {what} {state}{sep} {FETCH_HINT}",
                               "repo-not-stored" if locked else "repo-not-locked", {"repo": what})
        # Offline, the stored copy is the only one there is: never let MegEngine delete it.
        return real_get_repo(git_host, repo_info, use_cache=True, commit=commit, protocol=protocol)

    def load_serialized_obj_from_url(url: str, model_dir: str | None = None) -> Any:
        cached = _serialized_path(url, model_dir, home())
        if os.path.exists(cached):
            _emit("served", url=url, substitute=url in _CONFIG.get("substitutes", ()))
        else:
            path = _serve(url)
            if path is None:
                raise _url_blocked(url)
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            _copy_to(path, cached, url)
        return real_load_url(url, model_dir)

    class pretrained(mod.pretrained):  # (mod.pretrained is still the real one here)
        __doc__ = base_pretrained.__doc__

        def __call__(self, func: Any) -> Any:
            url = self.url

            @functools.wraps(func)
            def pretrained_model_func(pretrained: bool = False, **kwargs: object) -> Any:
                model = func(**kwargs)
                if pretrained:
                    cached = _serialized_path(url, None, home())
                    if os.path.exists(cached) or url in _CONFIG.get("url_map", {}):
                        model.load_state_dict(mod.load_serialized_obj_from_url(url))
                    else:
                        _emit("placeholder", url=url, entry=getattr(func, "__name__", "?"))
                        sys.stderr.write(
                            f"[verified-hub] weights {url} are not in the asset store: "
                            f"{getattr(func, '__name__', 'the model')} keeps freshly initialised "
                            "weights (placeholder), so its outputs mean nothing\n")
                return model

            return pretrained_model_func

    mod._get_repo = _get_repo
    mod.load_serialized_obj_from_url = load_serialized_obj_from_url
    mod.pretrained = pretrained
    # megengine/hub/__init__.py binds these names with `from .hub import ...` right after this
    # module finishes executing, so the package sees the patched versions too.


# ---------------------------------------------------------------- post-import hooks

_HOOKS = {
    "socket": _patch_socket,
    "urllib.request": _patch_urllib_request,
    "requests.adapters": _patch_requests_adapters,
    "megengine.hub.hub": _patch_megengine_hub,
}


class _PostImportFinder:
    """Finds nothing itself: asks the other finders, then wraps the loader's exec_module so the
    patch runs right after the module body, before anyone can use it."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        hook = _HOOKS.get(name)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        real_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            real_exec(module)
            hook(module)

        # This loader instance belongs to this spec only. (mypy forbids assigning to a method;
        # replacing it on this one instance is the point.)
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install(config: dict) -> None:
    global INSTALLED
    if INSTALLED:
        return
    _CONFIG.update(config)
    for name, hook in _HOOKS.items():
        if name in sys.modules:  # already imported before us (rare: only during startup)
            hook(sys.modules[name])
    sys.meta_path.insert(0, _PostImportFinder())
    INSTALLED = True


def install_from_env() -> None:
    path = os.environ.get("VH_OFFLINE_CONFIG")
    if not path:
        return
    with open(path, encoding="utf-8") as f:
        install(json.load(f))
