"""``fastpool.util.retry``: urllib3's :class:`Retry`, re-exported.

fastpool drives a ``Retry`` (or a user's subclass) only through its public
methods, so policies written for urllib3 behave the same here.
"""

from __future__ import annotations

from urllib3.util.retry import RequestHistory, Retry

__all__ = ["RequestHistory", "Retry"]
