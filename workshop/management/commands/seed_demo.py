from django.core.management.base import BaseCommand

from workshop.demo import Seeder
from workshop.models import Appointment, Dealership


class Command(BaseCommand):
    help = "Creates the demo dealerships, users and appointments; safe to run again."

    def handle(self, *args: object, **options: object) -> None:
        before = Appointment.objects.count()
        Seeder().run()
        added = Appointment.objects.count() - before
        self.stdout.write(
            f"Demo data: {Dealership.objects.count()} dealerships, "
            f"{Appointment.objects.count()} appointments"
            + (f" ({added} added now)." if added else " (nothing to add).")
        )
