"""A client of `pagefind --service`: one Pagefind process that holds several indexes at once.

Why the service rather than one `pagefind --site` run per index part: a run of the extended
binary over Chinese pages first loads its dictionary (about 0.25 s here, whatever the number of
pages), so sixteen runs cost sixteen loads; one service loads it once and indexes every part of a
language. The pages also go over the pipe, so no staged copy is written to disk.

Why not the `pagefind` Python package (the same protocol): its reader sleeps 0.1 s before each
response it reads, which is 100 s for 1,000 pages. The protocol is the one its Python and Node
wrappers speak, fixed with the pinned binary: messages are base64 of JSON, each followed by a
comma, on stdin and stdout; every request carries a `message_id` that its response repeats.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast


class ServiceError(Exception):
    """Pagefind could not run, stopped, or refused a request (the message says which)."""


class Service:
    """`with Service(binary, cwd) as pf:` one Pagefind process; requests are pipelined (sent
    without waiting), their responses collected by a reader thread."""

    def __init__(self, binary: Path, cwd: Path, timeout_s: float) -> None:
        self._binary, self._cwd, self._timeout = binary, cwd, timeout_s
        self._responses: dict[int, dict[str, Any]] = {}
        self._done = threading.Condition()
        self._eof = False
        self._next_id = 0

    def __enter__(self) -> Service:
        # Pagefind also reads PAGEFIND_* variables and a pagefind.yml in its working directory:
        # it runs in a folder of ours with those variables removed.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen([str(self._binary), "--service"], cwd=self._cwd, env=env,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        except OSError as exc:
            self._stderr.close()
            raise ServiceError(f"Pagefind could not run ({exc})") from exc
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def finish(self) -> None:
        """Close its input: the process ends once it has answered (`__exit__` waits for that)."""
        try:
            if self._proc.stdin:
                self._proc.stdin.close()
        except OSError:
            pass

    def __exit__(self, *exc: object) -> None:
        self.finish()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=10)
        if self._proc.stdout:
            self._proc.stdout.close()
        self._stderr.close()

    # ------------------------------------------------------------------ requests

    def new_index(self, config: dict[str, Any]) -> int:
        answer = self.wait(self.send({"type": "NewIndex", "config": config}), "NewIndex")
        return int(answer["index_id"])

    def add_files(self, index_id: int, pages: Iterable[tuple[str, str]]) -> list[int]:
        """Send every (url, html) page without waiting; the ids to `wait` for ("IndexedFile")."""
        return [self.send({"type": "AddFile", "index_id": index_id, "url": url, "file_path": None,
                           "file_contents": html}) for url, html in pages]

    def files(self, index_id: int) -> list[tuple[str, bytes]]:
        """Every file of the index's bundle: (path relative to the bundle, bytes)."""
        answer = self.wait(self.send({"type": "GetFiles", "index_id": index_id}), "GetFiles")
        try:
            return [(str(f["path"]), base64.b64decode(f["content"])) for f in answer["files"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ServiceError(f"Pagefind's answer is not a list of files ({exc})") from exc

    def send(self, payload: dict[str, Any]) -> int:
        self._next_id += 1
        message = json.dumps({"message_id": self._next_id, "payload": payload}, ensure_ascii=False)
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(base64.b64encode(message.encode("utf-8")) + b",")
            self._proc.stdin.flush()
        except (OSError, ValueError):
            self._failed()
        return self._next_id

    def wait(self, message_id: int, expect: str) -> dict[str, Any]:
        with self._done:
            if not self._done.wait_for(lambda: message_id in self._responses or self._eof, self._timeout):
                raise ServiceError(f"Pagefind did not answer within {self._timeout:.0f} s")
            answer = self._responses.pop(message_id, None)
        if answer is None:
            self._failed()
        assert answer is not None
        if answer.get("type") != expect:
            raise ServiceError(f"Pagefind refused a request: {str(answer.get('message', answer))[:200]}")
        return answer

    # ------------------------------------------------------------------ the other side

    def _read(self) -> None:
        out = self._proc.stdout
        assert out is not None
        buf = b""
        try:
            while chunk := os.read(out.fileno(), 1 << 16):
                buf += chunk
                *messages, buf = buf.split(b",")
                for raw in messages:
                    try:
                        data = json.loads(base64.b64decode(raw))
                    except ValueError:
                        continue  # not a message (a log line would be a bug of the binary)
                    if isinstance(data, dict) and isinstance(data.get("message_id"), int):
                        with self._done:
                            self._responses[data["message_id"]] = cast(dict, data.get("payload") or {})
                            self._done.notify_all()
        finally:
            with self._done:
                self._eof = True
                self._done.notify_all()

    def _failed(self) -> None:
        """The process is gone: say how it ended, with the first line it wrote."""
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        self._stderr.seek(0)
        last = self._stderr.read(4000).decode("utf-8", "replace").strip().splitlines()
        raise ServiceError(f"Pagefind exited with status {code}" + (f": {last[0]}" if last else ""))
