"""Judge a valgrind memcheck log: fail if any error or definite leak involves
fastpool's compiled codec.

CPython itself is not memcheck-clean (its start-up hashes uninitialised
bytes, AVX2 wmemcmp over-reads, interned objects "lost" at exit), so the exit
status of valgrind alone says nothing about our module. This script reads the
log, splits it into records, and counts the records whose stack has a frame in
``_http11_c`` (the Cython symbols are named ``__pyx_..._http11_c_...`` and the
shared object ``_http11_c.cpython-*.so``).

    python fuzz/valgrind_check.py /tmp/vg_http11.log [MODULE_SUBSTRING]
"""

from __future__ import annotations

import re
import sys

ERROR_STARTS = (
    "Invalid read",
    "Invalid write",
    "Invalid free",
    "Mismatched free",
    "Conditional jump",
    "Use of uninitialised",
    "Syscall param",
    "Source and destination overlap",
    "Argument 'size'",
)


def main() -> int:
    path = sys.argv[1]
    needle = sys.argv[2] if len(sys.argv) > 2 else "_http11_c"
    records: list[list[str]] = []
    current: list[str] = []
    with open(path, errors="replace") as f:
        for raw in f:
            line = re.sub(r"^==\d+==\s?", "", raw.rstrip("\n"))
            if not line.strip():
                if current:
                    records.append(current)
                current = []
            else:
                current.append(line)
    if current:
        records.append(current)

    ours: list[list[str]] = []
    errors = leaks = 0
    for rec in records:
        head = rec[0]
        is_error = head.startswith(ERROR_STARTS)
        is_leak = "definitely lost in loss record" in head
        if not (is_error or is_leak):
            continue
        errors += is_error
        leaks += is_leak
        if any(needle in line for line in rec):
            ours.append(rec)
    print(f"{path}: {errors} error records, {leaks} definite-leak records in total")
    print(f"records with a frame in {needle!r}: {len(ours)}")
    for rec in ours[:20]:
        print("\n".join(rec))
        print("-" * 60)
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main())
