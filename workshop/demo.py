"""Demo data: two dealerships, three weeks of appointments, every check-in state.

Idempotent: every row has a natural key (slug, username, external reference) and is
only created when missing, so running the seeder twice gives the same data and a
later run keeps what users did with it. Appointments are laid out around the day of
the first run; each later day gets a few appointments of its own, so a new user's
first screen is never empty. A handful of "showcase" appointments on the next working
day keep customer links to try in every state and language (`showcase`), whenever
the demo runs; the banner and the demo's login page list them (`tour`).
"""

import io
import random
import socket
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from PIL import Image, ImageDraw

from notifications.compose import build_message, overrides_for
from notifications.models import Message, QuickReply
from workshop import checkin as flow
from workshop import visit
from workshop.booking import PlannedWork, book_appointment
from workshop.models import (
    Appointment,
    Attachment,
    CheckInItem,
    Customer,
    Dealership,
    Membership,
    Offer,
    OfferTranslation,
    OnlineCheckIn,
    Role,
    Vehicle,
)

DEMO_PASSWORD = "pitlane-demo"  # noqa: S105 - printed by `make run`, demo mode only
DEMO_USERS = {
    "reception": Role.RECEPTIONIST,
    "mechanic": Role.MECHANIC,
    "manager": Role.MANAGER,
}
# Showcase appointments: (language, state the seeder leaves the check-in in), per dealership.
INVITED, IN_PROGRESS, SENT = "invited", "in-progress", "sent"
SHOWCASE = {
    "leiestreek-gent": [("nl", INVITED), ("fr", IN_PROGRESS), ("en", SENT)],
    "de-vaart-utrecht": [("de", INVITED), ("nl", SENT)],
}
SHOWCASE_PREFIX = "TRY-"


@dataclass(frozen=True)
class DealershipSpec:
    slug: str
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    phone: str
    email: str
    time_zone: str
    language: str
    brand_colour: str
    languages: tuple[str, ...]  # customers' languages, by weight


DEALERSHIPS = [
    DealershipSpec(
        slug="leiestreek-gent",
        name="Autohuis Leiestreek Gent",
        street="Kortrijksesteenweg 1124",
        postal_code="9051",
        city="Gent",
        country="BE",
        phone="+3292101010",
        email="service@leiestreek.example",
        time_zone="Europe/Brussels",
        language="nl",
        brand_colour="#0f5c8c",
        languages=("nl", "nl", "nl", "fr", "fr", "en"),
    ),
    DealershipSpec(
        slug="de-vaart-utrecht",
        name="Autobedrijf De Vaart Utrecht",
        street="Europalaan 40",
        postal_code="3526 KS",
        city="Utrecht",
        country="NL",
        phone="+31302101010",
        email="werkplaats@devaart.example",
        time_zone="Europe/Amsterdam",
        language="nl",
        brand_colour="#9a3412",
        languages=("nl", "nl", "nl", "nl", "en", "de"),
    ),
]

