"""A file on a draft remark: its place within the limits, and its bytes in the store.

`reserve` takes the place (files per remark, files and bytes per check-in, under
locks), `store_upload` stores a file that came through Django, and `arrived` hands
the stored bytes to the background check (`portal.uploads.processing`).
"""

from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Sum
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config.celery import publish
from portal.uploads.media import MediaType, clean_name, read_head, sniff
from portal.uploads.refusals import UploadRejected, check_size, not_media_message
from workshop.models import Attachment, CheckInItem, OnlineCheckIn, attachment_path

State = Attachment.State


def check_remark_takes_files(remark: CheckInItem) -> None:
    """Files can change only on a remark the customer has not sent, before the appointment."""
    if remark.checkin.is_closed:
        raise UploadRejected(_("This check-in has closed, so files can no longer change."))
    if remark.kind != CheckInItem.Kind.REMARK or remark.state != CheckInItem.State.DRAFT:
        raise UploadRejected(_("This remark has been sent, so its files can no longer change."))


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


def reserve(remark: CheckInItem, name: str, media: MediaType, size: int) -> Attachment:
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


def arrived(attachment: Attachment, stored_name: str, size: int) -> None:
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
            delete_files(attachment.file.storage, [stored_name])
            raise UploadRejected(_("“%(name)s” was removed.") % {"name": attachment.original_name})
        if current[0] != stored_name:  # a parallel attempt with the same file got there first
            delete_files(attachment.file.storage, [stored_name])
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
        raise UploadRejected(not_media_message(name))
    size = uploaded_file.size or 0
    check_size(name, media.kind, size)
    attachment = reserve(remark, name, media, size)
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
    arrived(attachment, stored_name, size)
    return attachment


def delete_files(storage: Storage, names: Iterable[str | None]) -> None:
    for name in names:
        if name:
            storage.delete(name)
