from django.core.management.base import BaseCommand
from django.utils import timezone

from notifications.invitations import dispatch_due_invitations


class Command(BaseCommand):
    help = "Queues the invitations that are due now (what beat does), and prints them."

    def handle(self, *args: object, **options: object) -> None:
        messages = dispatch_due_invitations()
        for message in messages:
            appointment = message.appointment
            assert appointment is not None
            start = timezone.localtime(appointment.starts_at, appointment.dealership.tz)
            self.stdout.write(
                f"{appointment.dealership.slug} {appointment.external_ref} "
                f"{start:%Y-%m-%d %H:%M} {message.channel} {message.language} "
                f"-> {message.recipient}"
            )
        self.stdout.write(f"Queued {len(messages)} invitation(s).")
