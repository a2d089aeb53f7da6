"""What the customer answered on their check-in, read once for every place that shows it.

The customer's review and done pages, the confirmation message, the staff appointment
page and the conversion of an accepted offer into a work item all read a check-in's
answers here, so they name the same offers at the same prices with the same totals,
whatever the catalogue did since.

The rules, each in one place:

- The *sent* answer to an offer is the latest item staff have (open or handled); a
  withdrawn one no longer counts. The *current* answer is an unsent draft, else the
  sent one.
- An answer is worth the price kept on its item when the customer gave it
  (`CheckInItem.offer_price`): a price change or a deactivated offer later changes
  nothing the customer agreed to. An offer with no accepted answer is shown at
  today's catalogue price, the price accepting it now would keep.
- An offer is named in the reader's language (its `OfferTranslation`), else by the name
  kept on the item, else by today's catalogue name. Staff read the kept name.
- The customer sees every active offer, and also an offer no longer in the catalogue
  that they answered, so they can still take that answer back.

`read_answers` costs a fixed number of queries: the check-in's items with their offers
(and their files when asked for); the translations of the answered offers when a
language is asked for; the rest of the catalogue only when something reads `offers`.
This module builds on `workshop.models` only; `portal` and `notifications` import it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.db.models import prefetch_related_objects

from workshop.models import Attachment, CheckInItem, Offer, OnlineCheckIn

Kind = CheckInItem.Kind
State = CheckInItem.State

ZERO = Decimal("0.00")


class OfferChoice:
    """The customer's answer to one offer."""

    ACCEPT = "accept"
    CONTACT = "contact"
    NONE = "none"
    ALL = (ACCEPT, CONTACT, NONE)


KIND_FOR_CHOICE = {
    OfferChoice.ACCEPT: Kind.OFFER_ACCEPTED,
    OfferChoice.CONTACT: Kind.OFFER_CONTACT,
    OfferChoice.NONE: Kind.OFFER_DECLINED,
}
_CHOICE_FOR_KIND: dict[str, str] = {
    Kind.OFFER_ACCEPTED: OfferChoice.ACCEPT,
    Kind.OFFER_CONTACT: OfferChoice.CONTACT,
}
# Items that tell staff something; a withdrawn one was replaced by a newer answer.
SENT_STATES = (State.OPEN, State.HANDLED)


def choice_of(item: CheckInItem | None) -> str:
    return _CHOICE_FOR_KIND.get(item.kind, OfferChoice.NONE) if item else OfferChoice.NONE


def latest_sent(items: Iterable[CheckInItem]) -> dict[int, CheckInItem]:
    """Per offer id, the sent item that counts: the latest open or handled one.

    `items` in the order they were created."""
    latest: dict[int, CheckInItem] = {}
    for item in items:
        if item.offer_id is not None and item.state in SENT_STATES:
            latest[item.offer_id] = item
    return latest


def sent_choices(checkin: OnlineCheckIn, offer_ids: Iterable[int]) -> dict[int, str]:
    """Per offer id, what staff have as the customer's answer; one query."""
    items = CheckInItem.objects.filter(
        checkin_id=checkin.pk, offer_id__in=list(offer_ids), state__in=SENT_STATES
    ).order_by("created_at", "pk")
    return {offer_id: choice_of(item) for offer_id, item in latest_sent(items).items()}


def answered_price(item: CheckInItem) -> Decimal:
    """What the customer agreed to pay for an offer: the price when they answered."""
    return item.offer_price if item.offer_price is not None else ZERO


@dataclass(frozen=True)
class Terms:
    """An offer as the customer answered it: its name and the price they saw."""

    name: str
    price: Decimal


def answered_terms(item: CheckInItem) -> Terms:
    """As staff read an answer, and as its work item takes it over."""
    return Terms(item.offer_name, answered_price(item))