# name per language, description per language, price
OFFERS = [
    (
        {"nl": "Carwash", "fr": "Lavage extérieur", "en": "Car wash", "de": "Autowäsche"},
        {
            "nl": "Uw auto glanst weer: wassen, drogen en velgen reinigen.",
            "fr": "Votre voiture brille à nouveau\u00a0: lavage, séchage et jantes.",
            "en": "Your car shines again: wash, dry and rims cleaned.",
            "de": "Ihr Auto glänzt wieder: Waschen, Trocknen und Felgenreinigung.",
        },
        "19.95",
        "",
        True,
    ),
    (
        {
            "nl": "Interieurreiniging",
            "fr": "Nettoyage intérieur",
            "en": "Interior cleaning",
            "de": "Innenreinigung",
        },
        {
            "nl": "Stofzuigen, ramen binnenzijde en dashboard reinigen.",
            "fr": "Aspiration, vitres intérieures et tableau de bord.",
            "en": "Vacuuming, inside windows and dashboard.",
            "de": "Staubsaugen, Innenscheiben und Armaturenbrett.",
        },
        "49.00",
        "",
        True,
    ),
    (
        {
            "nl": "Ruitenwissers vervangen",
            "fr": "Remplacement des essuie-glaces",
            "en": "Replace wiper blades",
            "de": "Scheibenwischer erneuern",
        },
        {
            "nl": "Nieuwe wisserbladen voor: helder zicht in de winter.",
            "fr": "Nouveaux balais avant\u00a0: une vue dégagée en hiver.",
            "en": "New front wiper blades: clear view through winter.",
            "de": "Neue Wischerblätter vorne: klare Sicht im Winter.",
        },
        "39.50",
        "",
        True,
    ),
    (
        {
            "nl": "Airco-onderhoud",
            "fr": "Entretien climatisation",
            "en": "Air-conditioning service",
            "de": "Klimaanlagen-Service",
        },
        {
            "nl": "Koelmiddel bijvullen en het systeem ontsmetten.",
            "fr": "Recharge de gaz et désinfection du circuit.",
            "en": "Refrigerant top-up and system disinfection.",
            "de": "Kältemittel nachfüllen und System desinfizieren.",
        },
        "89.00",
        "https://example.com/airco",
        True,
    ),
    (
        {
            "nl": "Winterbanden wissel",
            "fr": "Montage pneus hiver",
            "en": "Winter tyre change",
            "de": "Winterreifenwechsel",
        },
        {
            "nl": "Wissel naar uw winterbanden, inclusief balanceren en opslag.",
            "fr": "Passage aux pneus hiver, équilibrage et stockage compris.",
            "en": "Switch to your winter tyres, balancing and storage included.",
            "de": "Wechsel auf Winterreifen inkl. Auswuchten und Einlagerung.",
        },
        "69.00",
        "",
        True,
    ),
    (
        {
            "nl": "Vervangwagen",
            "fr": "Véhicule de remplacement",
            "en": "Courtesy car",
            "de": "Ersatzwagen",
        },
        {
            "nl": "Een vervangwagen voor de duur van het onderhoud.",
            "fr": "Une voiture de remplacement pendant l'entretien.",
            "en": "A courtesy car while yours is in the workshop.",
            "de": "Ein Ersatzwagen für die Dauer der Wartung.",
        },
        "25.00",
        "",
        False,
    ),
    (
        {
            "nl": "Koplampen polijsten",
            "fr": "Polissage des phares",
            "en": "Headlight polishing",
            "de": "Scheinwerfer polieren",
        },
        {
            "nl": "Doffe koplampen weer helder, voor beter zicht 's nachts.",
            "fr": "Des phares ternis redeviennent clairs.",
            "en": "Dull headlights made clear again for better night vision.",
            "de": "Matte Scheinwerfer wieder klar für bessere Sicht bei Nacht.",
        },
        "59.00",
        "",
        True,
    ),
]

PLANNED_WORK = {
    "nl": [
        ("Grote onderhoudsbeurt", "Volgens fabrieksvoorschrift", "389.00"),
        ("Kleine onderhoudsbeurt", "", "189.00"),
        ("Remblokken voor vervangen", "Incl. controle remschijven", "245.50"),
        ("Periodieke keuring voorbereiden", "", "65.00"),
        ("Distributieriem vervangen", "Incl. waterpomp", "720.00"),
        ("Bandenwissel", "", "45.00"),
        ("Accu testen", "", "0.00"),
    ],
    "fr": [
        ("Grand entretien", "Selon les prescriptions du constructeur", "389.00"),
        ("Petit entretien", "", "189.00"),
        ("Remplacement plaquettes avant", "Contrôle des disques compris", "245.50"),
        ("Préparation contrôle technique", "", "65.00"),
        ("Remplacement courroie de distribution", "Pompe à eau comprise", "720.00"),
        ("Changement de pneus", "", "45.00"),
        ("Test batterie", "", "0.00"),
    ],
    "en": [
        ("Major service", "To the manufacturer's schedule", "389.00"),
        ("Minor service", "", "189.00"),
        ("Replace front brake pads", "Brake discs checked", "245.50"),
        ("Prepare roadworthiness test", "", "65.00"),
        ("Replace timing belt", "Water pump included", "720.00"),
        ("Tyre change", "", "45.00"),
        ("Battery test", "", "0.00"),
    ],
    "de": [
        ("Große Inspektion", "Nach Herstellervorgabe", "389.00"),
        ("Kleine Inspektion", "", "189.00"),
        ("Bremsbeläge vorne erneuern", "Inkl. Prüfung der Bremsscheiben", "245.50"),
        ("HU-Vorbereitung", "", "65.00"),
        ("Zahnriemen erneuern", "Inkl. Wasserpumpe", "720.00"),
        ("Reifenwechsel", "", "45.00"),
        ("Batterietest", "", "0.00"),
    ],
}

