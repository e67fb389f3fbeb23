"""The pure core: typed, deterministic domain logic with no I/O, wall clock or global randomness.

Everything here is a function of its arguments. Time and randomness are injected by the shell
(`suanwang.cli`, later the runtime); `import-linter` enforces that this package imports no I/O
library (see `[tool.importlinter]` in pyproject.toml).
"""
