"""Fixtures for the pytest-benchmark micro-benchmarks (``pytest benchmarks/ --benchmark-only``).

Run them against the installed package, like the tests: ``python -P -m pytest
benchmarks/ --benchmark-only`` from the repository root.

``bench_server`` is the runner's embedded server (``benchmarks/_server.py``),
loaded by file path under a private name: ``tests/`` is on ``sys.path`` (see
``pythonpath`` in pyproject.toml) and has a ``_server`` module of its own.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name: str) -> ModuleType:
    qualified = f"fastpool_bench_{name.lstrip('_')}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, os.path.join(HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


bench_server_module = _load("_server")


@pytest.fixture(scope="session")
def bench_server() -> Iterator[Any]:
    """The embedded keep-alive server on 127.0.0.1 (``.host``, ``.port``, ``.pids``)."""
    server = bench_server_module.EmbeddedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pinned(bench_server: Any) -> Iterator[None]:
    """Pins the server and this thread to one CPU for the test, as ``run.py`` does.

    On 2-vCPU VMs an unpinned round trip flips between two modes from run to run;
    ``FASTPOOL_BENCH_NO_PIN=1`` turns this off.
    """
    if os.environ.get("FASTPOOL_BENCH_NO_PIN") or not hasattr(os, "sched_setaffinity"):
        yield
        return
    allowed = os.sched_getaffinity(0)
    cpu = {max(allowed)}
    for pid in bench_server.pids:
        bench_server_module.set_affinity(pid, cpu)
    os.sched_setaffinity(0, cpu)
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)
        for pid in bench_server.pids:
            bench_server_module.set_affinity(pid, allowed)
