"""verified-hub: a static-site generator for MegEngine hub1 model cards that runs every snippet
and checks every accuracy number before publishing them."""

__version__ = "0.1.0"
