"""Running one untrusted command in a sandbox: bubblewrap namespaces, a seccomp filter, limits
over the whole process tree, and safe reading of what it wrote (see sandbox.py and
docs/SECURITY.md)."""