@dataclass
class OfferLine:
    """One offer on a check-in: the catalogue entry and the customer's answers to it."""

    offer: Offer
    name: str
    description: str
    sent_item: CheckInItem | None = None
    draft: CheckInItem | None = None

    @property
    def sent(self) -> str:
        return choice_of(self.sent_item)

    @property
    def current(self) -> str:
        return choice_of(self.draft) if self.draft else self.sent

    @property
    def is_changed(self) -> bool:
        """Changed on the page but not sent yet."""
        return self.current != self.sent

    @property
    def in_catalogue(self) -> bool:
        return self.offer.active

    def choice(self, *, sent: bool) -> str:
        return self.sent if sent else self.current

    def price(self, *, sent: bool) -> Decimal:
        item = self.sent_item if sent else (self.draft or self.sent_item)
        if item is not None and item.kind == Kind.OFFER_ACCEPTED:
            return answered_price(item)
        return self.offer.price

    @property
    def current_price(self) -> Decimal:
        return self.price(sent=False)

    @property
    def choices(self) -> list[str]:
        """What the customer may answer: anything for an offer in the catalogue; for one
        no longer offered, keep what they have or take it back."""
        if self.in_catalogue:
            return list(OfferChoice.ALL)
        kept = {self.sent, self.current}
        return [c for c in OfferChoice.ALL if c in kept or c == OfferChoice.NONE]


@dataclass(frozen=True)
class Chosen:
    """An offer as one version of the answers has it (sent, or on the page now)."""

    line: OfferLine
    choice: str
    price: Decimal

    @property
    def name(self) -> str:
        return self.line.name

    @property
    def offer(self) -> Offer:
        return self.line.offer


@dataclass(frozen=True)
class Version:
    """The answers as sent (what staff have) or as on the page now (drafts included)."""

    accepted: list[Chosen]
    contact: list[Chosen]
    # Taken back on the page and not sent yet; only the current version has these.
    dropped: list[Chosen]
    remarks: list[CheckInItem]
    services_total: Decimal


