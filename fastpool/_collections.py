"""``fastpool._collections``: urllib3's header dict and LRU container, re-exported
(the path urllib3 user code imports ``HTTPHeaderDict`` from)."""

from __future__ import annotations

from urllib3._collections import HTTPHeaderDict, RecentlyUsedContainer

__all__ = ["HTTPHeaderDict", "RecentlyUsedContainer"]
