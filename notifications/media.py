"""Pictures a customer sends by MMS, fetched from the provider into the conversation.

They become the attachments of one remark on the appointment's check-in (the message's
`remark`), through the same checks as the check-in page's uploads (`portal.uploads`:
by content, within the limits, location data removed), so staff see, share and convert
them as any other. A task fetches them: the provider does not wait that long for our
answer to its webhook, and a retried task finds the remark and files it made before.
"""

import logging
import tempfile
import uuid

import requests
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from notifications.models import Message
from portal.uploads.media import limit_for
from portal.uploads.refusals import UploadRejected
from portal.uploads.storing import store_upload
from workshop.models import CheckInItem

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


def _largest_allowed() -> int:
    return max(limit_for("photo"), limit_for("video"))


def _ours(url: str) -> bool:
    """Only the provider's own addresses are fetched with its credentials."""
    return url.startswith(settings.TWILIO_API_URL.rstrip("/") + "/")


def _download(url: str, into) -> int:
    """Streams `url` into the file `into`; refuses more than the largest upload allowed."""
    limit = _largest_allowed()
    with requests.get(
        url,
        auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
        stream=True,
        timeout=(settings.TWILIO_CONNECT_TIMEOUT_SECONDS, settings.TWILIO_READ_TIMEOUT_SECONDS),
    ) as response:
        response.raise_for_status()
        size = 0
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadRejected(gettext("The picture is larger than we accept."))
            into.write(chunk)
    into.seek(0)
    return size


def remark_for(message: Message) -> CheckInItem:
    """The remark that holds a message's pictures, made once per message."""
    appointment = message.appointment
    assert appointment is not None
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"pitlane:message:{message.pk}")
    with translation.override(appointment.dealership.language):
        subject = gettext("Pictures sent with a message")
    remark, _created = CheckInItem.objects.get_or_create(
        checkin=appointment.checkin,
        idempotency_key=key,
        defaults={
            "kind": CheckInItem.Kind.REMARK,
            "subject": subject,
            "description": message.body,
        },
    )
    return remark


def fetch_media(message_id: int) -> int:
    """Fetches an inbound message's pictures onto its remark; returns how many were kept.

    A picture that is not one, or too large, is left out and logged, the others kept.
    Once every picture has been tried the remark is opened, so it pins the appointment.
    """
    message = (
        Message.objects.select_related("appointment__dealership", "appointment__checkin")
        .filter(pk=message_id, direction=Message.Direction.IN, appointment__isnull=False)
        .first()
    )
    if message is None or not message.media_urls:
        return 0
    remark = remark_for(message)
    if remark.state != CheckInItem.State.DRAFT:
        return remark.attachments.count()  # done by an earlier run of this task
    Message.objects.filter(pk=message.pk).update(remark=remark)
    kept = 0
    for number, url in enumerate(message.media_urls.split(), start=1):
        if not _ours(url):
            log.warning("Message %s: not fetching media from a foreign address", message.pk)
            continue
        with tempfile.TemporaryFile() as handle:
            try:
                size = _download(url, handle)
                upload = UploadedFile(handle, name=f"sms-{message.pk}-{number}", size=size)
                store_upload(remark, upload)
                kept += 1
            except UploadRejected as refused:
                log.info("Message %s: picture %s refused: %s", message.pk, number, refused)
            except requests.RequestException as error:
                log.warning("Message %s: picture %s not fetched: %s", message.pk, number, error)
                raise  # the task tries again later; what was stored stays, once
    open_remark(remark)
    return kept


def open_remark(remark: CheckInItem) -> None:
    """The pictures are in: the remark goes to staff (it pins, as any open item)."""
    with transaction.atomic():
        CheckInItem.objects.filter(pk=remark.pk, state=CheckInItem.State.DRAFT).update(
            state=CheckInItem.State.OPEN, submitted_at=timezone.now()
        )


def store_picture(message: Message, upload: UploadedFile) -> None:
    """A picture the customer added to a message on the check-in page, checked as any
    upload there (`UploadRejected` says why not, in the customer's language)."""
    remark = remark_for(message)
    Message.objects.filter(pk=message.pk).update(remark=remark)
    message.remark = remark
    store_upload(remark, upload)
    open_remark(remark)
