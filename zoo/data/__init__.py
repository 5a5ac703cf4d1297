"""Data helpers of the verifiedhub/zoo hub repository (numpy only)."""
