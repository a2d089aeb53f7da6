"""The background check (run by the Celery task `portal.process_attachment`), and the
sweep that queues again the checks that were lost.

`process_attachment` checks the whole file by its content (a photo's pixel count from
its header, before it is decoded), rewrites photos without their metadata (GPS location
included) and makes a thumbnail: then the file is READY, and only READY files are shown
to staff. A file that fails is REJECTED: its bytes are deleted and the reason is kept.
"""

import contextlib
import logging
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import IO, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image, ImageOps
from pillow_heif import register_heif_opener
from storages.backends.s3 import S3Storage

from portal.uploads.media import (
    HEAD_BYTES,
    HEIC,
    JPEG,
    PNG,
    WEBP,
    MediaType,
    limit_for,
    max_photo_pixels,
    read_head,
    sniff,
    video_container_is_valid,
)
from portal.uploads.refusals import (
    REASON_MISSING,
    REASON_NOT_CHECKED,
    REASON_NOT_MEDIA,
    REASON_TOO_LARGE,
    REASON_TOO_MANY_PIXELS,
    REASON_UNREADABLE,
)
from portal.uploads.s3 import bucket_client, object_key
from portal.uploads.storing import delete_files, queue_processing
from workshop.models import Attachment, attachment_path

register_heif_opener()


log = logging.getLogger(__name__)
Kind = Attachment.Kind
State = Attachment.State
THUMBNAIL_PIXELS = 480

# A check is stopped at ATTACHMENT_CHECK_SECONDS (the task's time limit); one older than
# that and this margin lost its worker.
CHECK_MARGIN_SECONDS = 10
SWEEP_BATCH = 500

# Errors from the store that a later attempt may not hit; the task retries on them.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, BotoCoreError, ClientError)


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Checked:
    media: MediaType
    name: str
    size: int
    thumbnail: str = ""
    display: str = ""


def _stored_head(storage: Storage, name: str) -> bytes:
    if isinstance(storage, S3Storage):
        client, bucket = bucket_client(storage)
        body = client.get_object(
            Bucket=bucket, Key=object_key(storage, name), Range=f"bytes=0-{HEAD_BYTES - 1}"
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
    client, bucket = bucket_client(storage)
    with tempfile.NamedTemporaryFile(prefix="pitlane-", dir=settings.FILE_UPLOAD_TEMP_DIR) as copy:
        client.download_fileobj(bucket, object_key(storage, name), copy)
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
        delete_files(storage, [attachment.file.name])
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
        delete_files(storage, created)
        _reject(attachment, rejected.reason)
        return State.REJECTED
    except BaseException:
        delete_files(storage, created)
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
        delete_files(storage, created if still_used else [*created, original])
        return ""
    if checked.name != original:
        delete_files(storage, [original])
    return State.READY


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
