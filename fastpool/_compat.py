"""Build-time and run-time switches. Nothing else lives here."""

from __future__ import annotations

import os
import sys

#: True when the pure-Python twins must be used: ``FASTPOOL_NO_EXTENSIONS``
#: is set to a non-empty value, or the interpreter is not CPython.
NO_EXTENSIONS: bool = bool(os.environ.get("FASTPOOL_NO_EXTENSIONS")) or (
    sys.implementation.name != "cpython"
)

#: True on a free-threaded build running without the GIL.
IS_FREE_THREADED: bool = hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled()
