from django.core.management.base import BaseCommand

from workshop.demo import Seeder


class Command(BaseCommand):
    help = "Creates the demo dealerships, users and appointments; safe to run again."

    def handle(self, *args: object, **options: object) -> None:
        created = Seeder().run()
        if created:
            self.stdout.write(
                f"Demo data: created {len(created)} records ({', '.join(created[:6])}…)."
            )
        else:
            self.stdout.write("Demo data already in place.")
