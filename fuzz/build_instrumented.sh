#!/bin/sh
# Build a copy of fastpool whose compiled codec carries libFuzzer coverage
# instrumentation and AddressSanitizer, in $1 (default /tmp/fp_fuzz). The work
# tree is not touched. Needs clang (apt-get install -y clang).
set -eu
OUT=${1:-/tmp/fp_fuzz}
SRC=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r "$SRC/fastpool" "$OUT/"
find "$OUT/fastpool" \( -name '*.so' -o -name '*.c' -o -name '__pycache__' \) -prune -exec rm -rf {} +
cd "$OUT"
CC=clang LDSHARED="clang -shared" \
CFLAGS="-fsanitize=address,fuzzer-no-link -fno-omit-frame-pointer -g -O1" \
LDFLAGS="-fsanitize=address,fuzzer-no-link" \
    cythonize -i -3 -X freethreading_compatible=True -X embedsignature=True \
    fastpool/_http11_c.pyx
echo "instrumented build in $OUT"
