"""Suanwang (算网): an open-source computing-power network control plane."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("suanwang")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
