"""E-mail from customers: every door (a provider's webhook through django-anymail, an
MTA piping into `manage.py receive_email`) hands the raw message to
`store_inbound_email`, the one place an inbound e-mail becomes a `Message`.

Nothing is lost: a mail to an unknown key, from an unknown sender, an auto-reply or a
bounce is stored all the same (its appointment empty when nothing matches), with the
original bytes. The same mail twice (an MTA that pipes again, a provider that retries)
is one message: it is known by its Message-ID (`email_parse.once_key`), kept unique by
the `message_inbound_once` constraint.
"""

import contextlib
import logging
from collections.abc import Iterable
from io import BytesIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop
from PIL import Image

from notifications import conversation, delivery
from notifications import media as pictures
from notifications.email_parse import BOUNCE, ParsedEmail, Part, once_key, parse
from notifications.models import InboundEmail, Message, MessageAttachment, ReplyAddress
from portal.uploads import media as uploaded
from portal.uploads import refusals
from portal.uploads.storing import store_upload
from workshop.models import Appointment, Channel, Customer, Dealership

log = logging.getLogger(__name__)

Status = Message.Status
# Why a file was refused beyond those of portal uploads; translated when shown.
REASON_TOO_MANY_FILES = gettext_noop(
    "This e-mail had more photos and videos than we accept with one message."
)


def store_inbound_email(raw: bytes, *, envelope_recipients: Iterable[str] = ()) -> Message:
    """Stores one raw e-mail as an inbound `Message` (once, however often it comes) and
    returns it; a bounce also marks the message of ours it returns as failed.

    The one place an inbound e-mail has been stored: what follows a customer's message
    (the conversation) is called from here, with the stored message.
    """
    parsed = parse(raw, envelope_recipients=[r for r in envelope_recipients if r])
    key = once_key(raw, parsed.message_id)
    existing = Message.objects.filter(direction=Message.Direction.IN, provider_id=key).first()
    if existing is not None:
        return existing
    bounced = _bounced_message(parsed) if parsed.kind == BOUNCE else None
    appointment = bounced.appointment if bounced else _appointment_for(parsed.reply_keys)
    dealership = appointment.dealership if appointment else _dealership_for(parsed.recipients)
    customer = appointment.customer if appointment else _customer_for(parsed.sender, dealership)
    if dealership is None and customer is not None:
        dealership = customer.dealership
    now = timezone.now()
    automatic = parsed.kind != InboundEmail.Kind.NORMAL
    stored: list[str] = []
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    message = Message.objects.create(
                        appointment=appointment,
                        customer=customer,
                        channel=Channel.EMAIL,
                        direction=Message.Direction.IN,
                        purpose=Message.Purpose.REPLY,
                        language=customer.language if customer else "",
                        recipient=_our_address(parsed)[:254],
                        sender=parsed.sender[:254],
                        subject=parsed.subject,
                        body=parsed.new_text,
                        status=Status.RECEIVED,
                        queued_at=now,
                        received_at=now,
                        provider_id=key,
                        dealership=dealership,
                        # An out-of-office or a bounce answers nothing and waits on nobody.
                        auto_reply=automatic,
                        read_at=now if automatic else None,
                    )
            except IntegrityError:  # the same mail, stored a moment ago by another door
                return Message.objects.get(direction=Message.Direction.IN, provider_id=key)
            inbound = InboundEmail(
                message=message,
                kind=parsed.kind,
                mail_id=parsed.message_id[:998],
                in_reply_to=parsed.in_reply_to[:998],
                recipients="\n".join(parsed.recipients),
                reply_key=parsed.reply_key[:64],
                dealership=dealership,
                full_text=parsed.full_text,
                bounced=bounced,
            )
            inbound.raw.save("message.eml", ContentFile(raw), save=False)
            stored.append(inbound.raw.name or "")
            inbound.save(force_insert=True)
            accepted = _store_attachments(message, parsed.attachments, stored)
            if accepted and appointment is not None and not automatic:
                _show_to_staff(message, accepted)
            if bounced is not None and bounced.appointment_id is not None:
                delivery.fail(
                    bounced,
                    f"Bounced: {parsed.bounce_reason or parsed.subject}"[:1000],
                    from_statuses=[Status.SENDING, Status.SENT, Status.DELIVERED],
                    now=now,
                )
            if not automatic:
                conversation.received(message, now)
    except BaseException:
        _delete(stored)
        raise
    return message


def _appointment_for(keys: list[str]) -> Appointment | None:
    if not keys:
        return None
    found = (
        ReplyAddress.objects.filter(key__in=keys)
        .select_related("appointment__dealership", "appointment__customer")
        .first()
    )
    return found.appointment if found else None


def _dealership_for(recipients: list[str]) -> Dealership | None:
    """A mail to no key of ours may still be to a dealership's own address (forwarded)."""
    if not recipients:
        return None
    query = Q()
    for address in recipients:
        query |= Q(email__iexact=address)
    return Dealership.objects.filter(query).first()


