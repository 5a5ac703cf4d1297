"""No build-machine paths on public pages or in report.json.

Tracebacks, captured output and reasons come from runs on one machine: `/root/.pyenv/…/lib/
python3.10/runpy.py`, `/work/x/.venv/lib/python3.10/site-packages/megengine/hub/hub.py`,
`/tmp/vh-run-ab12/mge_home/hub/1_13_0_e093aa62cdf8f313/hubconf.py`. Published, they say where
and how the tool was installed and nothing a reader can use. `public_text` rewrites them:

    …/site-packages/megengine/hub/hub.py     -> megengine/hub/hub.py        (package-relative)
    …/lib/python3.10/runpy.py                -> python3.10/runpy.py
    …/hub/1_13_0_e093aa62cdf8f313/hubconf.py -> <hub repository>/hubconf.py
    …/vh-run-ab12/work/cat.jpg               -> cat.jpg                      (the run's folders)
    the project folder                       -> relative to it
    ../../tmp/x/cards/a.md (climbs out)      -> …/a.md
    any other absolute path                  -> …/<its last part>

Card lines stay as they are (cards are named relative to the project). URLs are not paths.
"""

from __future__ import annotations

import re
from pathlib import Path

# An absolute path: a '/' not preceded by a word character, ':' or another '/' (so URLs and
# `a/b` are left alone), then at least one more segment.
_SEG = r"[\w.@+-]+"
_PATH = re.compile(rf"(?<![\w:/.~-])/(?:{_SEG}/)+{_SEG}?")
_SITE = re.compile(r"^.*/(?:site|dist)-packages/")
_STDLIB = re.compile(r"^.*/lib/(python3\.\d+)/")
_HUB = re.compile(r"^.*/hub/\d+(?:_\d+)+_[0-9a-f]{16}/")
_RUN = re.compile(r"^.*/vh-(?:run|eval)-[^/]+/(?:work/|mge_home/|home/|tmp/|out/)?")
# A path that climbs out of the working folder (`../../tmp/x/cards/a.md`, a cards folder given
# outside the project): as much of the machine as an absolute one.
_CLIMB = re.compile(rf"(?<![\w/.~-])(?:\.\./)+(?:{_SEG}/)*({_SEG})")


def public_text(text: str, project: str | Path | None = None) -> str:
    """`text` with every build-machine path made package-, repository- or project-relative."""
    if not text or "/" not in text:
        return text  # (no path without a slash)
    root = str(project).rstrip("/") + "/" if project else None

    def one(m: re.Match[str]) -> str:
        path = m.group(0)
        if root and path.startswith(root):
            return path[len(root):]
        for pattern, replacement in ((_SITE, ""), (_HUB, "<hub repository>/"), (_RUN, "")):
            if pattern.match(path):
                return pattern.sub(replacement, path, count=1)
        std = _STDLIB.match(path)
        if std:
            return _STDLIB.sub(r"\1/", path, count=1)
        last = path.rstrip("/").rsplit("/", 1)[-1]
        return f"…/{last}" if last else "…/"

    return _CLIMB.sub(lambda m: f"…/{m.group(1)}", _PATH.sub(one, text))
