"""Guards against testing the wrong thing.

The suite must exercise the *installed* package (the wheel users get), with its
compiled modules, unless ``FASTPOOL_NO_EXTENSIONS`` asks for the pure twins.
"""

from __future__ import annotations

import importlib
import os
import pathlib

import pytest

import fastpool

from conftest import c_extensions_enabled

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPILED = ["_freelist", "_http11"]


def test_imported_from_installed_package_not_source_tree() -> None:
    pkg_dir = pathlib.Path(fastpool.__file__).resolve().parent
    assert pkg_dir != REPO_ROOT / "fastpool", (
        f"fastpool was imported from the source tree ({pkg_dir}); run the tests as "
        "`python -P -m pytest` against the installed package"
    )
    assert pkg_dir.parent.name in ("site-packages", "dist-packages"), pkg_dir


@pytest.mark.parametrize("base", COMPILED)
def test_compiled_module_loaded_when_expected(base: str) -> None:
    dispatcher = importlib.import_module(f"fastpool.{base}")
    if not c_extensions_enabled():
        pytest.skip("pure-Python run (FASTPOOL_NO_EXTENSIONS)")
    compiled = importlib.import_module(f"fastpool.{base}_c")  # ImportError fails the test
    suffix = pathlib.Path(compiled.__file__ or "").suffix
    assert suffix in (".so", ".pyd"), compiled.__file__
    # the dispatcher must have picked the compiled twin, not fallen back
    public = [
        n for n in dir(compiled) if not n.startswith("_") and isinstance(getattr(compiled, n), type)
    ]
    assert public, f"{compiled.__name__} exposes no classes"
    for name in public:
        if hasattr(dispatcher, name):
            assert getattr(dispatcher, name) is getattr(compiled, name), name


def test_pure_dispatch_when_disabled() -> None:
    if c_extensions_enabled():
        pytest.skip("compiled run")
    assert os.environ.get("FASTPOOL_NO_EXTENSIONS")
    from fastpool import _freelist, _freelist_py

    assert _freelist.FreeList is _freelist_py.FreeList
