"""Declares fastpool's compiled modules; all metadata lives in pyproject.toml.

Switches (environment variables):

* ``FASTPOOL_NO_EXTENSIONS=1``  build a pure-Python package (no compiler needed).
* ``FASTPOOL_DEBUG_BUILD=1``    ``-O0 -g3`` and Cython line tracing.
* ``FASTPOOL_SANITIZE=address`` compile and link with ``-fsanitize=...`` (see README).
* ``FASTPOOL_CYTHON_ANNOTATE=1`` write Cython's HTML annotation next to each ``.pyx``.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

COMPILED = ["fastpool._freelist_c", "fastpool._http11_c"]

NO_EXTENSIONS = bool(os.environ.get("FASTPOOL_NO_EXTENSIONS")) or (
    sys.implementation.name != "cpython"
)
DEBUG = bool(os.environ.get("FASTPOOL_DEBUG_BUILD"))
SANITIZE = os.environ.get("FASTPOOL_SANITIZE", "")
ANNOTATE = bool(os.environ.get("FASTPOOL_CYTHON_ANNOTATE"))


def extensions() -> list[Extension]:
    if NO_EXTENSIONS:
        print("*** fastpool: pure-Python build (FASTPOOL_NO_EXTENSIONS) ***")
        return []
    from Cython.Build import cythonize

    compile_args: list[str] = []
    link_args: list[str] = []
    macros: list[tuple[str, str | None]] = []
    if os.name != "nt":
        compile_args.append("-O0" if DEBUG else "-O2")
        if DEBUG:
            compile_args.append("-g3")
            macros.append(("CYTHON_TRACE_NOGIL", "1"))
        if SANITIZE:
            flags = [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer", "-g"]
            compile_args += flags
            link_args += flags
    exts = [
        Extension(
            name,
            [name.replace(".", "/") + ".pyx"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            define_macros=macros,
        )
        for name in COMPILED
    ]
    directives = {
        "language_level": 3,
        "freethreading_compatible": True,
        "embedsignature": True,
    }
    if DEBUG:
        directives["linetrace"] = True
    print("*** fastpool: accelerated build ***")
    return cythonize(exts, compiler_directives=directives, annotate=ANNOTATE)


setup(ext_modules=extensions())
