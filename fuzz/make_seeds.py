"""Write a seed corpus for fuzz_http11.py from the test vectors.

    python fuzz/make_seeds.py OUT_DIR

Each response vector of ``tests/test_http11_vectors.py`` becomes ``b"\\xff"``
+ its bytes (the harness's raw mode).
"""

from __future__ import annotations

import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, ".."))


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    import test_http11_vectors as tv

    n = 0
    for v in tv.VECTORS:
        data = b"\xff" + v.data
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        n += 1
    print(f"{n} seeds in {out}")


if __name__ == "__main__":
    main()
