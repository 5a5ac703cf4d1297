"""Installs the offline shim in every Python process of a card run (the runner and anything the
card starts), because this folder is first on their PYTHONPATH. Outside a run (no config in the
environment) it does nothing."""

import os

# Only type checkers see it true (mypy checks this folder as part of the package); a plain
# constant spares every process of a card run importing `typing`.
TYPE_CHECKING = False

if os.environ.get("VH_OFFLINE_CONFIG"):
    if TYPE_CHECKING:
        from generator.run.child.site import vh_offline
    else:
        import vh_offline

    vh_offline.install_from_env()