class Answers:
    """A check-in's answers. Build it with `read_answers`."""

    def __init__(
        self, checkin: OnlineCheckIn, items: list[CheckInItem], language: str | None
    ) -> None:
        self.checkin = checkin
        self.language = language
        self.all_items = items

    @property
    def has_unsent(self) -> bool:
        return any(item.state == State.DRAFT for item in self.all_items)

    @cached_property
    def remarks(self) -> list[CheckInItem]:
        """Remarks not withdrawn, drafts included, oldest first."""
        return [item for item in self.all_items if item.is_remark and item.state != State.WITHDRAWN]

    @cached_property
    def _answered_offers(self) -> list[Offer]:
        """The offers the customer ever answered, one instance each, on every item."""
        offers: dict[int, Offer] = {}
        for item in self.all_items:
            if item.offer is not None:  # selected with the item: no query
                item.offer = offers.setdefault(item.offer.pk, item.offer)
        return list(offers.values())

    def _lines(self, offers: list[Offer]) -> list[OfferLine]:
        """A line per offer in catalogue order; an offer no longer offered only with an
        answer to keep or take back."""
        offers = sorted(offers, key=lambda offer: (offer.position, offer.name, offer.pk))
        if self.language:
            prefetch_related_objects(offers, "translations")
        offer_items = [item for item in self.all_items if item.offer_id is not None]
        sent = latest_sent(offer_items)
        drafts = {item.offer_id: item for item in offer_items if item.state == State.DRAFT}
        lines = []
        for offer in offers:
            line = OfferLine(
                offer, "", "", sent_item=sent.get(offer.pk), draft=drafts.get(offer.pk)
            )
            if not offer.active and line.sent == line.current == OfferChoice.NONE:
                continue
            line.name, line.description = self._text(line)
            lines.append(line)
        return lines

    @cached_property
    def answered(self) -> list[OfferLine]:
        """The offers the customer answered: all that the sent or current answers name."""
        return self._lines(self._answered_offers)

    @cached_property
    def offers(self) -> list[OfferLine]:
        """The offers the customer sees, in catalogue order: each active one, and each
        they answered that is no longer offered."""
        answered = self._answered_offers
        others = (
            Offer.objects.active()
            .filter(dealership_id=self.checkin.appointment.dealership_id)
            .exclude(pk__in=[offer.pk for offer in answered])
        )
        lines = self._lines([*answered, *others])
        if "answered" not in self.__dict__:  # read once, for both
            ids = {offer.pk for offer in answered}
            self.__dict__["answered"] = [line for line in lines if line.offer.pk in ids]
        return lines

    def _text(self, line: OfferLine) -> tuple[str, str]:
        offer = line.offer
        if self.language:
            for translation in offer.translations.all():
                if translation.language == self.language:
                    return translation.name, translation.description or offer.description
        kept = line.draft or line.sent_item
        return (kept.offer_name if kept and kept.offer_name else offer.name), offer.description

    def version(self, *, sent: bool) -> Version:
        chosen = [
            Chosen(line, line.choice(sent=sent), line.price(sent=sent)) for line in self.answered
        ]
        accepted = [c for c in chosen if c.choice == OfferChoice.ACCEPT]
        if sent:
            remarks = [r for r in self.remarks if r.state != State.DRAFT]
        else:
            remarks = list(self.remarks)
        return Version(
            accepted=accepted,
            contact=[c for c in chosen if c.choice == OfferChoice.CONTACT],
            dropped=[
                c for c in chosen if not sent and c.choice == OfferChoice.NONE and c.line.is_changed
            ],
            remarks=remarks,
            services_total=sum((c.price for c in accepted), ZERO),
        )

    @cached_property
    def sent(self) -> Version:
        return self.version(sent=True)

    @cached_property
    def current(self) -> Version:
        return self.version(sent=False)

    @cached_property
    def staff_items(self) -> list[CheckInItem]:
        """What staff handle on the appointment page, open first, then handled, then
        withdrawn; an accepted offer that became a work item has left for the work
        items. Each offer item carries `terms` (name and price as answered) and every
        item its `ready_attachments`."""
        self._answered_offers  # noqa: B018 - one catalogue entry for each offer item
        shown = [
            item
            for item in self.all_items
            if item.state != State.DRAFT
            and not (item.kind == Kind.OFFER_ACCEPTED and item.work_item_id is not None)
        ]
        for item in shown:
            if item.offer_id is not None:
                # Read off the item by the staff page's template; not a model field.
                item.terms = answered_terms(item)  # type: ignore[attr-defined]
        order: dict[str, int] = {State.OPEN: 0, State.HANDLED: 1}
        shown.sort(
            key=lambda item: (
                order.get(item.state, 2),
                item.submitted_at or item.created_at,
                item.pk,
            )
        )
        return shown


def read_answers(
    checkin: OnlineCheckIn, language: str | None = None, *, files: bool = False
) -> Answers:
    """The check-in's answers, offers named in `language` (None: as staff read them).

    `files`: remarks come with their files (`attachments`, and `ready_attachments`: the
    ones checked and ready to show). One query for the items and their offers, one
    more for the files; with a language, one for the offers' names in it; reading
    `offers` (the whole catalogue, for the customer to choose from) adds one (read it
    before the versions when a page needs both, so the names come in one query).
    """
    items = list(
        CheckInItem.objects.filter(checkin_id=checkin.pk)
        .select_related("offer", "handled_by", "work_item")
        .order_by("created_at", "pk")
    )
    for item in items:
        item.checkin = checkin
    if files:
        remarks = [item for item in items if item.is_remark]
        prefetch_related_objects(remarks, "attachments")
        for remark in remarks:
            remark.ready_attachments = [
                a for a in remark.attachments.all() if a.state == Attachment.State.READY
            ]
    return Answers(checkin, items, language)
