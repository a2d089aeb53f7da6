from django.core.management.base import BaseCommand, CommandError, CommandParser

from workshop.models import OnlineCheckIn


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
            self.stderr.write(
                "Note: this appointment has started or ended; the link shows 'closed'."
            )
        self.stdout.write(checkin.link)
