"""Photos and videos on a customer's remark: what we take, how it is stored and checked.

Two ways in, one set of rules:

- Through Django (the embedded default, and any browser without JavaScript):
  `store_upload` looks at the file's first bytes and its size, then stores it. Django
  has already streamed the upload to a temporary file; nothing here reads a whole file.
- Straight to S3: `presign_upload` gives the browser a presigned POST whose conditions
  fix the object key, its Content-Type and the size range, so the store itself refuses
  anything else; `complete_upload` then checks what arrived.

Either way the attachment waits in CHECKING until `process_attachment` (run by a Celery
task) has checked the whole file by its content (a photo's pixel count from its header,
before it is decoded), rewritten photos without their
metadata (GPS location included) and made a thumbnail. Only then is it READY, and
only READY attachments are shown to staff. A file that fails is REJECTED: its bytes
are deleted and the reason is kept.
"""

import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from io import BytesIO
from typing import IO, Any, NamedTuple

import puremagic
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from PIL import Image, ImageOps
from pillow_heif import register_heif_opener
from storages.backends.s3 import S3Storage
from storages.utils import safe_join

from config.celery import publish
from workshop.models import Attachment, CheckInItem, OnlineCheckIn, attachment_path

register_heif_opener()
log = logging.getLogger(__name__)

Kind = Attachment.Kind
State = Attachment.State

# Enough for every signature we look at (an ftyp box, an EBML header, puremagic's table).
HEAD_BYTES = 64 * 1024
COPY_CHUNK_BYTES = 1024 * 1024
THUMBNAIL_PIXELS = 480
# A check is stopped at ATTACHMENT_CHECK_SECONDS (the task's time limit); one older than
# that and this margin lost its worker.
CHECK_MARGIN_SECONDS = 10
SWEEP_BATCH = 500
# Errors from the store that a later attempt may not hit; the task retries on them.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, BotoCoreError, ClientError)


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

# Reasons kept on a rejected attachment; translated when shown.
REASON_NOT_MEDIA = gettext_noop("This file is not a photo or video we can accept.")
REASON_UNREADABLE = gettext_noop("This photo could not be read; it may be damaged.")
REASON_TOO_LARGE = gettext_noop("This file is larger than we accept.")
REASON_MISSING = gettext_noop("This file did not arrive.")
REASON_TOO_MANY_PIXELS = gettext_noop(
    "This photo has more pixels than we accept. Please send it at a lower resolution."
)
REASON_NOT_CHECKED = gettext_noop("This file could not be checked.")


