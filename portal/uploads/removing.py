"""The customer takes a file off a draft remark."""

from functools import partial

from django.db import transaction

from portal.uploads.storing import check_remark_takes_files, delete_files
from workshop.models import Attachment, CheckInItem


def _stored_names(attachment: Attachment) -> list[str]:
    files = (attachment.file, attachment.thumbnail, attachment.display_file)
    return [f.name for f in files if f and f.name]


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
        transaction.on_commit(partial(delete_files, storage, names))
