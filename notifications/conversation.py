"""The conversation of one appointment: what the customer writes (by SMS, e-mail or the
check-in page) and what the workshop answers, both ways through `notifications.Message`.

Every inbound message, whatever its channel, goes through `received()` once its row is
written: a one-word answer confirms or declines the appointment (`answer`), anything else
waits, unread, pinning its appointment until someone in the office reads or answers it,
and the appointment's advisor hears of it if they asked to. Staff answer with
`send_reply`, which goes out through the exactly-once delivery like any message.
"""

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from config.celery import publish
from followups import opening as follow_ups
from integrations import events
from notifications import compose, gsm, texts
from notifications.answers_words import Answer, parse
from notifications.models import REPLIES_CLOSED, Message, MessageChannel, QuickReply
from workshop.daylist import list_changed
from workshop.models import (
    DECLINE_WAITING,
    Appointment,
    AppointmentEvent,
    Channel,
    Membership,
    OnlineCheckIn,
)

log = logging.getLogger(__name__)

Purpose = Message.Purpose
Confirmation = Appointment.Confirmation
# At most this many acknowledgements per appointment: someone pressing yes, no, yes...
# on the check-in page must not turn the dealership into their texting service.
MAX_ACKNOWLEDGEMENTS = 4
MAX_REPLY_LENGTH = 1600  # ten SMS segments; Twilio's own limit


class ReplyRefused(Exception):
    """A reply staff cannot send now; `str()` says why, in the reader's language."""


def _loaded(appointment_id: int) -> Appointment:
    return Appointment.objects.select_related("dealership", "customer", "vehicle", "checkin").get(
        pk=appointment_id
    )


# --- What the customer sends -------------------------------------------------------------


def received(message: Message, now: datetime | None = None) -> Answer | None:
    """Takes in a message from the customer, once, in the transaction that wrote it.

    A one-word yes or no confirms or declines its appointment; the message is then read
    (nothing waits on it). Anything else stays unread and pins the appointment; its
    advisor gets an e-mail if they asked for one. An automatic reply (out of office)
    never answers anything. Returns the answer taken, if any.
    """
    now = now or timezone.now()
    if message.is_outbound or message.appointment is None:
        return None
    list_changed(message.appointment.dealership_id)  # unread, or an answer: the list shows it
    meaning = None if message.auto_reply else parse(message.body)
    if meaning is not None and not message.remark_id and not message.media_urls:
        appointment = _loaded(message.appointment.pk)
        if appointment.is_upcoming(now):
            answer(appointment, meaning, channel=message.channel, now=now)
            Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now)
            message.read_at = now
            return meaning
    if not message.auto_reply:
        transaction.on_commit(lambda: publish("notifications.tell_advisor", [(message.pk,)]))
    return None


def answer(
    appointment: Appointment,
    meaning: Answer,
    *,
    channel: str | None = None,
    now: datetime | None = None,
) -> bool:
    """The customer confirms (YES) or declines (NO) the appointment: by a one-word
    reply on `channel`, or on the check-in page (no channel: their preferred one).

    Once per change: the same answer again changes nothing and sends nothing. A change
    is on the timeline, and the customer gets a short acknowledgement in their language;
    a decline's says how to rebook, and pins the appointment until staff handle it.
    Returns whether anything changed. `appointment` comes with dealership, customer,
    vehicle and checkin loaded.
    """
    now = now or timezone.now()
    state = Confirmation.CONFIRMED if meaning == Answer.YES else Confirmation.DECLINED
    with transaction.atomic():
        # A conditional UPDATE: of two answers at the same moment, one changes the row.
        # Not `save()`: `updated_at` tells a moved booking, which this is not.
        changed = (
            Appointment.objects.filter(pk=appointment.pk)
            .filter(status=Appointment.Status.SCHEDULED)
            .exclude(confirmation=state)
            .update(confirmation=state, confirmation_at=now, decline_handled_at=None)
        )
        if not changed:
            return False
        appointment.confirmation, appointment.confirmation_at = state, now
        appointment.decline_handled_at = None
        AppointmentEvent.objects.create(
            appointment=appointment,
            at=now,
            kind=(
                AppointmentEvent.Kind.CONFIRMED
                if state == Confirmation.CONFIRMED
                else AppointmentEvent.Kind.DECLINED
            ),
            actor=AppointmentEvent.Actor.CUSTOMER,
            detail=_by_channel(channel),
        )
        _acknowledge(appointment, state, channel, now)
        if state == Confirmation.DECLINED:
            follow_ups.open_follow_up(appointment, follow_ups.Reason.DECLINED, now=now)
        list_changed(appointment.dealership_id)
        events.emit(
            appointment.pk,
            events.APPOINTMENT_CONFIRMED
            if state == Confirmation.CONFIRMED
            else events.APPOINTMENT_DECLINED,
        )
    return True


