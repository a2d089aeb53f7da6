"""What a customer's file is, told by its content, and how large it may be.

`sniff` names the media type from a file's first `HEAD_BYTES`, whatever its name or
the type the browser declared; `limit_for` is the most we take of a kind (photo or
video), `max_photo_pixels` the most pixels of a photo. Nothing here reads a whole file.
"""

import os
from dataclasses import dataclass
from typing import IO

import puremagic
from django.conf import settings
from django.core.files import File

from workshop.models import Attachment

Kind = Attachment.Kind

# Enough for every signature we look at (an ftyp box, an EBML header, puremagic's table).
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class MediaType:
    label: str
    content_type: str
    kind: str
    extensions: tuple[str, ...]
    pillow_format: str = ""


JPEG = MediaType("JPEG", "image/jpeg", Kind.PHOTO, ("jpg", "jpeg"), "JPEG")
PNG = MediaType("PNG", "image/png", Kind.PHOTO, ("png",), "PNG")
WEBP = MediaType("WebP", "image/webp", Kind.PHOTO, ("webp",), "WEBP")
HEIC = MediaType("HEIC", "image/heic", Kind.PHOTO, ("heic", "heif"), "HEIF")
MP4 = MediaType("MP4", "video/mp4", Kind.VIDEO, ("mp4", "m4v"))
MOV = MediaType("MOV", "video/quicktime", Kind.VIDEO, ("mov", "qt"))
WEBM = MediaType("WebM", "video/webm", Kind.VIDEO, ("webm",))
MEDIA_TYPES = (JPEG, PNG, WEBP, HEIC, MP4, MOV, WEBM)

# What browsers declare for these (only used to pick the size limit and the Content-Type
# fixed in a presigned POST; the content is checked afterwards, whatever was declared).
_DECLARED = {media.content_type: media for media in MEDIA_TYPES} | {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/heif": HEIC,
    "video/x-m4v": MP4,
}
_BY_EXTENSION = {ext: media for media in MEDIA_TYPES for ext in media.extensions}


def max_photo_pixels() -> int:
    return settings.CHECKIN_MAX_PHOTO_MEGAPIXELS * 1_000_000


def limit_for(kind: str) -> int:
    if kind == Kind.VIDEO:
        return settings.CHECKIN_MAX_VIDEO_BYTES
    return settings.CHECKIN_MAX_PHOTO_BYTES


def clean_name(name: str | None) -> str:
    """The customer's file name as we keep and show it: no folders, nothing unprintable."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    return "".join(ch for ch in base if ch.isprintable())[:255] or "file"


def read_head(file: IO[bytes] | File, size: int = HEAD_BYTES) -> bytes:
    file.seek(0)
    head = file.read(size)
    file.seek(0)
    return head


def media_for_declared(content_type: str, name: str) -> MediaType | None:
    """The media type a browser says a file has (or its name suggests, if it says nothing)."""
    media = _DECLARED.get((content_type or "").split(";")[0].strip().lower())
    if media is None and not content_type:
        media = _BY_EXTENSION.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None
    return media


def sniff(head: bytes) -> MediaType | None:
    """Which of the media types we take these first bytes belong to, if any.

    ISO media files are told apart by their ftyp brands, which puremagic's table only
    partly knows (it misses mp41 and mif1, and calls a HEIC photo an MP4 video).
    """
    brands = _ftyp_brands(head)
    if brands is not None:
        return _iso_media(*brands)
    if head.startswith(_EBML_MAGIC):
        header = _ebml_header(head)
        return WEBM if header and header[0] == "webm" else None
    try:
        found = {match.mime_type for match in puremagic.magic_string(head)}
    except (puremagic.PureError, ValueError):
        return None
    if JPEG.content_type in found and head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if PNG.content_type in found and head[12:16] == b"IHDR":
        return PNG
    if WEBP.content_type in found and head[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return WEBP
    return None


def video_container_is_valid(head: bytes, media: MediaType) -> bool:
    if media in (MP4, MOV):
        return _iso_boxes_look_like_video(head)
    if media is WEBM:
        header = _ebml_header(head)
        if header is None or header[0] != "webm":
            return False
        try:
            element, _length = _vint(head, header[1], keep_marker=True)
        except (ValueError, IndexError):
            return False
        return element == _MATROSKA_SEGMENT
    return False


_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_CONTAINER_BRANDS = {b"mif1", b"msf1"}
_MOV_BRANDS = {b"qt  "}
_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso3",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"M4VH",
    b"M4VP",
    b"mmp4",
    b"MSNV",
    b"dash",
}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282
_MATROSKA_SEGMENT = 0x18538067


def _ftyp_brands(head: bytes) -> tuple[bytes, set[bytes]] | None:
    """The major and compatible brands of an ISO media file (MP4, MOV, HEIC), if it is one."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    if size < 16 or size > len(head) or size % 4:
        return None
    compatible = {head[i : i + 4] for i in range(16, size, 4)}
    return head[8:12], compatible


def _iso_media(major: bytes, compatible: set[bytes]) -> MediaType | None:
    if major in _HEIC_BRANDS or (
        major in _HEIF_CONTAINER_BRANDS and compatible & _HEIC_BRANDS and b"avif" not in compatible
    ):
        return HEIC
    if major in _MOV_BRANDS:
        return MOV
    if major in _MP4_BRANDS:
        return MP4
    return None


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at `pos`: (value, length in bytes)."""
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if first == 0 or pos + length > len(data):
        raise ValueError("not an EBML number")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, length


def _ebml_header(head: bytes) -> tuple[str, int] | None:
    """The DocType of an EBML file (a WebM or Matroska video) and where its body starts."""
    if not head.startswith(_EBML_MAGIC):
        return None
    try:
        size, length = _vint(head, 4, keep_marker=False)
        pos, end = 4 + length, 4 + length + size
        doctype = ""
        while pos < min(end, len(head)):
            element, length = _vint(head, pos, keep_marker=True)
            pos += length
            size, length = _vint(head, pos, keep_marker=False)
            pos += length
            if element == _EBML_DOCTYPE:
                doctype = head[pos : pos + size].rstrip(b"\0").decode("ascii", "replace")
            pos += size
    except (ValueError, IndexError):
        return None
    return doctype, end


def _iso_boxes_look_like_video(head: bytes) -> bool:
    """Walks the top-level boxes in `head`: well-formed, and a movie or media box among them."""
    pos, seen = 0, set()
    while pos + 8 <= len(head):
        size = int.from_bytes(head[pos : pos + 4], "big")
        kind = head[pos + 4 : pos + 8]
        if not all(32 <= byte < 127 for byte in kind):
            return False
        seen.add(kind)
        if size == 0:  # runs to the end of the file
            break
        if size == 1:
            if pos + 16 > len(head):
                break
            size = int.from_bytes(head[pos + 8 : pos + 16], "big")
            if size < 16:
                return False
        elif size < 8:
            return False
        pos += size
    return bool(seen & {b"moov", b"mdat"})
