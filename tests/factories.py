"""factory_boy factories for the workshop domain, shared by every app's tests."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from workshop.models import (
    Appointment,
    CheckInItem,
    Customer,
    Dealership,
    Membership,
    Offer,
    OnlineCheckIn,
    Role,
    Vehicle,
    WorkItem,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Rita"
    last_name = "Receptie"
    password = factory.django.Password("secret-password-1")


class DealershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dealership

    name = factory.Sequence(lambda n: f"Garage {n}")
    slug = factory.Sequence(lambda n: f"garage-{n}")
    street = "Kortrijksesteenweg 1"
    postal_code = "9000"
    city = "Gent"
    country = "BE"
    phone = "+3292101010"
    email = "service@garage.example"
    time_zone = "Europe/Brussels"
    language = "nl"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    dealership = factory.SubFactory(DealershipFactory)
    role = Role.RECEPTIONIST


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    dealership = factory.SubFactory(DealershipFactory)
    first_name = "Jan"
    last_name = factory.Sequence(lambda n: f"Peeters{n}")
    email = factory.LazyAttribute(lambda c: f"{c.last_name.lower()}@example.com")
    phone = "+32470123456"
    preferred_channel = "sms"
    language = "nl"


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    dealership = factory.SubFactory(DealershipFactory)
    plate = factory.Sequence(lambda n: f"1-ABC-{n:03d}")
    make = "Volkswagen"
    model = "Golf"
    year = 2020
    mileage_km = 45000


class AppointmentFactory(factory.django.DjangoModelFactory):
    """An appointment with its online check-in, as booking creates them."""

    class Meta:
        model = Appointment
        skip_postgeneration_save = True

    dealership = factory.SubFactory(DealershipFactory)
    customer = factory.SubFactory(CustomerFactory, dealership=factory.SelfAttribute("..dealership"))
    vehicle = factory.SubFactory(VehicleFactory, dealership=factory.SelfAttribute("..dealership"))
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + timedelta(hours=2))
    external_ref = factory.Sequence(lambda n: f"DMS-T{n:05d}")

    @factory.post_generation
    def checkin(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            OnlineCheckIn.objects.create(appointment=self, **kwargs)


class WorkItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkItem

    appointment = factory.SubFactory(AppointmentFactory)
    description = factory.Sequence(lambda n: f"Work item {n}")
    price = Decimal("121.00")
    vat_rate = Decimal("21.00")
    origin = WorkItem.Origin.PLANNED


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    dealership = factory.SubFactory(DealershipFactory)
    name = factory.Sequence(lambda n: f"Offer {n}")
    description = "Something nice for your car."
    price = Decimal("19.95")


class RemarkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckInItem

    checkin = factory.LazyFunction(lambda: AppointmentFactory().checkin)
    kind = CheckInItem.Kind.REMARK
    state = CheckInItem.State.OPEN
    subject = "Squeaky brakes"
    description = "A squeak when braking."
    submitted_at = factory.LazyFunction(timezone.now)
