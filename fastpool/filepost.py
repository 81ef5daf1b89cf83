"""``fastpool.filepost``: urllib3's multipart encoder, re-exported."""

from __future__ import annotations

from urllib3.filepost import choose_boundary, encode_multipart_formdata, iter_field_objects

__all__ = ["choose_boundary", "encode_multipart_formdata", "iter_field_objects"]
