"""Model definitions of the verifiedhub/zoo hub repository (MegEngine modules only)."""
