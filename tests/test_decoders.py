"""fastpool._decoders: every coding, chains, bounded output (bombs), errors."""

from __future__ import annotations

import gzip
import os
import struct
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from urllib3.exceptions import DecodeError

from fastpool import _decoders
from fastpool._decoders import ContentDecoder, get_decoder

GiB = 1 << 30
MiB = 1 << 20

DATA = os.urandom(3000) + b"fastpool " * 30000 + os.urandom(500)


# -- encoders -------------------------------------------------------------------


def enc_gzip(data: bytes) -> bytes:
    return gzip.compress(data)


def enc_deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def enc_raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def enc_br(data: bytes) -> bytes:
    brotli = pytest.importorskip("brotli")
    return bytes(brotli.compress(data))


def enc_zstd(data: bytes) -> bytes:
    if _decoders._zstd is not None:
        return bytes(_decoders._zstd.compress(data))
    zstandard = pytest.importorskip("zstandard")
    return bytes(zstandard.ZstdCompressor().compress(data))


def need(coding: str) -> None:
    if coding not in _decoders.SUPPORTED_ENCODINGS:
        pytest.skip(f"{coding} not available")


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": enc_gzip,
    "x-gzip": enc_gzip,
    "deflate": enc_deflate,
    "deflate-raw": enc_raw_deflate,
    "br": enc_br,
    "zstd": enc_zstd,
}


def coding_of(name: str) -> str:
    return "deflate" if name == "deflate-raw" else name


def drain(dec: ContentDecoder, payload: bytes, feed: int, amt: int) -> tuple[bytes, int]:
    """Feed ``payload`` in ``feed``-byte pieces, pulling at most ``amt`` at a time."""
    out: list[bytes] = []
    biggest = 0

    def take(piece: bytes) -> None:
        nonlocal biggest
        out.append(piece)
        biggest = max(biggest, len(piece))

    for i in range(0, len(payload), feed):
        take(dec.decompress(payload[i : i + feed], amt))
        for _ in range(10_000_000):
            if not dec.has_pending():
                break
            piece = dec.decompress(b"", amt)
            take(piece)
            if not piece:
                break
    for _ in range(10_000_000):
        piece = dec.flush(amt)
        take(piece)
        if not piece and not dec.has_pending():
            break
    return b"".join(out), biggest


# -- round trips ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(ENCODERS))
@pytest.mark.parametrize("feed", [1, 13, 4096, 10**9])
@pytest.mark.parametrize("amt", [7, 1000, 65536, -1])
def test_round_trip(name: str, feed: int, amt: int) -> None:
    need(coding_of(name))
    if feed == 1 and amt == 7:
        pytest.skip("too slow to be useful")
    payload = ENCODERS[name](DATA)
    dec = get_decoder(coding_of(name))
    assert dec is not None
    out, biggest = drain(dec, payload, feed, amt)
    assert out == DATA
    if amt > 0:
        assert biggest <= amt


@pytest.mark.parametrize("name", list(ENCODERS))
def test_empty_input_and_zero_max_length(name: str) -> None:
    need(coding_of(name))
    dec = get_decoder(coding_of(name))
    assert dec is not None
    assert dec.decompress(b"") == b""
    assert dec.flush() == b""  # an empty body is not an error
    dec = get_decoder(coding_of(name))
    assert dec is not None
    payload = ENCODERS[name](b"hello")
    assert dec.decompress(payload, 0) == b""  # kept, nothing produced
    assert dec.decompress(b"") + dec.flush() == b"hello"


def test_case_and_whitespace_insensitive() -> None:
    dec = get_decoder(" GZip ")
    assert dec is not None
    assert dec.decompress(gzip.compress(b"abc")) == b"abc"


def test_has_unconsumed_tail_alias() -> None:
    dec = get_decoder("gzip")
    assert dec is not None
    dec.decompress(gzip.compress(b"a" * 10000), 10)
    assert dec.has_pending() and dec.has_unconsumed_tail


# -- gzip / deflate specifics -------------------------------------------------------


def test_gzip_concatenated_members() -> None:
    payload = gzip.compress(b"first ") + gzip.compress(b"second ") + gzip.compress(b"third")
    for feed in (1, 5, len(payload)):
        for amt in (1, 4, -1):
            dec = get_decoder("gzip")
            assert dec is not None
            assert drain(dec, payload, feed, amt)[0] == b"first second third"