REMARKS = {
    "nl": [
        ("Piepende remmen", "Bij het afremmen hoor ik een hoge pieptoon, vooral 's ochtends."),
        ("Lampje motorstoring", "Sinds vorige week brandt het oranje motorlampje."),
        ("Kras op achterbumper", "Kunt u een prijs geven om dit bij te werken? Zie foto."),
    ],
    "fr": [
        ("Bruit au freinage", "J'entends un grincement aigu au freinage, surtout le matin."),
        ("Voyant moteur", "Le voyant moteur orange est allumé depuis la semaine dernière."),
    ],
    "en": [
        ("Squeaky brakes", "A high-pitched squeak when braking, mostly in the morning."),
        ("Rattle in the dashboard", "Something rattles behind the dashboard on rough roads."),
    ],
    "de": [
        ("Quietschende Bremsen", "Beim Bremsen höre ich ein hohes Quietschen, vor allem morgens."),
        (
            "Klappern im Armaturenbrett",
            "Auf schlechten Straßen klappert etwas hinter dem Armaturenbrett.",
        ),
    ],
}

FIRST_NAMES = {
    "nl": ["Jan", "An", "Pieter", "Sofie", "Bram", "Lotte", "Wouter", "Eline", "Tom", "Femke"],
    "fr": ["Julien", "Camille", "Marie", "Thomas", "Élodie", "Nicolas", "Chloé", "Antoine"],
    "en": ["James", "Emma", "Oliver", "Sarah", "Daniel", "Grace"],
    "de": ["Lukas", "Anna", "Jonas", "Lea", "Felix", "Hannah"],
}
LAST_NAMES = {
    "nl": [
        "Peeters",
        "Janssens",
        "De Smet",
        "Van den Berg",
        "Bakker",
        "Visser",
        "De Vries",
        "Claes",
    ],
    "fr": ["Dubois", "Lambert", "Dupont", "Martin", "Lefèvre", "Leroy", "Renard"],
    "en": ["Smith", "Taylor", "Brown", "Wilson", "Walker"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber"],
}
VEHICLES = [
    ("Volkswagen", "Golf 8 1.5 eTSI"),
    ("Volkswagen", "Polo"),
    ("Volkswagen", "Tiguan"),
    ("Audi", "A3 Sportback"),
    ("Škoda", "Octavia Combi"),
    ("Peugeot", "208"),
    ("Renault", "Clio"),
    ("Toyota", "Yaris Hybrid"),
    ("BMW", "320d Touring"),
    ("Kia", "Niro EV"),
    ("Volvo", "XC40"),
    ("Tesla", "Model 3"),
    ("Ford", "Focus"),
    ("Opel", "Corsa"),
]
SLOT_TIMES = [
    time(8, 0),
    time(8, 30),
    time(9, 15),
    time(10, 0),
    time(11, 0),
    time(13, 30),
    time(14, 30),
    time(15, 30),
]
LETTERS = "BCDFGHJKLNPRSTVXZ"


def plate_for(country: str, rng: random.Random) -> str:
    if country == "BE":
        letters = "".join(rng.choice(LETTERS) for _ in range(3))
        return f"{rng.randint(1, 2)}-{letters}-{rng.randint(100, 999)}"
    return (
        f"{rng.choice(LETTERS)}{rng.choice(LETTERS)}-{rng.randint(100, 999)}-{rng.choice(LETTERS)}"
    )


def vin_for(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return "WVW" + "".join(rng.choice(alphabet) for _ in range(14))


def demo_photo(label: str, seed: int) -> bytes:
    """A small, real JPEG standing in for a customer's photo."""
    rng = random.Random(seed)
    image = Image.new("RGB", (960, 720), (rng.randint(60, 120), rng.randint(70, 130), 140))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randint(0, 900), rng.randint(0, 660)
        draw.ellipse(
            (x, y, x + rng.randint(40, 200), y + rng.randint(40, 200)), outline="white", width=4
        )
    draw.rectangle((0, 640, 960, 720), fill=(20, 20, 20))
    draw.text((24, 664), label, fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


class Seeder:
    def __init__(self, today: date | None = None) -> None:
        self.now = timezone.now()
        self.today = today or timezone.localdate()
        self.log: list[str] = []

    def run(self) -> list[str]:
        with transaction.atomic():
            users = self.users()
            for index, spec in enumerate(DEALERSHIPS):
                dealership = self.dealership(spec)
                offers = self.offers(dealership)
                # Every demo user works in every dealership, so the mechanic opens on the
                # dealership reception opens on, and both switch the same way.
                for user in users.values():
                    Membership.objects.get_or_create(
                        user=user,
                        dealership=dealership,
                        defaults={"role": DEMO_USERS[user.username]},
                    )
                self.appointments(dealership, spec, offers, users["reception"], index)
                self.showcase(dealership, spec, offers, users["reception"])
                self.quick_replies(dealership)
                self.note_templates(dealership)
        return self.log

    # --- people -------------------------------------------------------------
    def users(self) -> dict:
        User = get_user_model()
        managers, _ = Group.objects.get_or_create(name="Managers")
        managers.permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=[
                    "workshop",
                    "auth",
                    "notifications",
                    "integrations",
                    "followups",
                ],
                codename__in=[
                    "view_dealership",
                    "change_dealership",
                    "add_offer",
                    "change_offer",
                    "delete_offer",
                    "view_offer",
                    "add_offertranslation",
                    "change_offertranslation",
                    "delete_offertranslation",
                    "view_offertranslation",
                    "add_membership",
                    "change_membership",
                    "delete_membership",
                    "view_membership",
                    "add_user",
                    "change_user",
                    "view_user",
                    "add_messagetext",
                    "change_messagetext",
                    "delete_messagetext",
                    "view_messagetext",
                    "add_quickreply",
                    "change_quickreply",
                    "delete_quickreply",
                    "view_quickreply",
                    "view_message",
                    "view_inboundemail",
                    "view_messageattachment",
                    "add_apikey",
                    "change_apikey",
                    "view_apikey",
                    "view_apicall",
                    "add_webhook",
                    "change_webhook",
                    "delete_webhook",
                    "view_webhook",
                    "view_webhookdelivery",
                    "change_webhookdelivery",
                    # Follow-up calls: the calendar, settings, tags and note templates.
                    "add_closingday",
                    "change_closingday",
                    "delete_closingday",
                    "view_closingday",
                    "add_followupsettings",
                    "change_followupsettings",
                    "view_followupsettings",
                    "add_tag",
                    "change_tag",
                    "delete_tag",
                    "view_tag",
                    "add_notetemplate",
                    "change_notetemplate",
                    "delete_notetemplate",
                    "view_notetemplate",
                    "view_followup",
                    "change_followup",
                    "view_attempt",
                ],
            )
        )
        names = {
            "reception": ("Rita", "Receptie"),
            "mechanic": ("Marc", "Monteur"),
            "manager": ("Mona", "Manager"),
        }
        users = {}
        for username in DEMO_USERS:
            first, last = names[username]
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "is_staff": username == "manager",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                self.log.append(f"user {username}")
            if username == "manager":
                user.groups.add(managers)
            users[username] = user
        return users

    def dealership(self, spec: DealershipSpec) -> Dealership:
        dealership, created = Dealership.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name,
                "street": spec.street,
                "postal_code": spec.postal_code,
                "city": spec.city,
                "country": spec.country,
                "phone": spec.phone,
                "email": spec.email,
                "time_zone": spec.time_zone,
                "language": spec.language,
                "brand_colour": spec.brand_colour,
                "currency": "EUR",
                "vat_rate": Decimal("21.00"),
            },
        )
        if created:
            self.log.append(f"dealership {spec.name}")
        return dealership

    def quick_replies(self, dealership: Dealership) -> None:
        """Ready answers for the conversation, in every language customers read."""
        for language, replies in QUICK_REPLIES.items():
            for position, (name, body) in enumerate(replies):
                QuickReply.objects.get_or_create(
                    dealership=dealership,
                    name=name,
                    language=language,
                    defaults={"body": body, "position": position},
                )

    def note_templates(self, dealership: Dealership) -> None:
        """Ready notes for the call dialog (follow-up calls), in every language."""
        from followups.models import NoteTemplate

        for language, notes in NOTE_TEMPLATES.items():
            for position, (name, outcome, text) in enumerate(notes):
                NoteTemplate.objects.get_or_create(
                    dealership=dealership,
                    name=name,
                    language=language,
                    defaults={"outcome": outcome, "text": text, "position": position},
                )

    def offers(self, dealership: Dealership) -> list[Offer]:
        offers = []
        for position, (names, descriptions, price, url, converts) in enumerate(OFFERS, start=1):
            offer, created = Offer.objects.get_or_create(
                dealership=dealership,
                name=names[dealership.language],
                defaults={
                    "description": descriptions[dealership.language],
                    "price": Decimal(price),
                    "url": url,
                    "converts_to_work_item": converts,
                    "position": position,
                },
            )
            if created:
                OfferTranslation.objects.bulk_create(
                    OfferTranslation(
                        offer=offer, language=lang, name=names[lang], description=descriptions[lang]
                    )
                    for lang in names
                    if lang != dealership.language
                )
            offers.append(offer)
        return offers

    # --- appointments -------------------------------------------------------
    def appointments(self, dealership, spec, offers, receptionist, index) -> None:
        anchor = Appointment.objects.filter(
            dealership=dealership, external_ref__startswith="DMS-"
        ).exists()
        if not anchor:
            rng = random.Random(f"{spec.slug}-layout")
            number = 0
            for offset in range(-7, 15):
                day = self.today + timedelta(days=offset)
                if day.isoweekday() > 5:
                    continue
                for slot in sorted(rng.sample(SLOT_TIMES, k=rng.choice([4, 4, 5, 5]))):
                    number += 1
                    self.appointment(
                        dealership, spec, offers, receptionist, f"DMS-{number:05d}", day, slot, rng
                    )
        # Whatever day it is, today has a few appointments of its own.
        today_refs = Appointment.objects.filter(
            dealership=dealership, external_ref__startswith=f"DMS-{self.today:%Y%m%d}-"
        )
        on_today = Appointment.objects.for_day(dealership, self.today).count()
        if on_today < 3 and not today_refs.exists():
            rng = random.Random(f"{spec.slug}-{self.today}")
            for number, slot in enumerate([time(9, 0), time(11, 30), time(15, 0)], start=1):
                ref = f"DMS-{self.today:%Y%m%d}-{number}"
                self.appointment(dealership, spec, offers, receptionist, ref, self.today, slot, rng)

    def showcase(self, dealership, spec, offers, receptionist) -> None:
        """Customer links to try in each state: kept while open, else booked anew."""
        kept = {code for code, _appointment in showcase_appointments(dealership, self.now)}
        day = next_working_day(timezone.localdate(self.now, dealership.tz))
        for number, (language, state) in enumerate(SHOWCASE.get(spec.slug, [])):
            code = showcase_code(language, state)
            if code in kept:
                continue
            ref = f"{SHOWCASE_PREFIX}{day:%Y%m%d}-{code}"
            if Appointment.objects.filter(dealership=dealership, external_ref=ref).exists():
                continue  # booked today, and opened or changed by someone since
            rng = random.Random(f"{spec.slug}-{ref}")
            slot = time(9 + number, 30)
            self.appointment(
                dealership, spec, offers, receptionist, ref, day, slot, rng, language, state
            )

    def appointment(
        self,
        dealership,
        spec,
        offers,
        receptionist,
        ref,
        day,
        slot,
        rng,
        language=None,
        showcase_state=None,
    ) -> None:
        language = language or rng.choice(spec.languages)
        first = rng.choice(FIRST_NAMES[language])
        last = rng.choice(LAST_NAMES[language])
        local = first.lower().replace("é", "e").replace("ü", "u")
        has_phone = rng.random() > 0.1
        customer = Customer.objects.create(
            dealership=dealership,
            first_name=first,
            last_name=last,
            email=f"{local}.{rng.randint(10, 99)}@example.com",
            phone=(
                f"+32 47{rng.randint(0, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
                if spec.country == "BE"
                else f"+31 6 {rng.randint(10000000, 59999999)}"
            )
            if has_phone
            else "",
            preferred_channel="sms" if has_phone and rng.random() < 0.6 else "email",
            language=language,
        )
        make, model = rng.choice(VEHICLES)
        vehicle = Vehicle.objects.create(
            dealership=dealership,
            plate=plate_for(spec.country, rng),
            vin=vin_for(rng),
            make=make,
            model=model,
            year=rng.randint(2014, 2025),
            mileage_km=rng.randint(8, 220) * 1000,
        )
        starts_at = datetime.combine(day, slot, tzinfo=dealership.tz)
        work = rng.sample(PLANNED_WORK[language], k=rng.choice([1, 2, 2, 3]))
        appointment = book_appointment(
            dealership=dealership,
            customer=customer,
            vehicle=vehicle,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=rng.choice([1, 2, 3, 4])),
            external_ref=ref,
            advisor=receptionist,
            planned_work=[PlannedWork(d, Decimal(p), n) for d, n, p in work],
            confirm=False,  # the demo's outbox shows invitations, not 100 confirmations
        )
        if showcase_state:
            self.showcase_state(appointment, offers, showcase_state, rng)
        else:
            self.checkin_state(appointment, offers, receptionist, rng)

    def showcase_state(self, appointment, offers, state, rng) -> None:
        """Invited; then opened with an answer not sent yet; or sent to reception."""
        checkin = appointment.checkin
        invited_at = self.now - timedelta(hours=2)
        status = OnlineCheckIn.InvitationStatus.DELIVERED
        OnlineCheckIn.objects.filter(pk=checkin.pk).update(
            invited_at=invited_at, invitation_status=status
        )
        checkin.refresh_from_db()
        self.invitation_message(appointment, checkin, invited_at, status)
        if state == INVITED:
            return
        flow.record_opened(checkin)
        flow.set_offer_choice(checkin, offers[0], flow.OfferChoice.ACCEPT)
        if state == IN_PROGRESS:
            return
        flow.set_offer_choice(checkin, offers[5], flow.OfferChoice.CONTACT)
        subject, description = REMARKS[appointment.customer.language][0]
        remark = CheckInItem.objects.create(
            checkin=checkin, kind=CheckInItem.Kind.REMARK, subject=subject, description=description
        )
        self.photo(remark, f"{appointment.vehicle.plate} - {subject}", rng.randint(0, 10_000))
        flow.submit_checkin(checkin)

    def checkin_state(self, appointment, offers, receptionist, rng) -> None:
        """Puts the appointment's check-in where a real one would be by now."""
        checkin = appointment.checkin
        lead = timedelta(days=appointment.dealership.invitation_lead_days)
        until_start = appointment.starts_at - self.now
        if until_start > lead:
            return  # not invited yet
        roll = rng.random()
        if until_start > timedelta(0) and roll < 0.15:
            return  # due: the invitation goes out at the next beat
        self.visit_so_far(appointment, roll)
        invited_at = max(appointment.starts_at - lead, appointment.created_at - timedelta(days=20))
        invited_at = min(invited_at, self.now - timedelta(hours=1))
        invitation_status = rng.choice(
            [OnlineCheckIn.InvitationStatus.DELIVERED] * 4 + [OnlineCheckIn.InvitationStatus.SENT]
        )
        OnlineCheckIn.objects.filter(pk=checkin.pk).update(
            invited_at=invited_at, invitation_status=invitation_status
        )
        checkin.refresh_from_db()
        self.invitation_message(appointment, checkin, invited_at, invitation_status)
        if roll < 0.3:
            return  # invited, not opened
        flow.record_opened(checkin)
        if roll < 0.45:
            return  # opened, not answered
        language = appointment.customer.language
        for offer in rng.sample(offers, k=rng.choice([0, 1, 2])):
            flow.set_offer_choice(
                checkin,
                offer,
                rng.choice([flow.OfferChoice.ACCEPT] * 2 + [flow.OfferChoice.CONTACT]),
            )
        if rng.random() < 0.6:
            subject, description = rng.choice(REMARKS[language])
            remark = CheckInItem.objects.create(
                checkin=checkin,
                kind=CheckInItem.Kind.REMARK,
                subject=subject,
                description=description,
            )
            if rng.random() < 0.7:
                self.photo(
                    remark, f"{appointment.vehicle.plate} - {subject}", rng.randint(0, 10_000)
                )
        flow.submit_checkin(checkin)
        # Past appointments and some upcoming ones have been handled by reception.
        if appointment.starts_at < self.now or roll > 0.8:
            for item in checkin.items.open():
                if (
                    item.kind == CheckInItem.Kind.OFFER_ACCEPTED
                    and item.offer.converts_to_work_item
                ):
                    flow.convert_offer(item, receptionist)
                else:
                    flow.handle_item(item, receptionist, note="")
                if item.is_remark:  # what the customer saw, for the mechanic to see too
                    flow.share_item(item, receptionist, visible=True)
        self.customer_steps(appointment, roll, rng)

    def visit_so_far(self, appointment, roll) -> None:
        """Where a started visit would be by now: a no-show now and then; else arrived
        at the start and promised for its end, ready half an hour after it, collected
        three hours after it (so today has cars in the workshop, a late one or two,
        and cars waiting to be collected)."""
        start, end, now = appointment.starts_at, appointment.ends_at, self.now
        if start > now:
            return
        Status = Appointment.Status
        if roll < 0.1 and start + timedelta(hours=1) < now:
            fields = {"status": Status.NO_SHOW, "no_show_at": start + timedelta(minutes=30)}
        else:
            fields = {
                "status": Status.ARRIVED,
                "arrived_at": start - timedelta(minutes=5),
                "promised_ready_at": end,
            }
            if end + timedelta(minutes=30) < now:
                fields.update(status=Status.READY, ready_at=end + timedelta(minutes=20))
            if end + timedelta(hours=3) < now:
                fields.update(status=Status.DONE, collected_at=end + timedelta(hours=2))
        Appointment.objects.filter(pk=appointment.pk).update(**fields)
        for name, value in fields.items():
            setattr(appointment, name, value)

    def customer_steps(self, appointment, roll, rng) -> None:
        """Now and then a customer cancels, asks for another date, or rates the visit:
        through the real steps, so reception sees them pinned."""
        Status = Appointment.Status
        if appointment.status == Status.DONE and appointment.collected_at:
            if rng.random() < 0.3:
                stars = 2 if rng.random() < 0.25 else rng.choice([4, 5, 5])
                visit.rate(appointment, stars=stars, now=appointment.collected_at)
        elif visit.may_cancel_free(appointment, self.now):
            if 0.45 <= roll < 0.52:
                visit.cancel_by_customer(appointment, reason="", now=self.now)
            elif 0.52 <= roll < 0.6:
                day = timezone.localdate(appointment.starts_at, appointment.dealership.tz)
                later = next_working_day(day + timedelta(days=2))
                visit.request_other_date(
                    appointment, [(later, "morning"), (next_working_day(later), "afternoon")]
                )

    def invitation_message(self, appointment, checkin, invited_at, invitation_status) -> None:
        """The invitation as it went out, written by the real renderer."""
        appointment.checkin = checkin
        channels = appointment.customer.channels_to_try()
        if not channels:
            return
        message = build_message(
            appointment,
            Message.Purpose.INVITATION,
            channels[0],
            now=invited_at,
            overrides=overrides_for([appointment.dealership_id]),
        )
        message.status = invitation_status  # sent or delivered, as the check-in says
        message.attempts = 1
        message.attempted_at = message.sent_at = invited_at
        if invitation_status == OnlineCheckIn.InvitationStatus.DELIVERED:
            message.delivered_at = invited_at + timedelta(seconds=8)
        message.save()

    def photo(self, remark: CheckInItem, label: str, seed: int) -> None:
        data = demo_photo(label, seed)
        attachment = Attachment(
            item=remark,
            kind=Attachment.Kind.PHOTO,
            state=Attachment.State.READY,
            content_type="image/jpeg",
            size=len(data),
            original_name="IMG_2041.jpg",
            checked_at=self.now,
        )
        attachment.file.save("photo.jpg", ContentFile(data), save=False)
        thumb = Image.open(io.BytesIO(data))
        thumb.thumbnail((320, 320))
        buffer = io.BytesIO()
        thumb.save(buffer, "JPEG", quality=75)
        attachment.thumbnail.save("thumb.jpg", ContentFile(buffer.getvalue()), save=False)
        attachment.save()