class UploadRejected(Exception):
    """A file we do not take; `message` is translated and meant for the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


# --- Recognising a file by its first bytes ------------------------------------------

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


# --- Messages ------------------------------------------------------------------------


def _not_media_message(name: str) -> str:
    return _(
        "“%(name)s” is not a photo or video we can accept. "
        "Send photos as JPEG, PNG, WebP or HEIC and videos as MP4, MOV or WebM."
    ) % {"name": name}


def _too_large_message(name: str, kind: str) -> str:
    limit = filesizeformat(limit_for(kind))
    if kind == Kind.VIDEO:
        return _("“%(name)s” is larger than %(limit)s, the most we accept for a video.") % {
            "name": name,
            "limit": limit,
        }
    return _("“%(name)s” is larger than %(limit)s, the most we accept for a photo.") % {
        "name": name,
        "limit": limit,
    }


def not_media_message(name: str) -> str:
    return _not_media_message(clean_name(name))


def too_large_message(name: str, kind: str) -> str:
    return _too_large_message(clean_name(name), kind)


def _check_size(name: str, kind: str, size: int) -> None:
    if size <= 0:
        raise UploadRejected(_("“%(name)s” is empty.") % {"name": name})
    if size > limit_for(kind):
        raise UploadRejected(_too_large_message(name, kind))


def check_remark_takes_files(remark: CheckInItem) -> None:
    """Files can change only on a remark the customer has not sent, before the appointment."""
    if remark.checkin.is_closed:
        raise UploadRejected(_("This check-in has closed, so files can no longer change."))
    if remark.kind != CheckInItem.Kind.REMARK or remark.state != CheckInItem.State.DRAFT:
        raise UploadRejected(_("This remark has been sent, so its files can no longer change."))


# --- Storing --------------------------------------------------------------------------


def _check_checkin_room(checkin: OnlineCheckIn, name: str, size: int) -> None:
    """Within the limits on files and bytes for the whole check-in (all its remarks)."""
    kept = Attachment.objects.filter(item__checkin=checkin).exclude(state=State.REJECTED)
    totals = kept.aggregate(files=Count("pk"), bytes=Sum("original_size"))
    limit = settings.CHECKIN_MAX_FILES
    if totals["files"] >= limit:
        raise UploadRejected(
            ngettext(
                "Your check-in can have at most %(limit)d photo or video in all. "
                "Remove it to add “%(name)s”.",
                "Your check-in can have at most %(limit)d photos and videos in all. "
                "Remove one to add “%(name)s”.",
                limit,
            )
            % {"limit": limit, "name": name}
        )
    if (totals["bytes"] or 0) + size > settings.CHECKIN_MAX_TOTAL_BYTES:
        raise UploadRejected(
            _(
                "With “%(name)s” your photos and videos would come to more than %(limit)s "
                "in all, the most we accept for one check-in. Remove a file to make room."
            )
            % {"name": name, "limit": filesizeformat(settings.CHECKIN_MAX_TOTAL_BYTES)}
        )


def _reserve(remark: CheckInItem, name: str, media: MediaType, size: int) -> Attachment:
    """A place for the file on the remark, within the limits on files per remark and on
    files and bytes per check-in.

    The same file (name and size as sent) added again to the same remark, say by a retry
    whose first attempt did arrive, gets its earlier place instead of a second copy, also
    once the first was checked and rewritten. The check-in is locked, then the remark (the
    order `submit_checkin` takes them in), so uploads at the same moment, to any of its
    remarks, are counted one after the other.
    """
    with transaction.atomic():
        checkin = (
            OnlineCheckIn.objects.select_for_update(of=("self",))
            .select_related("appointment")
            .get(pk=remark.checkin_id)
        )
        locked = CheckInItem.objects.select_for_update().get(pk=remark.pk)
        locked.checkin = checkin
        check_remark_takes_files(locked)
        kept = locked.attachments.exclude(state=State.REJECTED)
        same = kept.filter(original_name=name, original_size=size).first()
        if same is not None:
            return same
        limit = settings.CHECKIN_MAX_FILES_PER_REMARK
        if kept.count() >= limit:
            raise UploadRejected(
                _(
                    "A remark can have at most %(limit)d photos or videos. "
                    "Remove one to add “%(name)s”."
                )
                % {"limit": limit, "name": name}
            )
        _check_checkin_room(checkin, name, size)
        attachment = Attachment(
            item=locked,
            kind=media.kind,
            state=State.UPLOADING,
            content_type=media.content_type,
            size=size,
            original_size=size,
            original_name=name,
        )
        attachment.file.name = attachment_path(attachment, name)
        attachment.save()
    return attachment


def queue_processing(*attachment_ids: int) -> None:
    """Queues the checks, best effort (`config.celery.publish`): with the broker down the
    files stay in CHECKING, and the sweep queues them again."""
    publish("portal.process_attachment", ((pk,) for pk in attachment_ids))


def _arrived(attachment: Attachment, stored_name: str, size: int) -> None:
    """The bytes are in the store: check them, once this transaction has committed."""
    with transaction.atomic():
        updated = Attachment.objects.filter(pk=attachment.pk, state=State.UPLOADING).update(
            file=stored_name, size=size, state=State.CHECKING
        )
        if updated:
            transaction.on_commit(partial(queue_processing, attachment.pk))
    if not updated:
        current = Attachment.objects.filter(pk=attachment.pk).values_list("file", flat=True)
        if not current:
            _delete_files(attachment.file.storage, [stored_name])
            raise UploadRejected(_("“%(name)s” was removed.") % {"name": attachment.original_name})
        if current[0] != stored_name:  # a parallel attempt with the same file got there first
            _delete_files(attachment.file.storage, [stored_name])
        attachment.refresh_from_db()
        return
    attachment.file.name, attachment.size, attachment.state = stored_name, size, State.CHECKING


def store_upload(remark: CheckInItem, uploaded_file: UploadedFile) -> Attachment:
    """Stores a file uploaded through Django on a draft remark, for checking.

    Looks only at the first bytes and the size the upload handler counted; the file
    itself is moved (a temporary file) or copied in chunks into the store.
    """
    name = clean_name(uploaded_file.name)
    media = sniff(read_head(uploaded_file))
    if media is None:
        raise UploadRejected(_not_media_message(name))
    size = uploaded_file.size or 0
    _check_size(name, media.kind, size)
    attachment = _reserve(remark, name, media, size)
    if attachment.state != State.UPLOADING:
        return attachment
    # The store records this as the object's type (S3), not what the browser declared.
    uploaded_file.content_type = media.content_type
    storage = attachment.file.storage
    try:
        stored_name = storage.save(attachment.file.name, uploaded_file, max_length=255)
    except BaseException:
        attachment.delete()
        raise
    _arrived(attachment, stored_name, size)
    return attachment


# --- Straight to S3 ------------------------------------------------------------------


@dataclass
class PresignedPost:
    attachment: Attachment
    url: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def already_uploaded(self) -> bool:
        return not self.url


def _s3(storage: Storage) -> tuple[Any, str]:
    if not isinstance(storage, S3Storage):
        raise ImproperlyConfigured("Direct uploads need S3 storage (AWS_STORAGE_BUCKET_NAME).")
    return storage.bucket.meta.client, storage.bucket_name


def _s3_key(storage: Storage, name: str | None) -> str:
    location = getattr(storage, "location", "")
    return safe_join(location, name or "") if location else name or ""


def presign_upload(remark: CheckInItem, name: str, size: int, declared_type: str) -> PresignedPost:
    """A presigned POST for one file, straight from the browser to the bucket.

    Its conditions fix the exact key (under the check-in's prefix), the Content-Type and
    the size the browser announced (within the limit for the file's kind), so the store
    refuses anything else and the check-in's limits count what really arrives.
    """
    name = clean_name(name)
    media = media_for_declared(declared_type, name)
    if media is None:
        raise UploadRejected(_not_media_message(name))
    _check_size(name, media.kind, size)
    attachment = _reserve(remark, name, media, size)
    if attachment.state != State.UPLOADING:
        return PresignedPost(attachment)
    storage = attachment.file.storage
    client, bucket = _s3(storage)
    post = client.generate_presigned_post(
        Bucket=bucket,
        Key=_s3_key(storage, attachment.file.name),
        Fields={"Content-Type": attachment.content_type},
        Conditions=[
            {"Content-Type": attachment.content_type},
            ["content-length-range", size, size],
        ],
        ExpiresIn=settings.CHECKIN_UPLOAD_PRESIGN_SECONDS,
    )
    return PresignedPost(attachment, post["url"], post["fields"])


def complete_upload(attachment: Attachment) -> Attachment:
    """The browser says its direct upload finished: look at what the store holds."""
    if attachment.state != State.UPLOADING:
        return attachment  # a repeated call
    check_remark_takes_files(attachment.item)
    storage = attachment.file.storage
    client, bucket = _s3(storage)
    try:
        head = client.head_object(Bucket=bucket, Key=_s3_key(storage, attachment.file.name))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise UploadRejected(
                _("“%(name)s” has not arrived. Please try again.")
                % {"name": attachment.original_name}
            ) from error
        raise
    size = int(head["ContentLength"])
    problem = None
    if size <= 0 or size > limit_for(attachment.kind):
        problem = _too_large_message(attachment.original_name, attachment.kind)
    elif head.get("ContentType") != attachment.content_type:
        problem = _not_media_message(attachment.original_name)
    elif size != attachment.original_size:
        problem = _("“%(name)s” has not arrived. Please try again.") % {
            "name": attachment.original_name
        }
    if problem:
        # The presigned conditions should have stopped this; a store that ignores them
        # does not get to keep the file.
        _delete_files(storage, [attachment.file.name])
        attachment.delete()
        raise UploadRejected(problem)
    _arrived(attachment, attachment.file.name or "", size)
    return attachment


# --- Removing --------------------------------------------------------------------------


def _stored_names(attachment: Attachment) -> list[str]:
    files = (attachment.file, attachment.thumbnail, attachment.display_file)
    return [f.name for f in files if f and f.name]


def _delete_files(storage: Storage, names: Iterable[str | None]) -> None:
    for name in names:
        if name:
            storage.delete(name)


def remove_attachment(attachment: Attachment) -> None:
    """The customer takes a file off a draft remark; its bytes go once that is committed."""
    storage = attachment.file.storage
    with transaction.atomic():
        remark = (
            CheckInItem.objects.select_for_update(of=("self",))
            .select_related("checkin__appointment")
            .get(pk=attachment.item_id)
        )
        check_remark_takes_files(remark)
        locked = Attachment.objects.select_for_update().filter(pk=attachment.pk).first()
        if locked is None:
            return
        names = _stored_names(locked)
        locked.delete()
        transaction.on_commit(partial(_delete_files, storage, names))


# --- Checking (the Celery task's work) --------------------------------------------------


@dataclass
class _Checked:
    media: MediaType
    name: str
    size: int
    thumbnail: str = ""
    display: str = ""


def _stored_head(storage: Storage, name: str) -> bytes:
    if isinstance(storage, S3Storage):
        client, bucket = _s3(storage)
        body = client.get_object(
            Bucket=bucket, Key=_s3_key(storage, name), Range=f"bytes=0-{HEAD_BYTES - 1}"
        )["Body"]
        with contextlib.closing(body):
            return body.read(HEAD_BYTES)
    with storage.open(name, "rb") as stored:
        return stored.read(HEAD_BYTES)


@contextlib.contextmanager
def _local_path(storage: Storage, name: str) -> Iterator[str]:
    """A path on this machine holding the stored file (S3: downloaded in chunks)."""
    if not isinstance(storage, S3Storage):
        yield storage.path(name)
        return
    client, bucket = _s3(storage)
    with tempfile.NamedTemporaryFile(prefix="pitlane-", dir=settings.FILE_UPLOAD_TEMP_DIR) as copy:
        client.download_fileobj(bucket, _s3_key(storage, name), copy)
        copy.flush()
        yield copy.name


def _stored_size(storage: Storage, name: str) -> int:
    try:
        return storage.size(name)
    except FileNotFoundError as error:
        raise _Rejected(REASON_MISSING) from error
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise _Rejected(REASON_MISSING) from error
        raise


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent parts on white."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _save_image(image: Image.Image, media: MediaType, out: IO[bytes], lossless: bool) -> None:
    if media is JPEG:
        # The original's quantisation and subsampling: no visible loss, no bigger file.
        image.save(out, "JPEG", quality="keep")
    elif media is PNG:
        image.save(out, "PNG")
    elif media is WEBP:
        image.save(out, "WEBP", lossless=lossless, quality=90)
    else:
        image.save(out, "HEIF", quality=90)


def _save_new(storage: Storage, name: str, content: File, created: list[str]) -> str:
    stored = storage.save(name, content, max_length=255)
    created.append(stored)
    return stored


def _render_photo(
    path: str, media: MediaType, cleaned: IO[bytes], display: IO[bytes] | None, thumbnail: IO[bytes]
) -> None:
    """Decodes the whole photo, turns it upright and writes it again without metadata.

    Opening reads only the header: a photo with more pixels than we take (a few hundred
    KB of PNG can unpack to gigabytes) is refused there, before anything is decoded.
    EXIF (with any GPS location), XMP and maker notes are dropped; only the colour
    profile is kept. The orientation tag goes too, as it is applied to the pixels.
    Writes the cleaned photo, a JPEG copy for browsers (`display`) and a thumbnail.
    """
    try:
        opened = Image.open(path)
    except Image.DecompressionBombError as error:  # Pillow's own limit, twice ours
        raise _Rejected(REASON_TOO_MANY_PIXELS) from error
    with opened as image:
        if image.format != media.pillow_format:
            raise _Rejected(REASON_NOT_MEDIA)
        width, height = image.size
        if width * height > max_photo_pixels():
            raise _Rejected(REASON_TOO_MANY_PIXELS)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        keep: dict[str | tuple[int, int], Any] = {
            key: image.info[key] for key in ("icc_profile", "transparency") if key in image.info
        }
        image.info = keep
        image.getexif().clear()  # the decoded EXIF, which pillow_heif would write back
        with open(path, "rb") as original:
            lossless = media is WEBP and read_head(original, 16)[12:16] == b"VP8L"
        _save_image(image, media, cleaned, lossless)
        flat = _flatten(image)
        if display is not None:
            flat.save(display, "JPEG", quality=88, icc_profile=keep.get("icc_profile"))
        flat.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS), Image.Resampling.LANCZOS)
        flat.save(thumbnail, "JPEG", quality=80)


def _temporary_file() -> IO[bytes]:
    return tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)


def _clean_photo(
    attachment: Attachment, storage: Storage, path: str, media: MediaType, created: list[str]
) -> _Checked:
    with contextlib.ExitStack() as files:
        cleaned = files.enter_context(_temporary_file())
        display = files.enter_context(_temporary_file()) if media is HEIC else None
        thumbnail = BytesIO()
        try:
            _render_photo(path, media, cleaned, display, thumbnail)
        except _Rejected:
            raise
        except Exception as error:
            # Whatever a decoder says about bytes we did not make (truncated, corrupt,
            # a decompression bomb, EXIF it cannot parse): this is not a photo we can use.
            raise _Rejected(REASON_UNREADABLE) from error
        size = cleaned.tell()
        # The store records the type it is given as the object's (S3).
        upload = UploadedFile(
            cleaned, name=attachment.original_name, content_type=media.content_type, size=size
        )
        name = _save_new(
            storage, attachment_path(attachment, attachment.original_name), upload, created
        )
        display_name = ""
        if display is not None:
            display_name = _save_new(
                storage, f"display/{secrets.token_hex(16)}.jpg", File(display), created
            )
        thumbnail_name = _save_new(
            storage,
            f"thumbnails/{secrets.token_hex(16)}.jpg",
            ContentFile(thumbnail.getvalue()),
            created,
        )
    return _Checked(media, name, size, thumbnail_name, display_name)


def _check(attachment: Attachment, storage: Storage, created: list[str]) -> _Checked:
    name = attachment.file.name or ""
    size = _stored_size(storage, name)
    if size <= 0:
        raise _Rejected(REASON_MISSING)
    head = _stored_head(storage, name)
    media = sniff(head)
    if media is None:
        raise _Rejected(REASON_NOT_MEDIA)
    if size > limit_for(media.kind):
        raise _Rejected(REASON_TOO_LARGE)
    if media.kind == Kind.VIDEO:
        if not video_container_is_valid(head, media):
            raise _Rejected(REASON_NOT_MEDIA)
        return _Checked(media, name, size)
    with _local_path(storage, name) as path:
        return _clean_photo(attachment, storage, path, media, created)


def _reject(attachment: Attachment, reason: str) -> bool:
    """Rejects a file still being checked and deletes its bytes; False if it was not
    (removed, or already checked)."""
    storage = attachment.file.storage
    with transaction.atomic():
        rejected = Attachment.objects.filter(
            pk=attachment.pk, state=State.CHECKING, file=attachment.file.name
        ).update(
            state=State.REJECTED,
            rejection_reason=reason,
            file="",
            thumbnail="",
            display_file="",
            check_started_at=None,
            checked_at=timezone.now(),
        )
    if rejected:
        _delete_files(storage, [attachment.file.name])
    return bool(rejected)


def process_attachment(attachment_id: int) -> str:
    """Checks one uploaded file by its content and makes it ready for staff, or rejects it.

    Returns the state it ended in ("" when there was nothing to do). The check is claimed
    first with a conditional UPDATE (only a file in CHECKING that no worker is checking),
    so a task delivered twice, or queued again by the sweep, checks the file once at a
    time. A check that fails for a passing reason (the store, the database) lets go of
    its claim, so the task's retry or the sweep can take it again.
    """
    claimed = Attachment.objects.filter(
        pk=attachment_id, state=State.CHECKING, check_started_at__isnull=True
    ).update(check_started_at=timezone.now())
    attachment = Attachment.objects.filter(pk=attachment_id, state=State.CHECKING).first()
    if not claimed or attachment is None:
        return ""
    storage = attachment.file.storage
    original = attachment.file.name or ""
    created: list[str] = []
    try:
        checked = _check(attachment, storage, created)
    except _Rejected as rejected:
        _delete_files(storage, created)
        _reject(attachment, rejected.reason)
        return State.REJECTED
    except BaseException:
        _delete_files(storage, created)
        with contextlib.suppress(Exception):  # the database may be what failed; then the sweep
            Attachment.objects.filter(pk=attachment.pk, state=State.CHECKING).update(
                check_started_at=None
            )
        raise
    with transaction.atomic():
        updated = Attachment.objects.filter(
            pk=attachment.pk, state=State.CHECKING, file=original
        ).update(
            state=State.READY,
            file=checked.name,
            size=checked.size,
            kind=checked.media.kind,
            content_type=checked.media.content_type,
            thumbnail=checked.thumbnail,
            display_file=checked.display,
            rejection_reason="",
            check_started_at=None,
            checked_at=timezone.now(),
        )
    if not updated:  # removed while we were checking (or, a check ago, checked already)
        still_used = Attachment.objects.filter(pk=attachment.pk, file=original).exists()
        _delete_files(storage, created if still_used else [*created, original])
        return ""
    if checked.name != original:
        _delete_files(storage, [original])
    return State.READY


# --- The sweep: checks that were lost ------------------------------------------------------


class Swept(NamedTuple):
    requeued: int
    interrupted: int
    rejected: int


def sweep(now: datetime | None = None) -> Swept:
    """Queues again the checks that were lost, so every file ends ready or rejected
    without a person; run by beat every SWEEP_SECONDS (the shape of the message sweep,
    `notifications.delivery.sweep`).

    - A check that began more than ATTACHMENT_CHECK_SECONDS ago (the task's time limit)
      lost its worker: it counts as interrupted, and is queued again; a file interrupted
      ATTACHMENT_CHECK_MAX_INTERRUPTIONS times is rejected instead (it is what kills the
      workers).
    - A file waiting for a check, with none running, for longer than
      REQUEUE_AFTER_SECONDS lost its task (the broker was down when it was queued, or
      dropped it): it is queued again. A task too many is harmless (the claim).
    """
    now = now or timezone.now()
    checking = Attachment.objects.filter(state=State.CHECKING)
    died_before = now - timedelta(seconds=settings.ATTACHMENT_CHECK_SECONDS + CHECK_MARGIN_SECONDS)
    interrupted = list(
        checking.filter(check_started_at__lt=died_before).values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if interrupted:
        Attachment.objects.filter(
            pk__in=interrupted, state=State.CHECKING, check_started_at__lt=died_before
        ).update(check_started_at=None, checks_interrupted=F("checks_interrupted") + 1)
        log.warning("Checks interrupted (worker died or timed out), let go: %s", interrupted)
    waiting = checking.filter(check_started_at__isnull=True)
    rejected = 0
    for attachment in waiting.filter(
        checks_interrupted__gte=settings.ATTACHMENT_CHECK_MAX_INTERRUPTIONS
    )[:SWEEP_BATCH]:
        rejected += _reject(attachment, REASON_NOT_CHECKED)
    lost = waiting.filter(
        Q(pk__in=interrupted)
        | Q(created_at__lt=now - timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)),
        checks_interrupted__lt=settings.ATTACHMENT_CHECK_MAX_INTERRUPTIONS,
    )
    requeue = list(lost.values_list("pk", flat=True)[:SWEEP_BATCH])
    queue_processing(*requeue)
    return Swept(requeued=len(requeue), interrupted=len(interrupted), rejected=rejected)
