"""``RequestMethods``: the ``request`` / ``request_encode_url`` /
``request_encode_body`` convenience layer shared by pools and managers
(urllib3's mixin of the same name and semantics)."""

from __future__ import annotations

import json as _json
import typing
from collections.abc import Mapping
from urllib.parse import urlencode

from urllib3._collections import HTTPHeaderDict
from urllib3.filepost import encode_multipart_formdata

if typing.TYPE_CHECKING:
    from urllib3.response import BaseHTTPResponse

__all__ = ["RequestMethods"]

_TYPE_HEADERS: typing.TypeAlias = "Mapping[str, str] | None"


class RequestMethods:
    """Mixin for classes that implement ``urlopen``.

    ``headers`` are the defaults sent with every request that does not pass
    its own ``headers`` (per-request headers replace them, they are not merged).
    """

    _encode_url_methods = frozenset({"DELETE", "GET", "HEAD", "OPTIONS"})

    headers: Mapping[str, str]

    def __init__(self, headers: _TYPE_HEADERS = None) -> None:
        self.headers = headers or {}

    def urlopen(
        self,
        method: str,
        url: str,
        body: typing.Any = None,
        headers: _TYPE_HEADERS = None,
        encode_multipart: bool = True,
        multipart_boundary: str | None = None,
        **kw: typing.Any,
    ) -> BaseHTTPResponse:  # pragma: no cover - abstract
        raise NotImplementedError(
            "Classes extending RequestMethods must implement their own ``urlopen`` method."
        )

    def request(
        self,
        method: str,
        url: str,
        body: typing.Any = None,
        fields: typing.Any = None,
        headers: _TYPE_HEADERS = None,
        json: typing.Any = None,
        **urlopen_kw: typing.Any,
    ) -> BaseHTTPResponse:
        """Make a request, encoding ``fields`` in the URL (GET, HEAD, DELETE,
        OPTIONS) or the body (other methods), or ``json`` as a UTF-8 body."""
        method = method.upper()
        if fields is None and json is None:
            # The common case: nothing to encode. Same effect as the general
            # path below, without the intermediate calls and copies.
            if headers is None:
                headers = self.headers
            if body is not None:
                urlopen_kw["body"] = body
            return self.urlopen(method, url, headers=headers, **urlopen_kw)
        if json is not None and body is not None:
            raise TypeError(
                "request got values for both 'body' and 'json' parameters which are "
                "mutually exclusive"
            )
        if json is not None:
            if headers is None:
                headers = self.headers
            if "content-type" not in (k.lower() for k in headers):
                headers = HTTPHeaderDict(headers)
                headers["Content-Type"] = "application/json"
            body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if body is not None:
            urlopen_kw["body"] = body
        if method in self._encode_url_methods:
            return self.request_encode_url(
                method, url, fields=fields, headers=headers, **urlopen_kw
            )
        return self.request_encode_body(method, url, fields=fields, headers=headers, **urlopen_kw)

    def request_encode_url(
        self,
        method: str,
        url: str,
        fields: typing.Any = None,
        headers: _TYPE_HEADERS = None,
        **urlopen_kw: typing.Any,
    ) -> BaseHTTPResponse:
        """Make a request with ``fields`` url-encoded into the query string."""
        if headers is None:
            headers = self.headers
        extra_kw: dict[str, typing.Any] = {"headers": headers}
        extra_kw.update(urlopen_kw)
        if fields:
            url += "?" + urlencode(fields)
        return self.urlopen(method, url, **extra_kw)

    def request_encode_body(
        self,
        method: str,
        url: str,
        fields: typing.Any = None,
        headers: _TYPE_HEADERS = None,
        encode_multipart: bool = True,
        multipart_boundary: str | None = None,
        **urlopen_kw: typing.Any,
    ) -> BaseHTTPResponse:
        """Make a request with ``fields`` in the body: multipart/form-data
        (default) or application/x-www-form-urlencoded."""
        if headers is None:
            headers = self.headers
        hdrs = HTTPHeaderDict(headers)
        extra_kw: dict[str, typing.Any] = {"headers": hdrs}
        if fields:
            if "body" in urlopen_kw:
                raise TypeError(
                    "request got values for both 'fields' and 'body', can only specify one."
                )
            body: bytes | str
            if encode_multipart:
                body, content_type = encode_multipart_formdata(fields, boundary=multipart_boundary)
            else:
                body, content_type = urlencode(fields), "application/x-www-form-urlencoded"
            extra_kw["body"] = body
            hdrs.setdefault("Content-Type", content_type)
        extra_kw.update(urlopen_kw)
        return self.urlopen(method, url, **extra_kw)
