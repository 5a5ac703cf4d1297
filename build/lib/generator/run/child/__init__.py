"""Code that runs inside the child interpreter a card program executes in.

Nothing here may import `generator` (the child only sees the standard library, the venv and the
`site/` folder on PYTHONPATH):
- `runner.py`  the child's main: runs the blocks of one program, reports JSON lines on a pipe.
- `protocol.py` constants and helpers both sides share (stdlib only).
- `site/sitecustomize.py` + `site/vh_offline.py` the offline shim, installed at interpreter start
  in the child and in every Python process the card itself starts.
"""

from pathlib import Path

CHILD_DIR = Path(__file__).resolve().parent
