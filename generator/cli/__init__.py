"""Arguments -> Config -> one command (one module each in this package). The only place that
turns a problem into printed lines and an exit code (ExitCode): every failure a user can cause or
meet ends in one clear line and its code, never a traceback.

SIGINT raises KeyboardInterrupt and SIGTERM raises `Terminated` in the main thread, so both
unwind through the same `with`/`finally` blocks (the staging folder is deleted, render workers
are terminated, the output lock is released) before exiting 130 / 143.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

from generator import __version__
from generator.cli.config import Config, project_root
from generator.core.errors import Code, EnvironmentFailure, UserError, error
from generator.run.isolation.spec import SandboxUnavailable
from generator.core.text import one_line
from generator.site.options import package_templates
from generator.site.write import os_problem, output_path


class ExitCode(enum.IntEnum):
    OK = 0
    STRICT = 1  # verification failed under --strict (the site was written)
    BAD_INPUT = 2  # cards, registries, options or lock: nothing was written
    ENVIRONMENT = 3  # disk full, output not writable, no sandbox, store changed, output locked by another build
    INTERRUPTED = 130  # SIGINT (128 + 2)
    TERMINATED = 143  # SIGTERM (128 + 15)


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt (a BaseException, so `except Exception` lets it by)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


# command -> (module in this package, function taking (Config, argparse.Namespace)). Modules are
# imported when their command runs: `--help` must not pay for Jinja2 or markdown-it.
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("build", "run"),
    "check": ("check", "run"),
    "fetch": ("fetch", "run"),
    "setup": ("setup", "run"),
    "eval": ("eval", "run"),
    "serve": ("serve", "run"),
}


def _common(p: argparse.ArgumentParser, *, out: bool = True) -> None:
    p.add_argument("--project", type=Path, default=None, help="project folder (default: the one holding cards/)")
    p.add_argument("--cards", type=Path, default=None, help="cards folder (default: PROJECT/cards)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: PROJECT/site)" if out else argparse.SUPPRESS)
    p.add_argument("--store", type=Path, default=None, help="asset store (default: $HUB_STORE or PROJECT/.store)")
    p.add_argument("-v", "--verbose", action="store_true", help="say why each page is rebuilt")


def _size(text: str) -> int:
    from generator.core.sizes import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sandboxing(p: argparse.ArgumentParser) -> None:
    """Options of the sandbox every card program and evaluation runs in (docs/SECURITY.md)."""
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run card code WITHOUT the bubblewrap sandbox (limits only); never the default")
    p.add_argument("--memory-limit", type=_size, default=None, metavar="SIZE",
                   help="resident memory of one run, all its processes together (default: half the "
                        "machine's memory); a block may ask for more with <!-- verify: memory=SIZE -->")
    p.add_argument("--pids-limit", type=int, default=512, metavar="N", help="processes and threads of one run")
    p.add_argument("--disk-limit", type=_size, default=2 * 1024 ** 3, metavar="SIZE",
                   help="what one run may write (default 2GiB; it counts towards its memory too)")


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """`command`: the one about to run; only its heavier argument sets are added (fetch's import
    the downloader, which `build` on an unchanged site must not pay for). None: all of them."""
    top = argparse.ArgumentParser(prog="build-site", description="Build and verify a MegEngine model hub site.")
    top.add_argument("--version", action="version", version=f"build-site {__version__}")
    sub = top.add_subparsers(dest="command")

    b = sub.add_parser("build", help="build site/ (the default command), running every snippet and checking every number")
    _common(b)
    b.add_argument("--strict", action="store_true", help="CI mode: exit 1 on failed/timeout/blocked code or mismatching numbers")
    b.add_argument("--no-verify", action="store_true", help="render only; every block and number shows 'not verified'")
    b.add_argument("--rerun", action="store_true", help="ignore cached results and run everything again")
    b.add_argument("--jobs", type=int, default=0, help="cards run in parallel (default: number of cores)")
    b.add_argument("--junit", type=Path, default=None, help="also write JUnit XML here")
    b.add_argument("--no-search", action="store_true", help="skip the search index (faster; the search box is hidden)")
    b.add_argument("--base-url", default="", help="absolute URL the site is served from (for sitemap.xml and hreflang)")
    b.add_argument("--eval-limit", type=int, default=None, help="evaluate a class-stratified subset of N items (CI)")
    b.add_argument("--imagenet-dir", type=Path, default=None, help="ILSVRC2012 validation images (or $IMAGENET_VAL_DIR)")
    b.add_argument("--eval-eager", action="store_true",
                   help="evaluate every batch eagerly (no traced graph; slower, the reference path)")
    _sandboxing(b)

    c = sub.add_parser("check", help="parse and validate the cards only")
    _common(c)

    f = sub.add_parser("fetch", help="download every store item the lock lists but the store lacks, or add one with --from")
    _common(f, out=False)
    if command in (None, "fetch"):
        from generator.cli.fetch import add_fetch_arguments

        add_fetch_arguments(f)  # --from --url --repo --kind --substitute --source --git-host --mirror ...

    s = sub.add_parser("setup", help="put the project's own assets (zoo repository, converted weights, substitutes) into the store")
    _common(s)

    e = sub.add_parser("eval", help="evaluate the accuracy claims (optionally one shard of them)")
    _common(e)
    e.add_argument("--shard", default=None, help="i/n: evaluate a deterministic 1/n of the jobs")
    e.add_argument("--card", action="append", default=None, metavar="ID",
                   help="evaluate only this card's numbers (repeatable)")
    e.add_argument("--results", type=Path, default=None, help="folder to write this shard's results to")
    e.add_argument("--merge", type=Path, nargs="*", default=None, help="results folders to merge into the cache")
    e.add_argument("--eval-limit", type=int, default=None)
    e.add_argument("--imagenet-dir", type=Path, default=None)
    e.add_argument("--eval-eager", action="store_true", help="every batch eager (no traced graph)")
    e.add_argument("--rerun", action="store_true")
    _sandboxing(e)

    v = sub.add_parser("serve", help="build, serve site/ on 127.0.0.1 and rebuild on change")
    _common(v)
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--no-verify", action="store_true")
    _sandboxing(v)
    return top


def config_from(args: argparse.Namespace) -> Config:
    project = (args.project or project_root(Path.cwd())).resolve()
    store = args.store or (Path(os.environ["HUB_STORE"]) if os.environ.get("HUB_STORE") else project / ".store")
    imagenet = getattr(args, "imagenet_dir", None) or (
        Path(os.environ["IMAGENET_VAL_DIR"]) if os.environ.get("IMAGENET_VAL_DIR") else None)
    return Config(
        project=project,
        cards=(args.cards or project / "cards").resolve(),
        templates=project / "templates" if (project / "templates").is_dir() else package_templates(),
        out=output_path(args.out or project / "site"),  # a symlink at the name itself is the site's
        store=store.resolve(),
        cache=project / ".cache",
        verify=not getattr(args, "no_verify", False),
        strict=getattr(args, "strict", False),
        rerun=getattr(args, "rerun", False),
        jobs=getattr(args, "jobs", 0) or 0,
        junit=getattr(args, "junit", None),
        verbose=args.verbose,
        base_url=getattr(args, "base_url", "") or "",
        eval_limit=getattr(args, "eval_limit", None),
        imagenet_dir=imagenet.resolve() if imagenet is not None else None,  # children run elsewhere
        eval_eager=getattr(args, "eval_eager", False),
        search=not getattr(args, "no_search", False),
        sandbox=not getattr(args, "unsafe_no_sandbox", False),
        memory_limit=getattr(args, "memory_limit", None),
        pids_limit=getattr(args, "pids_limit", 512),
        disk_limit=getattr(args, "disk_limit", 2 * 1024 ** 3),
    )


# True while `main` runs as the process's entry (its arguments from sys.argv: `build-site`,
# `python -m generator`): the process ends when the command does, and `build` need not leave
# the interpreter ready for more (cli/build.py). Calls with arguments (tests) leave it False.
PROCESS_ENDS_WITH_COMMAND = False


def main(argv: Sequence[str] | None = None) -> int:
    global PROCESS_ENDS_WITH_COMMAND
    PROCESS_ENDS_WITH_COMMAND = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "build")  # `build-site --strict` means `build-site build --strict`
    args = parser(argv[0]).parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _run(args)
    except UserError as exc:
        print(exc.text, file=sys.stderr)
        n = sum(1 for d in exc.diagnostics if d.level == "error")
        if exc.diagnostics:
            done = f"wrote only {exc.wrote}" if exc.wrote else "nothing was written"
            print(f"build-site: {n} error(s); {done}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except SandboxUnavailable as exc:
        return _fail(f"build-site: error: cannot run card code safely: {one_line(exc.message)}. Install "
                     "bubblewrap (apt-get install bubblewrap), or pass --unsafe-no-sandbox to run it "
                     "without isolation", ExitCode.ENVIRONMENT)
    except EnvironmentFailure as exc:
        return _fail(f"build-site: error: {one_line(exc.message)}", ExitCode.ENVIRONMENT)
    except OSError as exc:  # what no stage turned into an EnvironmentFailure: still the machine's
        return _fail(f"build-site: error: {one_line(str(os_problem(exc, 'a file operation failed')))}",
                     ExitCode.ENVIRONMENT)
    except KeyboardInterrupt:
        return _fail("build-site: interrupted; the previous site is left as it was", ExitCode.INTERRUPTED)
    except Terminated:
        return _fail("build-site: terminated; the previous site is left as it was", ExitCode.TERMINATED)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    if not cfg.out.name:  # `--out /`: the lock and the staging folders live beside the output
        raise UserError([error(Code.REGISTRY, f"--out {cfg.out} names no folder of its own", "<command line>", 0)])
    if args.command != "eval" or not getattr(args, "merge", None):
        if not cfg.cards.is_dir():
            raise UserError([error(Code.REGISTRY, f"no cards folder at {cfg.cards} (use --cards or --project)",
                                   "<command line>", 0)])
    module, function = COMMANDS[args.command]
    command: Callable[[Config, argparse.Namespace], int] = getattr(
        importlib.import_module(f"generator.cli.{module}"), function)
    return command(cfg, args)


def _fail(line: str, code: ExitCode) -> int:
    # A second Ctrl-C while this line is printed must not end in a traceback.
    main_thread = threading.current_thread() is threading.main_thread()
    saved = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in (signal.SIGINT, signal.SIGTERM)] if main_thread else []
    try:
        print(line, file=sys.stderr)
    except OSError:
        pass  # stderr itself is gone (a closed pipe): the exit code still tells
    finally:
        for sig, handler in saved:
            signal.signal(sig, handler)
    return code
