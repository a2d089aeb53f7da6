from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.visit_pages import link_has_expired
from workshop.models import Appointment, OnlineCheckIn


class Command(BaseCommand):
    help = "Prints the current check-in link of an appointment, for support staff and scripts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dealership", help="the dealership's short name (slug)")
        parser.add_argument("reference", help="the appointment's DMS reference")

    def handle(self, *args: object, **options: str) -> None:
        checkin = (
            OnlineCheckIn.objects.select_related("appointment")
            .filter(
                appointment__dealership__slug=options["dealership"],
                appointment__external_ref=options["reference"],
            )
            .first()
        )
        if checkin is None:
            raise CommandError(
                f"No appointment {options['reference']!r} at dealership {options['dealership']!r}."
            )
        if checkin.is_closed:
            appointment = checkin.appointment
            shows = (
                "'closed'"
                if appointment.status == Appointment.Status.SCHEDULED
                or link_has_expired(appointment)
                else f"where the visit is ({appointment.get_status_display()})"
            )
            self.stderr.write(
                f"Note: the check-in has closed (the appointment started or ended); "
                f"the link shows {shows}."
            )
        self.stdout.write(checkin.link)