def _by_channel(channel: str | None) -> str:
    names: dict[str, str] = {Channel.SMS: "SMS", Channel.EMAIL: "e-mail"}
    return names.get(channel or "", "")


def _acknowledge(appointment: Appointment, state: str, channel: str | None, now: datetime) -> None:
    customer = appointment.customer
    usable = customer.channels_to_try()
    if channel not in usable:
        channel = usable[0] if usable else None
    if channel is None:
        return
    sent = Message.objects.filter(
        appointment=appointment, purpose__in=[Purpose.CONFIRMED, Purpose.DECLINED]
    ).count()
    if sent >= MAX_ACKNOWLEDGEMENTS:
        return
    purpose = Purpose.CONFIRMED if state == Confirmation.CONFIRMED else Purpose.DECLINED
    message = compose.build_message(appointment, purpose, channel, now=now, overrides={})
    message.save()
    compose.enqueue([message])


def handle_decline(appointment: Appointment, user, now: datetime | None = None) -> bool:
    """Staff called, moved or cancelled after a decline: it no longer pins."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = Appointment.objects.filter(DECLINE_WAITING, pk=appointment.pk).update(
            decline_handled_at=now
        )
        if changed:
            appointment.decline_handled_at = now
            AppointmentEvent.objects.create(
                appointment=appointment,
                at=now,
                kind=AppointmentEvent.Kind.DECLINE_HANDLED,
                actor=AppointmentEvent.Actor.STAFF,
                user=user,
            )
            list_changed(appointment.dealership_id)
    return bool(changed)


def mark_read(appointment: Appointment, user, now: datetime | None = None) -> int:
    """Someone in the office read the customer's messages: they no longer pin."""
    now = now or timezone.now()
    with transaction.atomic():
        read = _read(appointment, now)
        if read:
            AppointmentEvent.objects.create(
                appointment=appointment,
                at=now,
                kind=AppointmentEvent.Kind.MESSAGES_READ,
                actor=AppointmentEvent.Actor.STAFF,
                user=user,
            )
    return read


def _read(appointment: Appointment, now: datetime) -> int:
    """The customer's messages count as read: they no longer pin, and the list hears it."""
    read = Message.objects.unread().filter(appointment=appointment).update(read_at=now)
    if read:
        list_changed(appointment.dealership_id)
    return read


def attach(message: Message, appointment: Appointment, user, now: datetime | None = None) -> bool:
    """Staff put a message that matched nothing with the appointment it is about. It
    arrives there as if it had matched: unread, and a one-word answer counts."""
    now = now or timezone.now()
    with transaction.atomic():
        moved = Message.objects.filter(
            pk=message.pk, direction=Message.Direction.IN, appointment__isnull=True
        ).update(appointment=appointment, customer=appointment.customer)
        if not moved:
            return False
        message.appointment, message.customer = appointment, appointment.customer
        AppointmentEvent.objects.create(
            appointment=appointment,
            at=now,
            kind=AppointmentEvent.Kind.MESSAGE_ATTACHED,
            actor=AppointmentEvent.Actor.STAFF,
            user=user,
            detail=message.sender,
        )
        received(message, now)
        if message.media_urls:
            transaction.on_commit(lambda: publish("notifications.fetch_media", [(message.pk,)]))
    return True


def write_from_portal(checkin: OnlineCheckIn, body: str, *, key: str, photo=None) -> Message:
    """What the customer writes on the check-in page, with a photo if they added one.

    Once per form (`key`): a double tap or a resent post finds the message it wrote. A
    photo goes through the checks of every upload (`portal.uploads`); refused, it raises
    `UploadRejected` and the message is not written, so the customer can try again with
    nothing lost. The message is taken in as any other (`received`).
    """
    from notifications import media

    appointment = checkin.appointment
    provider_id = f"portal:{key}"
    existing = Message.objects.filter(direction=Message.Direction.IN, provider_id=provider_id)
    if existing.exists():
        return existing.get()
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            appointment=appointment,
            customer=appointment.customer,
            dealership=appointment.dealership,
            channel=MessageChannel.PORTAL,
            direction=Message.Direction.IN,
            purpose=Purpose.REPLY,
            language=texts.language_for(appointment),
            recipient=appointment.dealership.name,
            sender=appointment.customer.full_name,
            body=body.strip(),
            status=Message.Status.RECEIVED,
            queued_at=now,
            received_at=now,
            provider_id=provider_id,
        )
        if photo is not None:
            media.store_picture(message, photo)
        received(message, now)
    return message


