"""``fastpool.util.url``: urllib3's URL parsing, re-exported."""

from __future__ import annotations

from urllib3.util.url import Url, parse_url

__all__ = ["Url", "parse_url"]