def test_gzip_garbage_after_a_member_is_ignored() -> None:
    # urllib3 does the same (servers pad with zeros or junk).
    dec = get_decoder("gzip")
    assert dec is not None
    assert drain(dec, gzip.compress(b"body") + b"\x00\x00junk", 3, 100)[0] == b"body"


def test_gzip_corrupt_first_member_is_decode_error() -> None:
    dec = get_decoder("gzip")
    assert dec is not None
    with pytest.raises(DecodeError) as ei:
        dec.decompress(b"this is not gzip at all")
    assert str(ei.value.args[0]) == (
        "Received response with content-encoding: gzip, but failed to decode it."
    )
    assert isinstance(ei.value.args[1], zlib.error)


def test_gzip_corrupt_in_the_middle_is_decode_error() -> None:
    payload = bytearray(gzip.compress(os.urandom(5000)))
    payload[100:110] = b"\xff" * 10
    dec = get_decoder("gzip")
    assert dec is not None
    with pytest.raises(DecodeError):
        drain(dec, bytes(payload), 64, 512)


def test_truncated_gzip_is_not_an_error() -> None:
    # urllib3 returns what it could decode from a cut gzip body.
    payload = gzip.compress(b"x" * 1000)[:-8]
    dec = get_decoder("gzip")
    assert dec is not None
    assert drain(dec, payload, 100, 100)[0] == b"x" * 1000


def test_deflate_detects_zlib_and_raw() -> None:
    for payload in (enc_deflate(DATA), enc_raw_deflate(DATA)):
        for feed in (1, 2, 3, 1000):
            dec = get_decoder("deflate")
            assert dec is not None
            assert drain(dec, payload, feed, 4096)[0] == DATA


def test_raw_deflate_that_looks_like_a_zlib_header_falls_back() -> None:
    # 0x78 0x01 is a valid zlib header, but here it starts a raw stored block
    # (BTYPE 00, LEN=1, NLEN=~1, b"A"), followed by a final empty stored block.
    payload = b"\x78\x01\x00\xfe\xffA\x01\x00\x00\xff\xff"
    assert (0x78 << 8 | 0x01) % 31 == 0
    assert zlib.decompress(payload, -zlib.MAX_WBITS) == b"A"
    for feed in (1, len(payload)):
        dec = get_decoder("deflate")
        assert dec is not None
        assert drain(dec, payload, feed, 10)[0] == b"A"


def test_deflate_corrupt_is_decode_error() -> None:
    dec = get_decoder("deflate")
    assert dec is not None
    with pytest.raises(DecodeError, match="content-encoding: deflate"):
        drain(dec, b"\xff\xff\xff\xff garbage garbage", 100, 100)


# -- brotli ---------------------------------------------------------------------------


def test_brotli_corrupt_is_decode_error() -> None:
    need("br")
    dec = get_decoder("br")
    assert dec is not None
    with pytest.raises(DecodeError, match="content-encoding: br"):
        drain(dec, b"\xff" * 64, 64, 100)


def test_brotli_without_a_bounded_api_warns_like_urllib3(monkeypatch: pytest.MonkeyPatch) -> None:
    need("br")
    from urllib3.exceptions import DependencyWarning

    monkeypatch.setattr(_decoders, "_BROTLI_BOUNDED", False)
    dec = get_decoder("br")
    assert dec is not None
    with pytest.warns(DependencyWarning, match="Brotli >= 1.2.0 is required"):
        assert dec.decompress(enc_br(b"abc" * 100), 10) == b"abc" * 100


# -- zstd -----------------------------------------------------------------------------