def portal_thread(appointment: Appointment) -> list[Message]:
    """The conversation as the customer reads it on the check-in page: what they wrote,
    by any channel, and what the workshop wrote back (not the invitations)."""
    return list(
        Message.objects.filter(appointment=appointment)
        .filter(
            Q(direction=Message.Direction.IN)
            | Q(purpose__in=[Purpose.REPLY, Purpose.CONFIRMED, Purpose.DECLINED])
        )
        .exclude(status=Message.Status.CANCELLED)
        .order_by("queued_at", "pk")
    )


# --- What the workshop answers ------------------------------------------------------------


def reply_channel(appointment: Appointment, messages: list[Message]) -> str:
    """The channel the customer last wrote by, else the one they prefer, as long as we
    may use it; else whichever we may."""
    usable = appointment.customer.channels_to_try()
    last_in = next(
        (m.channel for m in reversed(messages) if not m.is_outbound and m.channel in usable),
        None,
    )
    if last_in:
        return last_in
    return usable[0] if usable else appointment.customer.preferred_channel


def send_reply(
    appointment: Appointment,
    *,
    user,
    channel: str,
    body: str,
    now: datetime | None = None,
) -> Message:
    """Staff's answer to the customer, queued for the exactly-once delivery. Answering
    reads the customer's messages (they no longer pin)."""
    now = now or timezone.now()
    customer = appointment.customer
    body = body.strip()
    if channel == Channel.SMS:
        body = gsm.clean_sms(body)
    if not customer.can_receive(channel):
        if channel == Channel.SMS:
            raise ReplyRefused(gettext("The customer cannot get an SMS from us."))
        raise ReplyRefused(gettext("The customer has no e-mail address."))
    if appointment.status in REPLIES_CLOSED:
        raise ReplyRefused(gettext("This appointment is closed."))
    with translation.override(texts.language_for(appointment)):
        subject = gettext("Your appointment at %(dealership)s") % {
            "dealership": appointment.dealership.name
        }
    with transaction.atomic():
        message = Message.objects.create(
            appointment=appointment,
            customer=customer,
            channel=channel,
            direction=Message.Direction.OUT,
            purpose=Purpose.REPLY,
            language=texts.language_for(appointment),
            recipient=compose.address_for(customer, channel),
            sender=compose.sender_for(channel, appointment.dealership),
            subject=subject if channel == Channel.EMAIL else "",
            body=body,
            status=Message.Status.QUEUED,
            queued_at=now,
            author=user,
        )
        _read(appointment, now)  # answering is reading
        compose.enqueue([message])
    return message


def quick_replies(appointment: Appointment) -> list[tuple[QuickReply, str]]:
    """The dealership's quick replies in the customer's language, filled in."""
    language = texts.language_for(appointment)
    replies = QuickReply.objects.filter(dealership_id=appointment.dealership_id, language=language)
    values = texts.values_for(appointment, Channel.SMS, language)
    return [(reply, texts.fill(reply.body, values)) for reply in replies]


# --- The advisor's e-mail -----------------------------------------------------------------


def tell_advisor(message_id: int) -> bool:
    """E-mails the appointment's advisor that the customer wrote, if they asked to hear;
    best effort (a lost notice leaves the message pinned on the list all the same)."""
    message = (
        Message.objects.select_related(
            "appointment__advisor", "appointment__customer", "appointment__dealership"
        )
        .filter(pk=message_id, direction=Message.Direction.IN, appointment__isnull=False)
        .first()
    )
    if message is None or message.appointment is None:
        return False
    appointment = message.appointment
    advisor = appointment.advisor
    if advisor is None or not advisor.email:
        return False
    wants = Membership.objects.filter(
        user=advisor, dealership_id=appointment.dealership_id, email_on_customer_message=True
    ).exists()
    if not wants:
        return False
    url = settings.SITE_URL + reverse("workshop:appointment", args=[appointment.pk])
    name = appointment.customer.full_name
    with translation.override(appointment.dealership.language):  # the workshop's language
        subject = gettext("%(name)s wrote about %(reference)s") % {
            "name": name,
            "reference": appointment.external_ref,
        }
    send_mail(
        subject=subject,
        message=f"{message.body}\n\n{url}",
        from_email=None,
        recipient_list=[advisor.email],
    )
    return True


def unread_count(dealership_id: int) -> int:
    """How many conversations wait for the office at the dealership (the nav's count)."""
    return (
        Message.objects.unread()
        .filter(appointment__dealership_id=dealership_id)
        .values("appointment_id")
        .distinct()
        .count()
    )
