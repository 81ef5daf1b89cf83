"""``fastpool.util.timeout``: urllib3's :class:`Timeout`, re-exported."""

from __future__ import annotations

from urllib3.util.timeout import _DEFAULT_TIMEOUT, _TYPE_DEFAULT, _TYPE_TIMEOUT, Timeout

__all__ = ["_DEFAULT_TIMEOUT", "_TYPE_DEFAULT", "_TYPE_TIMEOUT", "Timeout"]