@pytest.fixture(params=["pep784", "zstandard"])
def zstd_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a zstd test through compression.zstd / backports.zstd, and again
    through the zstandard package (the sliced fallback)."""
    if request.param == "pep784":
        if _decoders._zstd is None:
            pytest.skip("no compression.zstd / backports.zstd")
    else:
        zstandard = pytest.importorskip("zstandard")
        monkeypatch.setattr(_decoders, "_zstd", None)
        monkeypatch.setattr(_decoders, "_zstandard", zstandard)
        monkeypatch.setattr(
            _decoders, "SUPPORTED_ENCODINGS", (*_decoders.SUPPORTED_ENCODINGS, "zstd")
        )
    return str(request.param)


def zstd_compress(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return bytes(zstandard.ZstdCompressor().compress(data))


def test_zstd_round_trip_and_frames(zstd_backend: str) -> None:
    payload = zstd_compress(DATA) + zstd_compress(b"second frame")
    for feed, amt in ((7, 1000), (4096, 65536), (10**9, -1), (1000, 1)):
        dec = get_decoder("zstd")
        assert dec is not None
        out, biggest = drain(dec, payload, feed, amt)
        assert out == DATA + b"second frame"
        assert amt < 0 or biggest <= amt


def test_zstd_truncated_is_decode_error(zstd_backend: str) -> None:
    payload = zstd_compress(DATA)[:-10]
    dec = get_decoder("zstd")
    assert dec is not None
    with pytest.raises(DecodeError, match="incomplete"):
        drain(dec, payload, 1000, 4096)


def test_zstd_corrupt_is_decode_error(zstd_backend: str) -> None:
    dec = get_decoder("zstd")
    assert dec is not None
    with pytest.raises(DecodeError, match="content-encoding: zstd"):
        drain(dec, b"not zstd data at all" * 3, 100, 100)


# -- chains and the coding list ------------------------------------------------------------


def test_chain_is_decoded_in_reverse_order() -> None:
    need("br")
    need("zstd")
    payload = enc_zstd(enc_br(enc_deflate(enc_gzip(DATA))))
    for feed, amt in ((1000, 777), (10**9, -1), (3, 65536)):
        dec = get_decoder("gzip, deflate, br, zstd")
        assert dec is not None
        out, biggest = drain(dec, payload, feed, amt)
        assert out == DATA
        assert amt < 0 or biggest <= amt


def test_chain_of_five_is_fine_six_is_too_many() -> None:
    payload = DATA
    for _ in range(5):
        payload = gzip.compress(payload)
    dec = get_decoder("gzip, gzip, gzip, gzip, gzip")
    assert dec is not None
    assert drain(dec, payload, 500, 3000)[0] == DATA
    with pytest.raises(DecodeError, match="Too many content encodings in the chain: 6 > 5"):
        get_decoder("gzip," * 6)


def test_chain_error_names_the_whole_value() -> None:
    dec = get_decoder("gzip, deflate")
    assert dec is not None
    with pytest.raises(DecodeError, match="content-encoding: gzip, deflate, but"):
        drain(dec, b"garbage garbage garbage", 100, 100)


@pytest.mark.parametrize(
    "value", ["", " ", "identity", "IDENTITY", "foo", "gzip, foo", "foo, gzip"]
)
def test_nothing_to_decode(value: str) -> None:
    # unknown codings (alone or in a chain) leave the body as received
    assert get_decoder(value) is None


def test_identity_in_a_chain_is_skipped() -> None:
    dec = get_decoder("identity, gzip, identity")
    assert dec is not None
    assert dec.decompress(gzip.compress(b"abc")) == b"abc"


def test_missing_modules_mean_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decoders, "SUPPORTED_ENCODINGS", ("gzip", "x-gzip", "deflate"))
    assert get_decoder("br") is None
    assert get_decoder("zstd") is None
    assert get_decoder("gzip, br") is None


# -- bombs: output stays bounded per call -----------------------------------------------------


def gzip_bomb(size: int, *, wrap: str = "gzip") -> bytes:
    """``size`` zero bytes compressed, built from one repeated deflate segment
    (a full flush makes each MiB's segment byte-aligned and identical), so the
    test stays fast and small."""
    assert size % MiB == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = c.compress(b"\0" * MiB) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()  # final empty block
    count = size // MiB
    body = segment * count + end
    if wrap == "raw":
        return body
    zeros = b"\0" * MiB
    if wrap == "zlib":
        adler = 1
        for _ in range(count):
            adler = zlib.adler32(zeros, adler)
        return b"\x78\xda" + body + struct.pack(">I", adler)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + body + struct.pack("<II", crc, size & 0xFFFFFFFF)


def test_gzip_bomb_helper_is_valid() -> None:
    assert gzip.decompress(gzip_bomb(4 * MiB)) == b"\0" * (4 * MiB)
    assert zlib.decompress(gzip_bomb(2 * MiB, wrap="zlib")) == b"\0" * (2 * MiB)


def br_bomb(size: int) -> bytes:
    brotli = pytest.importorskip("brotli")
    c = brotli.Compressor(quality=1)
    zeros = b"\0" * MiB
    return b"".join([c.process(zeros) for _ in range(size // MiB)] + [c.finish()])


def zstd_bomb(size: int) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    c = zstandard.ZstdCompressor(level=1).compressobj()
    zeros = b"\0" * MiB
    return b"".join([c.compress(zeros) for _ in range(size // MiB)] + [c.flush()])


def stream_bounded(
    dec: ContentDecoder, payload: bytes, amt: int, limit: int, feed: int = 65536
) -> tuple[int, int, int]:
    """Decode up to ``limit`` output bytes in ``amt`` pieces, feeding ``feed``
    input bytes whenever the decoder runs dry. Returns (output bytes, biggest
    piece, traced peak memory)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        total = biggest = 0
        pos = 0
        for _ in range(10_000_000):
            if total >= limit:
                break
            if dec.has_pending() or pos >= len(payload):
                piece = dec.decompress(b"", amt) if pos < len(payload) else dec.flush(amt)
            else:
                piece = dec.decompress(payload[pos : pos + feed], amt)
                pos += feed
            if not piece and pos >= len(payload) and not dec.has_pending():
                break
            total += len(piece)
            biggest = max(biggest, len(piece))
            del piece
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return total, biggest, peak


AMT = 65536


@pytest.mark.parametrize("wrap", ["gzip", "zlib", "raw"])
def test_one_gib_gzip_deflate_bomb_streams_bounded(wrap: str) -> None:
    payload = gzip_bomb(GiB, wrap=wrap)
    assert len(payload) < 2 * MiB
    dec = get_decoder("gzip" if wrap == "gzip" else "deflate")
    assert dec is not None
    total, biggest, peak = stream_bounded(dec, payload, AMT, 64 * MiB)
    assert total >= 64 * MiB
    assert biggest <= AMT
    assert peak < 4 * MiB, peak


def test_hundred_mib_gzip_streams_to_the_end() -> None:
    payload = gzip_bomb(100 * MiB)
    dec = get_decoder("gzip")
    assert dec is not None
    total, biggest, peak = stream_bounded(dec, payload, 1 << 20, 10**12, feed=len(payload))
    assert total == 100 * MiB
    assert biggest <= 1 << 20
    assert peak < 8 * MiB, peak


def test_one_gib_brotli_bomb_streams_bounded() -> None:
    need("br")
    payload = br_bomb(GiB)
    dec = get_decoder("br")
    assert dec is not None
    total, biggest, peak = stream_bounded(dec, payload, AMT, 64 * MiB)
    assert total >= 64 * MiB
    assert biggest <= AMT
    assert peak < 4 * MiB, peak


def test_one_gib_zstd_bomb_streams_bounded(zstd_backend: str) -> None:
    payload = zstd_bomb(GiB)
    dec = get_decoder("zstd")
    assert dec is not None
    total, biggest, peak = stream_bounded(dec, payload, AMT, 64 * MiB)
    assert total >= 64 * MiB
    assert biggest <= AMT
    # the zstandard fallback may hold ~4 MiB decoded ahead (see _decoders)
    assert peak < (12 * MiB if zstd_backend == "zstandard" else 4 * MiB), peak


def test_chained_bomb_streams_bounded() -> None:
    need("br")
    brotli = pytest.importorskip("brotli")
    inner = gzip_bomb(GiB)
    payload = bytes(brotli.compress(inner, quality=1))
    dec = get_decoder("gzip, br")
    assert dec is not None
    total, biggest, peak = stream_bounded(dec, payload, AMT, 64 * MiB)
    assert total >= 64 * MiB
    assert biggest <= AMT
    assert peak < 6 * MiB, peak


def test_gzip_inside_gzip_bomb_streams_bounded() -> None:
    # the outer layer inflates 100x too: every stage of the chain must be bounded
    payload = gzip.compress(gzip_bomb(GiB), 1)
    dec = get_decoder("gzip, gzip")
    assert dec is not None
    total, biggest, peak = stream_bounded(dec, payload, AMT, 32 * MiB)
    assert total >= 32 * MiB
    assert biggest <= AMT
    assert peak < 6 * MiB, peak
