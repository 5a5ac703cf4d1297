from claims_support import digits_zoo  # noqa: F401  (the session fixture)
