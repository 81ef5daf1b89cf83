"""Helpers for the response-vector tests: a vector type, builders, and a runner
that feeds a :class:`ResponseParser` in arbitrary pieces and reports the
observable outcome (so any two ways of feeding the same bytes must agree)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from types import ModuleType
from typing import Any

from urllib3.exceptions import ProtocolError

#: Outcome keys reported by :func:`run`.
HEAD_KEYS = ("status", "reason", "version", "headers", "framing", "content_length", "keep_alive")


def msg(*lines: str, body: bytes = b"", nl: str = "\r\n") -> bytes:
    """A head made of ``lines`` (each ended by ``nl``) and the empty line, then ``body``."""
    return ("".join(line + nl for line in lines) + nl).encode("latin-1") + body


@dataclass
class V:
    """One vector. ``expect`` holds the outcome keys to check; ``error`` names
    the exception class expected instead (``"ProtocolError"`` or
    ``"RemoteDisconnected"``)."""

    id: str
    data: bytes
    expect: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    eof: bool = False
    head_request: bool = False
    limits: dict[str, int] = field(default_factory=dict)


def ok(
    id: str,
    data: bytes,
    *,
    eof: bool = False,
    head_request: bool = False,
    limits: dict[str, int] | None = None,
    **expect: Any,
) -> V:
    """A vector that parses. Unless given, expects ``body_done=True``,
    ``leftover=b""``, ``trailers=[]`` and a complete head."""
    full: dict[str, Any] = {"head": True, "body_done": True, "leftover": b"", "trailers": []}
    full.update(expect)
    full = {k: v for k, v in full.items() if v is not ...}  # ``...``: not checked
    return V(id, data, full, None, eof, head_request, limits or {})


def bad(
    id: str,
    data: bytes,
    *,
    eof: bool = False,
    head_request: bool = False,
    limits: dict[str, int] | None = None,
    error: str = "ProtocolError",
) -> V:
    """A vector that must raise ``error`` (however it is split)."""
    return V(id, data, {}, error, eof, head_request, limits or {})


def run(http11: ModuleType, parts: Sequence[bytes], v: V, max_bytes: int = -1) -> dict[str, Any]:
    """Feed ``parts`` one by one (calling next_head / read_body after each),
    then EOF if the vector says so; return the outcome."""
    p = http11.ResponseParser(**v.limits)
    p.start(v.head_request)
    head = None
    body = bytearray()

    def drain() -> None:
        for _ in range(1_000_000):  # bounded: each round delivers >= 1 byte
            data = p.read_body(max_bytes)
            assert isinstance(data, bytes)
            if max_bytes >= 0:
                assert len(data) <= max_bytes
            if not data:
                return
            body.extend(data)
        raise AssertionError("read_body never stopped")

    try:
        for part in parts:
            p.feed(part)
            if head is None:
                head = p.next_head()
            if head is not None:
                drain()
        if v.eof:
            p.feed_eof()
            if head is None:
                head = p.next_head()
            if head is not None:
                drain()
    except ProtocolError as e:
        assert str(e), "ProtocolError without a message"
        return {"error": "ProtocolError"}
    except RemoteDisconnected:
        return {"error": "RemoteDisconnected"}
    out: dict[str, Any] = {"error": None, "head": head is not None}
    if head is not None:
        for key in HEAD_KEYS:
            out[key] = getattr(head, key)
        out["body"] = bytes(body)
        out["body_done"] = p.body_done
        out["trailers"] = list(p.trailers)
        out["body_received"] = p.body_received
        assert p.body_received == len(body)
        if p.body_done:
            out["leftover"] = p.leftover()
    return out


def splits(data: bytes, *, bytewise_max: int = 700, pairs_max: int = 3000) -> Iterator[list[bytes]]:
    """Every way of feeding ``data`` the tests try: whole, in two parts at every
    split point (sampled for long data), and byte by byte (short data)."""
    yield [data]
    n = len(data)
    if n <= pairs_max:
        points: Sequence[int] = range(1, n)
    else:
        step = max(1, n // 48)
        points = sorted({*range(1, n, step), *range(max(1, n - 8), n), *range(1, 9)})
    for i in points:
        yield [data[:i], data[i:]]
    if 1 < n <= bytewise_max:
        yield [data[i : i + 1] for i in range(n)]
    if n > 2:
        third = n // 3
        yield [data[:third], b"", data[third : 2 * third], data[2 * third :]]


def check(http11: ModuleType, v: V) -> None:
    """Run ``v`` under every split (and with a small ``max_bytes``); every run
    must give the expected outcome."""
    for parts in splits(v.data):
        for max_bytes in (-1, 3) if len(parts) <= 2 else (-1,):
            got = run(http11, parts, v, max_bytes)
            where = f"{v.id}: split {[len(x) for x in parts][:6]}..., max_bytes={max_bytes}"
            if v.error is not None:
                assert got == {"error": v.error}, f"{where}: expected {v.error}, got {got}"
                continue
            assert got["error"] is None, f"{where}: unexpected {got['error']}"
            for key, want in v.expect.items():
                assert key in got, f"{where}: no {key} in {got}"
                assert got[key] == want, f"{where}: {key} = {got[key]!r}, expected {want!r}"