# --- What there is to try (the banner and the demo's login page) ----------------------------


# The call dialog's ready notes (followups.NoteTemplate): (name, outcome, text).
NOTE_TEMPLATES = {
    "en": [
        ("Voicemail", "voicemail", "Left a voicemail asking them to call us back."),
        ("Booked", "agreed", "Agreed on the phone; added to the appointment."),
    ],
    "nl": [
        ("Voicemail", "voicemail", "Voicemail ingesproken met de vraag ons terug te bellen."),
        ("Afgesproken", "agreed", "Telefonisch afgesproken; toegevoegd aan de afspraak."),
    ],
    "fr": [
        ("Messagerie", "voicemail", "Message laissé sur la messagerie, rappel demandé."),
        ("Convenu", "agreed", "Convenu par téléphone ; ajouté au rendez-vous."),
    ],
    "de": [
        ("Mailbox", "voicemail", "Auf die Mailbox gesprochen, um Rückruf gebeten."),
        ("Vereinbart", "agreed", "Telefonisch vereinbart; zum Termin hinzugefügt."),
    ],
}


def next_working_day(today: date) -> date:
    day = today + timedelta(days=1)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


# The demo's quick replies: (name, text) per language, with placeholders.
QUICK_REPLIES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("Car ready", "Hello {first_name}, your {vehicle} is ready. See you soon, {dealership}"),
        ("We will call", "Hello {first_name}, thank you. We will call you today. {dealership}"),
    ],
    "nl": [
        ("Wagen klaar", "Dag {first_name}, uw {vehicle} is klaar. Tot straks, {dealership}"),
        ("We bellen", "Dag {first_name}, bedankt. We bellen u vandaag nog. {dealership}"),
    ],
    "fr": [
        ("Voiture prête", "Bonjour {first_name}, votre {vehicle} est prête. {dealership}"),
        (
            "On vous appelle",
            "Bonjour {first_name}, merci. Nous vous appelons aujourd'hui. {dealership}",
        ),
    ],
    "de": [
        ("Auto fertig", "Hallo {first_name}, Ihr {vehicle} ist fertig. Bis gleich, {dealership}"),
        ("Wir rufen an", "Hallo {first_name}, danke. Wir rufen Sie heute an. {dealership}"),
    ],
}