def _customer_for(sender: str, dealership: Dealership | None) -> Customer | None:
    """The customer with this address, if exactly one (in the dealership, if known)."""
    if not sender:
        return None
    customers = Customer.objects.filter(email__iexact=sender).select_related("dealership")
    if dealership is not None:
        customers = customers.filter(dealership=dealership)
    found = list(customers[:2])
    return found[0] if len(found) == 1 else None


def _bounced_message(parsed: ParsedEmail) -> Message | None:
    """Our e-mail a bounce reports: we send each with Message-ID <callback key@pitlane>,
    kept as its provider id. A report without the returned mail's headers: the last
    e-mail that went out to the address that failed."""
    ours = Message.objects.filter(
        direction=Message.Direction.OUT, channel=Channel.EMAIL
    ).select_related("appointment__dealership", "appointment__customer")
    if parsed.bounced_ids:
        found = ours.filter(provider_id__in=parsed.bounced_ids).first()
        if found is not None:
            return found
    if not parsed.bounced_recipients:
        return None
    to_failed = Q()
    for address in parsed.bounced_recipients:
        to_failed |= Q(recipient__iexact=address)
    return (
        ours.filter(to_failed, status__in=[Status.SENT, Status.DELIVERED])
        .order_by("-queued_at", "-pk")
        .first()
    )


def _our_address(parsed: ParsedEmail) -> str:
    """The address of ours it came to: the reply address if it has one."""
    keyed = [r for r in parsed.recipients if parsed.reply_key and parsed.reply_key in r]
    return (keyed or parsed.recipients or [settings.INBOUND_EMAIL_ADDRESS])[0]


# --- Files ------------------------------------------------------------------------------


def check_file(data: bytes) -> tuple[uploaded.MediaType | None, str]:
    """What a file is by its content, as portal uploads are checked: a photo or video
    we take, within its size limit, a photo of no more pixels than we take whose header
    reads. Returns the media type, or None and the (untranslated) reason.

    Not here, as in a web request: decoding the whole photo and writing it again
    without its metadata (`portal.uploads.processing.process_attachment` does that on a worker)."""
    if not data:
        return None, refusals.REASON_MISSING
    head = data[: uploaded.HEAD_BYTES]
    media = uploaded.sniff(head)
    if media is None:
        return None, refusals.REASON_NOT_MEDIA
    if len(data) > uploaded.limit_for(media.kind):
        return None, refusals.REASON_TOO_LARGE
    if media.kind == uploaded.Kind.VIDEO:
        if not uploaded.video_container_is_valid(head, media):
            return None, refusals.REASON_NOT_MEDIA
        return media, ""
    try:
        with Image.open(BytesIO(data)) as image:
            if image.format != media.pillow_format:
                return None, refusals.REASON_NOT_MEDIA
            width, height = image.size
            if width * height > uploaded.max_photo_pixels():
                return None, refusals.REASON_TOO_MANY_PIXELS
            image.verify()
    except Image.DecompressionBombError:
        return None, refusals.REASON_TOO_MANY_PIXELS
    except Exception:  # whatever a decoder says about bytes we did not make
        return None, refusals.REASON_UNREADABLE
    return media, ""


def _store_attachments(
    message: Message, parts: list[Part], stored: list[str]
) -> list[tuple[str, bytes]]:
    """The files, each checked; one insert for them all. Returns the accepted ones."""
    accepted = 0
    attachments = []
    for part in parts:
        name = uploaded.clean_name(part.name)
        media, reason = check_file(part.data)
        if media is not None and accepted >= settings.CHECKIN_MAX_FILES_PER_REMARK:
            media, reason = None, REASON_TOO_MANY_FILES
        attachment = MessageAttachment(
            message=message,
            content_type=media.content_type if media else part.content_type[:100],
            size=len(part.data),
            original_name=name,
        )
        if media is None:
            attachment.state = MessageAttachment.State.REJECTED
            attachment.rejection_reason = reason
        else:
            accepted += 1
            attachment.state = MessageAttachment.State.READY
            attachment.kind = media.kind
            attachment.file.save(name, ContentFile(part.data), save=False)
            stored.append(attachment.file.name or "")
        attachments.append(attachment)
    MessageAttachment.objects.bulk_create(attachments)
    return [
        (attachment.original_name, part.data)
        for attachment, part in zip(attachments, parts, strict=True)
        if attachment.state == MessageAttachment.State.READY
    ]


def _show_to_staff(message: Message, files: list[tuple[str, bytes]]) -> None:
    """The photos and videos of a customer's e-mail go where those of an MMS or the
    check-in page go: a remark on the appointment, each file checked and cleaned by the
    portal's background check, shown and shared from the appointment page. A file the
    check-in has no room for left stays with the e-mail (`MessageAttachment`)."""
    remark = pictures.remark_for(message)
    Message.objects.filter(pk=message.pk).update(remark=remark)
    message.remark = remark
    for name, data in files:
        try:
            store_upload(remark, UploadedFile(BytesIO(data), name=name, size=len(data)))
        except refusals.UploadRejected as refused:
            log.info("Message %s: %s not added to the check-in: %s", message.pk, name, refused)
    pictures.open_remark(remark)


def _delete(names: list[str]) -> None:
    for name in filter(None, names):
        with contextlib.suppress(Exception):
            default_storage.delete(name)
