"""Files straight from the browser to S3: a presigned POST, then a look at what arrived.

The POST's conditions fix the object key, its Content-Type and the size, so the store
itself refuses anything else; `complete_upload` checks the object before the file
goes on to the background check like any other.
"""

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.utils.translation import gettext as _
from storages.backends.s3 import S3Storage
from storages.utils import safe_join

from portal.uploads.media import clean_name, limit_for, media_for_declared
from portal.uploads.refusals import (
    UploadRejected,
    check_size,
    not_media_message,
    too_large_message,
)
from portal.uploads.storing import arrived, check_remark_takes_files, delete_files, reserve
from workshop.models import Attachment, CheckInItem

State = Attachment.State


@dataclass
class PresignedPost:
    attachment: Attachment
    url: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def already_uploaded(self) -> bool:
        return not self.url


def bucket_client(storage: Storage) -> tuple[Any, str]:
    if not isinstance(storage, S3Storage):
        raise ImproperlyConfigured("Direct uploads need S3 storage (AWS_STORAGE_BUCKET_NAME).")
    return storage.bucket.meta.client, storage.bucket_name


def object_key(storage: Storage, name: str | None) -> str:
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
        raise UploadRejected(not_media_message(name))
    check_size(name, media.kind, size)
    attachment = reserve(remark, name, media, size)
    if attachment.state != State.UPLOADING:
        return PresignedPost(attachment)
    storage = attachment.file.storage
    client, bucket = bucket_client(storage)
    post = client.generate_presigned_post(
        Bucket=bucket,
        Key=object_key(storage, attachment.file.name),
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
    client, bucket = bucket_client(storage)
    try:
        head = client.head_object(Bucket=bucket, Key=object_key(storage, attachment.file.name))
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
        problem = too_large_message(attachment.original_name, attachment.kind)
    elif head.get("ContentType") != attachment.content_type:
        problem = not_media_message(attachment.original_name)
    elif size != attachment.original_size:
        problem = _("“%(name)s” has not arrived. Please try again.") % {
            "name": attachment.original_name
        }
    if problem:
        # The presigned conditions should have stopped this; a store that ignores them
        # does not get to keep the file.
        delete_files(storage, [attachment.file.name])
        attachment.delete()
        raise UploadRejected(problem)
    arrived(attachment, attachment.file.name or "", size)
    return attachment
