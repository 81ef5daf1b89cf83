"""Shared fixtures.

``impl`` parametrises a test over the compiled twin (``c``) and the pure twin
(``py``) of each accelerated module. ``--no-c-extensions`` or
``FASTPOOL_NO_EXTENSIONS=1`` skips the compiled side (and makes the
dispatchers pick the pure twins).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-c-extensions",
        action="store_true",
        default=False,
        help="test the pure-Python twins only (same as FASTPOOL_NO_EXTENSIONS=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--no-c-extensions"):
        # Before any test module imports fastpool, so the dispatchers see it.
        os.environ["FASTPOOL_NO_EXTENSIONS"] = "1"


def c_extensions_enabled() -> bool:
    return not os.environ.get("FASTPOOL_NO_EXTENSIONS")


class Impl:
    """One side of the compiled/pure pair: ``impl.module("_freelist")``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def module(self, base: str) -> ModuleType:
        return importlib.import_module(f"fastpool.{base}_{self.kind}")

    @property
    def freelist(self) -> ModuleType:
        return self.module("_freelist")

    @property
    def http11(self) -> ModuleType:
        return self.module("_http11")

    def __repr__(self) -> str:
        return f"Impl({self.kind!r})"


@pytest.fixture(params=["c", "py"])
def impl(request: pytest.FixtureRequest) -> Impl:
    if request.param == "c" and not c_extensions_enabled():
        pytest.skip("compiled core disabled (FASTPOOL_NO_EXTENSIONS)")
    return Impl(request.param)
