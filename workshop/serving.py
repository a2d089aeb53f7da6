"""A customer's stored file sent to staff, after the view has checked their access.

Local storage streams the file, in byte ranges when asked (videos seek with them; Safari
plays nothing without); on S3 the answer is a redirect to a signed URL that expires
within minutes. Never a public URL, and never kept in the browser's cache.
"""

import re
from collections.abc import Iterator
from typing import IO

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from storages.backends.s3 import S3Storage

# A workshop PC is shared: customer media never stays in its browser cache. The same rule
# rides along in the signed URL, for the store to answer with (S3).
MEDIA_CACHE_CONTROL = "private, no-store"

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def serve_file(
    request: HttpRequest, field: FieldFile, content_type: str, *, filename: str = ""
) -> HttpResponseBase:
    """`field`'s file as `content_type`; `filename` names it for a download."""
    storage, name = field.storage, field.name or ""
    if isinstance(storage, S3Storage):
        # Signed for AWS_QUERYSTRING_EXPIRE seconds (minutes).
        signed = storage.url(name, parameters={"ResponseCacheControl": MEDIA_CACHE_CONTROL})
        to_store = redirect(signed)
        to_store["Cache-Control"] = MEDIA_CACHE_CONTROL
        return to_store
    handle = storage.open(name, "rb")
    ranged = byte_range(request.headers.get("Range", ""), field.size)
    if ranged == "unsatisfiable":
        handle.close()
        response: HttpResponseBase = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{field.size}"
        return response
    if isinstance(ranged, tuple):
        start, end = ranged
        handle.seek(start)
        response = StreamingHttpResponse(
            _chunks(handle, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{field.size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(
            handle, content_type=content_type, as_attachment=False, filename=filename
        )
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = MEDIA_CACHE_CONTROL
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def byte_range(header: str, size: int) -> tuple[int, int] | str | None:
    """One byte range of `size` bytes: (first, last), "unsatisfiable", or None for all."""
    match = _RANGE.fullmatch(header.strip())
    if not match or not any(match.groups()):
        return None  # no range, or several: the whole file is a valid answer
    first, last = match.groups()
    if not first:  # the last N bytes
        length = min(int(last), size)
        return (size - length, size - 1) if length else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


def _chunks(handle: IO[bytes], length: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while length > 0:
            data = handle.read(min(chunk, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()
