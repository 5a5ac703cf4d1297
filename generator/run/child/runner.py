"""The child process: runs one card program (prelude + one language's blocks) in a fresh
`__main__` namespace and reports each block as a JSON line (see protocol.py).

Started by generator/run/supervise.py as `python runner.py JOB.json` in the sandbox, cwd = an empty
folder, an allow-listed environment and the offline shim already installed by sitecustomize.
Standard library only; must not import `generator`.
"""

from __future__ import annotations

import builtins
import json
import linecache
import os
import resource
import signal
import sys
import time
import traceback
import types
import warnings

# Only type checkers see it true (mypy checks this file as part of the package, where the sibling
# is generator.run.child.protocol); a plain constant spares the child importing `typing`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from generator.run.child import protocol
else:
    import protocol  # sibling module (sys.path[0] is this folder until main() removes it)

del sys.modules["protocol"]  # keep the name free for card code; this module holds its reference

_TOOL_FILES = {os.path.abspath(__file__), os.path.abspath(protocol.__file__)}


_RUNNER_MODULE: types.ModuleType | None = None


class BlockTimeout(BaseException):
    """Raised in the block by SIGALRM. A BaseException so `except Exception` in card code does
    not swallow it; a bare `except:` still can, which is why the parent kills on its deadline."""


class _Reporter:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **msg: object) -> None:
        data = (json.dumps(msg) + "\n").encode()
        while data:
            n = os.write(self.fd, data)
            data = data[n:]


def _reset_peak() -> bool:
    """Reset VmHWM (Linux >= 4.0) so each block gets its own peak; False when unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb(per_block: bool) -> float:
    if per_block:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # process-wide peak


def _filter_stacks(te: traceback.TracebackException, card_path: str, seen: set[int]) -> None:
    """Cut the tool's frames (runner, shim) from a traceback and every exception chained to it."""
    if id(te) in seen:
        return
    seen.add(id(te))
    frames = list(te.stack)
    while frames and frames[0].filename != card_path and frames[0].filename in _TOOL_FILES:
        frames.pop(0)
    frames = [f for f in frames if f.filename not in _TOOL_FILES
              and os.path.basename(f.filename) not in ("vh_offline.py", "sitecustomize.py")]
    te.stack = traceback.StackSummary.from_list(frames)
    for other in (te.__cause__, te.__context__):
        if other is not None:
            _filter_stacks(other, card_path, seen)


def _format_exc(exc: BaseException, card_path: str) -> str:
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, capture_locals=False)
    _filter_stacks(te, card_path, set())
    return "".join(te.format())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__
    return msg if len(msg) <= 300 else msg[:297] + "..."


def _matches(exc: BaseException, name: str) -> bool:
    for cls in type(exc).__mro__:
        if name in (cls.__name__, f"{cls.__module__}.{cls.__qualname__}"):
            return True
    return False


def _read_events(path: str, offset: int) -> tuple[list[dict], int]:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    events = []
    for line in data.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events, offset + len(data)


