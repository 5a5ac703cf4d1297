"""Installs the offline shim in every Python process of a card run (the runner and anything the
card starts), because this folder is first on their PYTHONPATH. Outside a run (no config in the
environment) it does nothing."""

import os

if os.environ.get("VH_OFFLINE_CONFIG"):
    import vh_offline

    vh_offline.install_from_env()