def showcase_code(language: str, state: str) -> str:
    return f"{language.upper()}-{state.upper()}"


def showcase_appointments(dealership: Dealership, now: datetime) -> list[tuple[str, Appointment]]:
    """The dealership's showcase appointment per code whose link stays open for a while."""
    appointments = (
        Appointment.objects.upcoming(now + timedelta(hours=1))
        .filter(dealership=dealership, external_ref__startswith=SHOWCASE_PREFIX)
        .select_related("dealership", "customer", "checkin")
        .order_by("starts_at", "pk")
    )
    first: dict[str, Appointment] = {}
    for appointment in appointments:
        first.setdefault(appointment.external_ref.split("-", 2)[2], appointment)
    return list(first.items())


@dataclass(frozen=True)
class TourLink:
    appointment: Appointment
    language: str
    state: str
    url: str  # the link as the customer got it (SITE_URL)
    path: str  # the same, on whatever address the page was opened at


@dataclass(frozen=True)
class TourStop:
    dealership: Dealership
    links: list[TourLink]


def tour() -> list[TourStop]:
    """Each demo dealership with its customer links to try, described as they are now."""
    states = {
        "invited": gettext("not opened yet"),
        "opened": gettext("opened, answers not sent yet"),
        "answered": gettext("sent, waiting for reception"),
        "handled": gettext("sent and handled by reception"),
    }
    now = timezone.now()
    stops = []
    for dealership in Dealership.objects.filter(slug__in=SHOWCASE).order_by("name"):
        links = [
            TourLink(
                appointment=appointment,
                language=appointment.customer.get_language_display(),
                state=states.get(
                    appointment.checkin.progress, pgettext("check-in progress", "Invited")
                ),
                url=appointment.checkin.link,
                path=reverse("portal:link", args=[appointment.checkin.token]),
            )
            for _code, appointment in showcase_appointments(dealership, now)
        ]
        stops.append(TourStop(dealership=dealership, links=links))
    return stops


def lan_address() -> str:
    """This computer's address on its local network, or "" (a UDP connect sends nothing)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.254.254.254", 1))
        address = probe.getsockname()[0]
    except OSError:
        return ""
    finally:
        probe.close()
    return "" if address.startswith("127.") else address
