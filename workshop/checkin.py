"""The online check-in flow: what the customer answers and how staff handle it.

Each function is one transaction and the only place its rule lives; portal views,
staff views, tasks and the demo seeder all call these.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from followups import opening as follow_ups
from integrations import events
from workshop import answers
from workshop.answers import OfferChoice
from workshop.daylist import list_changed
from workshop.models import (
    Appointment,
    AppointmentEvent,
    CheckInItem,
    Customer,
    Offer,
    OnlineCheckIn,
    WorkItem,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User as AbstractBaseUser

Kind = CheckInItem.Kind
State = CheckInItem.State
Event = AppointmentEvent.Kind


class ItemAlreadyHandled(Exception):
    """Someone else handled the item first."""


class TooManyRemarks(Exception):
    """The check-in has as many remarks as one may have (CHECKIN_MAX_REMARKS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def record_opened(checkin: OnlineCheckIn) -> bool:
    """Notes the first time the customer opened the page; later visits change nothing."""
    now = timezone.now()
    with transaction.atomic():
        first = OnlineCheckIn.objects.filter(pk=checkin.pk, opened_at__isnull=True).update(
            opened_at=now
        )
        if first:
            checkin.opened_at = now
            list_changed(checkin.appointment.dealership_id)
            AppointmentEvent.objects.create(
                appointment_id=checkin.appointment_id,
                at=now,
                kind=Event.CHECKIN_OPENED,
                actor=AppointmentEvent.Actor.CUSTOMER,
            )
    return bool(first)


def set_offer_choices(checkin: OnlineCheckIn, choices: Mapping[Offer, str]) -> None:
    """Saves the customer's answers to offers as drafts, sent with the check-in.

    Only a change from what staff already have becomes a draft; changing back to the
    sent answer leaves nothing to send. Each draft keeps the offer's name and price as
    the customer saw them. A fixed number of queries, however many offers.
    """
    for choice in choices.values():
        if choice not in OfferChoice.ALL:
            raise ValueError(f"unknown offer choice {choice!r}")
    if not choices:
        return
    offer_ids = [offer.pk for offer in choices]
    with transaction.atomic():
        OnlineCheckIn.objects.select_for_update().filter(pk=checkin.pk).first()
        checkin.items.filter(offer_id__in=offer_ids, state=State.DRAFT).delete()
        sent = answers.sent_choices(checkin, offer_ids)
        CheckInItem.objects.bulk_create(
            CheckInItem(
                checkin=checkin,
                kind=answers.KIND_FOR_CHOICE[choice],
                offer=offer,
                offer_name=offer.name,
                offer_price=offer.price,
            )
            for offer, choice in choices.items()
            if choice != sent.get(offer.pk, OfferChoice.NONE)
        )


def set_offer_choice(checkin: OnlineCheckIn, offer: Offer, choice: str) -> None:
    """One answer; see `set_offer_choices`."""
    set_offer_choices(checkin, {offer: choice})


def submit_checkin(checkin: OnlineCheckIn) -> list[CheckInItem]:
    """Sends the customer's draft answers to staff: each becomes an open item.

    A changed offer answer withdraws the earlier one if staff had not handled it yet;
    if they had, the new answer stays open so they learn of the change. Sending again
    without new drafts changes nothing, so a double tap or a resubmitted form never
    duplicates items. Returns the items this call opened.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = OnlineCheckIn.objects.select_for_update().get(pk=checkin.pk)
        drafts = list(locked.items.filter(state=State.DRAFT).order_by("created_at", "pk"))
        if not drafts and locked.answered_at is not None:
            return []
        # A changed answer to an offer withdraws the open one staff have; a "no" that
        # withdrew something has said all it had to say.
        offer_ids = {draft.offer_id for draft in drafts if draft.offer_id is not None}
        replaced = set(
            locked.items.filter(offer_id__in=offer_ids, state=State.OPEN).values_list(
                "offer_id", flat=True
            )
        )
        if replaced:
            locked.items.filter(offer_id__in=replaced, state=State.OPEN).update(
                state=State.WITHDRAWN
            )
        said = [d for d in drafts if d.kind == Kind.OFFER_DECLINED and d.offer_id in replaced]
        if said:
            CheckInItem.objects.filter(pk__in=[d.pk for d in said]).delete()
        opened = [draft for draft in drafts if draft not in said]
        CheckInItem.objects.filter(pk__in=[item.pk for item in opened]).update(
            state=State.OPEN, submitted_at=now
        )
        locked.answered_at = locked.answered_at or now
        locked.last_answered_at = now
        # Nothing left open (say, the customer only took an answer back): handled.
        has_open = bool(opened) or locked.items.filter(state=State.OPEN).exists()
        locked.handled_at = None if has_open else (locked.handled_at or now)
        locked.save(update_fields=["answered_at", "last_answered_at", "handled_at"])
        list_changed(checkin.appointment.dealership_id)
        AppointmentEvent.objects.create(
            appointment_id=locked.appointment_id,
            at=now,
            kind=Event.CHECKIN_ANSWERED,
            actor=AppointmentEvent.Actor.CUSTOMER,
            detail="\n".join(str(item) for item in opened),
        )
        events.emit(locked.appointment_id, events.CHECKIN_SENT)
        follow_ups.contact_requested(locked.appointment_id, opened)
    for item in opened:
        item.state, item.submitted_at = State.OPEN, now
    checkin.answered_at, checkin.last_answered_at = locked.answered_at, now
    checkin.handled_at = locked.handled_at
    return opened


def _mark_handled(item: CheckInItem, by: "AbstractBaseUser", note: str = "") -> None:
    """Within a transaction that holds the item's lock."""
    now = timezone.now()
    item.state = State.HANDLED
    item.handled_at = now
    item.handled_by = by
    item.handling_note = note
    item.save(update_fields=["state", "handled_at", "handled_by", "handling_note", "work_item"])
    if not CheckInItem.objects.filter(checkin_id=item.checkin_id, state=State.OPEN).exists():
        OnlineCheckIn.objects.filter(pk=item.checkin_id).update(handled_at=now)
    list_changed(item.checkin.appointment.dealership_id)


def _lock_open_item(item: CheckInItem) -> CheckInItem:
    # The item and its check-in locked (the appointment only read, for its dealership).
    locked = (
        CheckInItem.objects.select_for_update(of=("self", "checkin"))
        .select_related("checkin__appointment")
        .get(pk=item.pk)
    )
    if locked.state != State.OPEN:
        raise ItemAlreadyHandled(item.pk)
    return locked


def handle_item(item: CheckInItem, by: "AbstractBaseUser", note: str = "") -> CheckInItem:
    """Marks an open item handled without a work item (e.g. after calling the customer)."""
    with transaction.atomic():
        locked = _lock_open_item(item)
        _mark_handled(locked, by, note)
        AppointmentEvent.objects.create(
            appointment_id=locked.checkin.appointment_id,
            kind=Event.ITEM_HANDLED,
            actor=AppointmentEvent.Actor.STAFF,
            user=by,
            detail=str(locked),
            new_value=note,
        )
    return locked


def convert_item(
    item: CheckInItem,
    by: "AbstractBaseUser",
    *,
    description: str,
    notes: str = "",
    price: Decimal,
) -> WorkItem:
    """Turns an open item into a work item and marks it handled, exactly once.

    Two receptionists converting the same item at once get one work item: the second
    waits for the first's lock, then finds the item handled.
    """
    with transaction.atomic():
        locked = _lock_open_item(item)
        appointment = Appointment.objects.select_related("dealership").get(
            pk=locked.checkin.appointment_id
        )
        origin = WorkItem.Origin.REMARK if locked.is_remark else WorkItem.Origin.OFFER
        work_item = WorkItem.objects.create(
            appointment=appointment,
            description=description,
            notes=notes,
            price=price,
            vat_rate=appointment.dealership.vat_rate,
            origin=origin,
            position=_next_position(appointment),
            created_by=by,
        )
        locked.work_item = work_item
        _mark_handled(locked, by)
        AppointmentEvent.objects.create(
            appointment=appointment,
            kind=Event.ITEM_CONVERTED,
            actor=AppointmentEvent.Actor.STAFF,
            user=by,
            detail=str(locked),
            new_value=description,
        )
        events.emit(
            appointment.pk,
            events.ITEM_CONVERTED,
            converted={
                "kind": locked.kind,
                "work_line": {
                    "description": work_item.description,
                    "notes": work_item.notes,
                    "price": f"{work_item.price:.2f}",
                },
            },
        )
    return work_item


def convert_offer(item: CheckInItem, by: "AbstractBaseUser") -> WorkItem:
    """An accepted offer becomes a work item, named and priced as the customer accepted it."""
    terms = answers.answered_terms(item)
    return convert_item(item, by, description=terms.name, price=terms.price)


def _next_position(appointment: Appointment) -> int:
    last = appointment.work_items.order_by("-position").values_list("position", flat=True).first()
    return (last or 0) + 1


@dataclass(frozen=True)
class ContactChange:
    """One contact detail the customer changed, as text (a phone number in E.164)."""

    field: str
    old: str
    new: str


def update_contact(
    appointment: Appointment, customer: Customer, changes: dict[str, object]
) -> list[ContactChange]:
    """Applies the customer's new contact details and puts each change on the timeline.

    `changes` maps field names (email, phone, preferred_channel) to new values; fields
    whose value did not change are skipped. Returns what changed, from what to what.
    """
    changed: list[ContactChange] = []
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        for field, new in changes.items():
            old = getattr(locked, field)
            if str(old or "") == str(new or ""):
                continue
            setattr(locked, field, new)
            change = ContactChange(field, str(old or ""), str(new or ""))
            changed.append(change)
            AppointmentEvent.objects.create(
                appointment=appointment,
                kind=Event.CONTACT_CHANGED,
                actor=AppointmentEvent.Actor.CUSTOMER,
                field=field,
                old_value=change.old,
                new_value=change.new,
            )
        if changed:
            fields = [change.field for change in changed]
            locked.save(update_fields=fields)
            for field in fields:
                setattr(customer, field, getattr(locked, field))
    return changed


def add_remark(
    checkin: OnlineCheckIn, subject: str, description: str, *, key: uuid.UUID | None = None
) -> CheckInItem:
    """A new remark, kept as a draft until the customer sends the check-in.

    `key` names the form it was posted with: the same form posted again (a double tap,
    a network retry) gets the remark it added, not a second one. Past CHECKIN_MAX_REMARKS
    remarks it is refused (`TooManyRemarks`). The check-in is locked, so posts at the
    same moment are counted and matched one after the other.
    """
    with transaction.atomic():
        OnlineCheckIn.objects.select_for_update().filter(pk=checkin.pk).first()
        remarks = CheckInItem.objects.filter(checkin_id=checkin.pk, kind=Kind.REMARK)
        if key is not None:
            posted_before = remarks.filter(idempotency_key=key).first()
            if posted_before is not None:
                return posted_before
        limit = settings.CHECKIN_MAX_REMARKS
        if remarks.count() >= limit:
            raise TooManyRemarks(limit)
        return CheckInItem.objects.create(
            checkin=checkin,
            kind=Kind.REMARK,
            subject=subject,
            description=description,
            idempotency_key=key,
        )


def change_remark(remark: CheckInItem, subject: str, description: str) -> bool:
    """Rewrites a remark not sent yet; a sent one stays as staff received it."""
    changed = CheckInItem.objects.filter(pk=remark.pk, kind=Kind.REMARK, state=State.DRAFT).update(
        subject=subject, description=description
    )
    if changed:
        remark.subject, remark.description = subject, description
    return bool(changed)


def delete_remark(remark: CheckInItem) -> bool:
    """Deletes a remark not sent yet, with its files; a sent one stays."""
    with transaction.atomic():
        locked = (
            CheckInItem.objects.select_for_update()
            .filter(pk=remark.pk, kind=Kind.REMARK, state=State.DRAFT)
            .first()
        )
        if locked is None:
            return False
        files = [
            (field.storage, field.name)
            for attachment in locked.attachments.all()
            for field in (attachment.file, attachment.thumbnail, attachment.display_file)
            if field.name
        ]
        locked.delete()

        def delete_files() -> None:
            for storage, name in files:
                storage.delete(name)

        transaction.on_commit(delete_files)
    return True


def has_unsent_answers(checkin: OnlineCheckIn) -> bool:
    """Read with the check-in (`OnlineCheckIn.objects.with_unsent`) if it was, else asked."""
    read: bool | None = getattr(checkin, "has_unsent", None)
    if read is not None:
        return read
    return CheckInItem.objects.filter(checkin=checkin).unsent().exists()


# --- Staff actions on the appointment page ---------------------------------------------


class WorkItemNotRemovable(Exception):
    """Planned work comes from the DMS: staff change and remove only what staff added."""


def share_item(item: CheckInItem, by: "AbstractBaseUser", *, visible: bool) -> CheckInItem:
    """Shows a remark and its media to the mechanics, or hides it again."""
    with transaction.atomic():
        locked = CheckInItem.objects.select_for_update().select_related("checkin").get(pk=item.pk)
        if not locked.is_remark or locked.state == State.DRAFT:
            raise ValueError("only a sent remark can be shared with mechanics")
        if locked.visible_to_mechanics == visible:
            return locked
        old = locked.visible_to_mechanics
        locked.visible_to_mechanics = visible
        locked.save(update_fields=["visible_to_mechanics"])
        AppointmentEvent.objects.create(
            appointment_id=locked.checkin.appointment_id,
            kind=Event.ITEM_SHARED,
            actor=AppointmentEvent.Actor.STAFF,
            user=by,
            detail=str(locked),
            field="visible_to_mechanics",
            old_value=_yes_no(old),
            new_value=_yes_no(visible),
        )
    item.visible_to_mechanics = visible
    return locked


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def add_work_item(
    appointment: Appointment,
    by: "AbstractBaseUser",
    *,
    description: str,
    notes: str = "",
    price: Decimal,
) -> WorkItem:
    """Staff add a line of work to the appointment."""
    with transaction.atomic():
        locked = (
            Appointment.objects.select_for_update()
            .select_related("dealership")
            .get(pk=appointment.pk)
        )
        work_item = WorkItem.objects.create(
            appointment=locked,
            description=description,
            notes=notes,
            price=price,
            vat_rate=locked.dealership.vat_rate,
            origin=WorkItem.Origin.STAFF,
            position=_next_position(locked),
            created_by=by,
        )
        AppointmentEvent.objects.create(
            appointment=locked,
            kind=Event.WORK_ITEM_ADDED,
            actor=AppointmentEvent.Actor.STAFF,
            user=by,
            detail=description,
            new_value=str(price),
        )
    return work_item


def change_work_item(
    work_item: WorkItem,
    by: "AbstractBaseUser",
    *,
    description: str,
    notes: str = "",
    price: Decimal,
) -> list[str]:
    """Changes a staff-added work item; each changed field goes on the timeline, old and new.

    Returns the names of the changed fields.
    """
    changes = {"description": description, "notes": notes, "price": price}
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().get(pk=work_item.pk)
        if not locked.is_removable:
            raise WorkItemNotRemovable(work_item.pk)
        changed = []
        for field, new in changes.items():
            old = getattr(locked, field)
            if old == new:
                continue
            setattr(locked, field, new)
            changed.append(field)
            AppointmentEvent.objects.create(
                appointment_id=locked.appointment_id,
                kind=Event.WORK_ITEM_CHANGED,
                actor=AppointmentEvent.Actor.STAFF,
                user=by,
                detail=locked.description,
                field=field,
                old_value=str(old),
                new_value=str(new),
            )
        if changed:
            locked.save(update_fields=changed)
    for field in changed:
        setattr(work_item, field, getattr(locked, field))
    return changed


def remove_work_item(work_item: WorkItem, by: "AbstractBaseUser") -> None:
    """Removes a work item staff added (or converted); planned work stays."""
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().filter(pk=work_item.pk).first()
        if locked is None:
            return  # already removed, by someone else or a double click
        if not locked.is_removable:
            raise WorkItemNotRemovable(work_item.pk)
        AppointmentEvent.objects.create(
            appointment_id=locked.appointment_id,
            kind=Event.WORK_ITEM_REMOVED,
            actor=AppointmentEvent.Actor.STAFF,
            user=by,
            detail=locked.description,
            old_value=str(locked.price),
        )
        locked.delete()


def rotate_link(checkin: OnlineCheckIn, by: "AbstractBaseUser") -> OnlineCheckIn:
    """Replaces the customer's link: the old one stops working at once."""
    with transaction.atomic():
        locked = OnlineCheckIn.objects.select_for_update().get(pk=checkin.pk)
        locked.rotate_link()
        AppointmentEvent.objects.create(
            appointment_id=locked.appointment_id,
            at=locked.link_rotated_at or timezone.now(),
            kind=Event.LINK_ROTATED,
            actor=AppointmentEvent.Actor.STAFF,
            user=by,
        )
    checkin.link_selector, checkin.link_verifier = locked.link_selector, locked.link_verifier
    checkin.link_rotated_at = locked.link_rotated_at
    return locked
