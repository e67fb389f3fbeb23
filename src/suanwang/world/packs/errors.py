"""The one error the data-pack loaders raise on purpose."""

from __future__ import annotations

from suanwang.core.errors import SuanwangError


class DataPackError(SuanwangError, ValueError):
    """A data pack is missing, unreadable or malformed.

    The message always names the file (or archive member) and, where it helps, the line, the
    feature or record, and the field at fault, e.g.
    ``"landing-point-geo.json: feature 12: property 'slug' is missing"``. Loaders convert every
    ``OSError``, ``KeyError``, ``json.JSONDecodeError``, ``xml.etree.ElementTree.ParseError`` and
    ``tarfile.TarError`` they meet into this error, so callers need to catch only this one.
    """
