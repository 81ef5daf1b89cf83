"""Dispatcher for the idle-connection stack: the compiled twin unless
``FASTPOOL_NO_EXTENSIONS`` is set or it cannot be imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._compat import NO_EXTENSIONS

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._freelist_py import FreeList
else:
    try:
        from ._freelist_c import FreeList
    except ImportError:  # no wheel fits and no compiler was available
        from ._freelist_py import FreeList

__all__ = ["FreeList"]