def _contains(path: str, text: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return text in f.read()
    except OSError:
        return False


def _alarm(signum: int, frame: object) -> None:
    raise BlockTimeout()


class _Redirect:
    """Point fd 1 and 2 at a block's files (C-level writes, e.g. MegEngine's CUDA banner, too)."""

    def __init__(self, out: str, err: str) -> None:
        self.paths = (out, err)

    def __enter__(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = (os.dup(1), os.dup(2))
        for fd, path in zip((1, 2), self.paths):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)

    def __exit__(self, *exc: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # card code may have closed or replaced it
                pass
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)


def run(job: dict, report: _Reporter) -> None:
    card_path = job["card_path"]
    out_dir = job["out_dir"]
    events_path = os.environ.get(protocol.EVENTS_ENV, "")
    # Source lines for tracebacks: the card itself, whatever the working directory is.
    lines = [line + "\n" for line in job["card_source"].split("\n")]
    linecache.cache[card_path] = (len(job["card_source"]), None, lines, card_path)

    global _RUNNER_MODULE
    _RUNNER_MODULE = sys.modules["__main__"]  # keep this module (and its globals) alive
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    ns = main.__dict__

    signal.signal(signal.SIGALRM, _alarm)
    per_block_peak = _reset_peak()
    offset = 0
    blocked_events: list[dict] = []
    sticky: set[str] = set()
    # (reason, code, args) of a bad block, said by every block after it
    stop: tuple[str, str, dict[str, str]] | None = None
    for i, blk in enumerate(job["blocks"]):
        if stop is None and blk.get("skip") is not None:
            report.send(type="result", i=i, status="skipped", reason=blk["skip"], code=blk.get("skip_code", ""),
                        args=blk.get("skip_args", {}), flags=sorted(sticky))
            continue
        if stop is not None:
            report.send(type="result", i=i, status="skipped", reason=stop[0], code=stop[1], args=stop[2],
                        flags=sorted(sticky))
            continue
        timeout = float(blk["timeout"])
        out_path, err_path = protocol.stream_paths(out_dir, i)
        report.send(type="start", i=i)
        exc: BaseException | None = None
        _reset_peak()
        t0 = time.perf_counter()
        with _Redirect(out_path, err_path):
            try:
                code = compile("\n" * (blk["code_line"] - 1) + blk["code"], card_path, "exec",
                               dont_inherit=True)
                signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    exec(code, ns)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except SystemExit as e:
                # A block that exits early cannot be judged by what it did not run: failed,
                # unless the card says it expects SystemExit.
                exc = e
            except BaseException as e:  # noqa: BLE001 - everything the card raises is its result
                exc = e
        duration = time.perf_counter() - t0
        peak = _peak_mb(per_block_peak)

        events, offset = _read_events(events_path, offset)
        new_blocked = [ev for ev in events if ev.get("event") == "blocked"]
        served: list[str] = []  # this block's own: the page names them next to it
        for ev in events:
            if ev.get("event") == "placeholder":
                sticky.add("placeholder-weights")
            elif ev.get("event") == "served":
                if ev.get("substitute"):
                    sticky.add("substitute-asset")
                url = ev.get("url")
                if isinstance(url, str) and url not in served and len(served) < 64:
                    served.append(url)
        blocked_events.extend(new_blocked)

        status, reason, tb = "passed", "", ""
        # the reason as data: one of the parent's run/reasons.CODES and its values
        why: str = ""
        why_args: dict[str, str] = {}
        expect = blk.get("expect_error")
        contains = blk.get("output_contains")
        if isinstance(exc, BlockTimeout):
            status = "timeout"
            reason = f"timed out after {timeout:g} s ({blk.get('timeout_source', 'default limit')})"
            why, why_args = "timeout", {"seconds": f"{timeout:g}"}
            tb = _format_exc(exc, card_path)
        elif exc is not None:
            tb = _format_exc(exc, card_path)
            hub_problem = _hub_problem(exc)
            if blocked_events or _is_asset_blocked(exc):
                # the card failed because an asset was missing: first this block's, else earlier
                status = "blocked"
                if new_blocked or blocked_events:
                    ev = (new_blocked or blocked_events)[0]
                    reason, why, why_args = str(ev.get("message", "")), str(ev.get("code", "")), ev.get("args", {})
                else:
                    reason = str(exc)
            elif expect and _matches(exc, expect):
                status, reason = "expected-error", _one_line(exc)
                why, why_args = "exception", {"detail": reason}
            elif hub_problem:
                status, (reason, why, why_args) = "hub-error", hub_problem
            elif isinstance(exc, SystemExit):
                status = "failed"
                reason = (f"the block called sys.exit({exc.code!r}) before its end (mark it with "
                          "<!-- verify: expect-error SystemExit --> if that is intended)")
                why, why_args = "sys-exit", {"call": f"sys.exit({exc.code!r})"[:1000]}
            elif expect:
                status, reason = "failed", f"expected {expect}, but the block raised {_one_line(exc)}"
                why, why_args = "expected-other", {"expect": expect, "detail": _one_line(exc)}
            else:
                status, reason = "failed", _one_line(exc)
                why, why_args = "exception", {"detail": reason}
        elif expect:
            status, reason = "failed", f"expected {expect}, but the block passed"
            why, why_args = "expected-passed", {"expect": expect}
        elif contains is not None and not _contains(out_path, contains):
            status, reason = "failed", f"the output does not contain {contains!r}"
            why, why_args = "output-lacks", {"text": contains}

        report.send(type="result", i=i, status=status, reason=reason, code=why, args=why_args, traceback=tb,
                    duration_s=round(duration, 4), peak_mb=round(peak, 1), flags=sorted(sticky), served=served,
                    stdout=protocol.read_bounded(out_path), stderr=protocol.read_bounded(err_path))
        if status in _STOPS:
            line = blk["code_line"] - 1
            stop = (f"not run: the block at line {line} {_STOPS[status]}", f"stopped.{status}", {"line": str(line)})


# A bad block stops the program; the blocks after it say why they did not run, and whose fault.
_STOPS = protocol.STOPS


def _hub_problem(exc: BaseException) -> tuple[str, str, dict[str, str]] | None:
    """Why `exc` is the hub repository's problem, not the card's ("" when it is not): hub.load
    runs the repository's hubconf.py, and an import that fails from the repository's own files
    (a package it needs is not installed, a module it names is missing), any error while
    hubconf.py itself runs, or MegEngine's "Missing dependencies" check of it. As (English
    text, reason code, its values); None when it is the card's own error."""
    hub_dir = os.path.join(os.environ.get("MGE_HOME", "") or "\0", "hub") + os.sep
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for err in chain:
        frames = traceback.extract_tb(err.__traceback__)
        in_repo = [f for f in frames if f.filename.startswith(hub_dir)]
        running_hubconf = any(f.name == "load_module" and f.filename.endswith(os.path.join("hub", "tools.py"))
                              for f in frames)
        if isinstance(err, RuntimeError) and str(err).startswith("Missing dependencies") and any(
                f.filename.endswith(os.path.join("hub", "hub.py")) for f in frames):
            deps = str(err).split(':', 1)[1].strip()
            return (f"the hub repository's hubconf.py lists dependencies that are not installed "
                    f"({deps}): install them into the tool's environment, then build again",
                    "hub.missing-deps", {"deps": deps[:1000]})
        if not in_repo or not (isinstance(err, ImportError) or running_hubconf):
            continue
        last = in_repo[-1]
        file = os.path.relpath(last.filename, hub_dir).split(os.sep, 1)[-1]
        where = f"{file} line {last.lineno}"
        at = {"file": file[:500], "line": str(last.lineno), "detail": _one_line(err)}
        missing = getattr(err, "name", None) if isinstance(err, ImportError) else None
        if missing:
            top = missing.split(".")[0]
            repo_root = os.path.join(hub_dir, os.path.relpath(last.filename, hub_dir).split(os.sep, 1)[0])
            if os.path.exists(os.path.join(repo_root, top)) or os.path.exists(os.path.join(repo_root, top + ".py")):
                return (f"the hub repository's {where} imports {missing}, which the repository does not "
                        f"contain ({_one_line(err)})", "hub.not-in-repo", {**at, "module": missing[:500]})
            return (f"the hub repository's {where} needs the Python package {top!r}, which is not installed "
                    f"here ({_one_line(err)}): install the package that provides it into the tool's "
                    "environment, then build again", "hub.missing-package", {**at, "package": top[:500]})
        return (f"the hub repository's {where} raised {_one_line(err)} while hub.load ran its hubconf.py",
                "hub.raised", at)
    return None


def _is_asset_blocked(exc: BaseException) -> bool:
    shim = sys.modules.get("vh_offline")
    return shim is not None and isinstance(exc, shim.AssetBlocked)


def main(argv: list[str]) -> int:
    fd = int(os.environ.pop(protocol.RESULT_FD_ENV))
    os.set_inheritable(fd, False)  # processes the card starts must not hold the pipe open
    report = _Reporter(fd)
    try:
        with open(argv[1], encoding="utf-8") as f:
            job = json.load(f)
        del sys.path[0]  # this folder: card code must not import the tool's modules
        sys.path.insert(0, "")  # like `python -c`: the working directory is importable
        shim = sys.modules.get("vh_offline")
        if shim is None or not shim.INSTALLED:
            raise RuntimeError("the offline shim is not installed (sitecustomize did not run)")
        # Noise of the tool's environment, not of the card: MegEngine imports pkg_resources.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        # Limits (memory, processes, disk, no core dumps) are the sandbox's, over the whole run.
    except BaseException as e:  # noqa: BLE001
        report.send(type="internal-error", message=f"{type(e).__name__}: {e}")
        return 2
    run(job, report)
    report.send(type="done")
    # Every result is reported; interpreter teardown after `import megengine` takes ~0.5 s and
    # its output would belong to no block, so skip it (the parent kills the group anyway).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
