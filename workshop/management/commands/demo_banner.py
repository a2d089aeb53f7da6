import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workshop.demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Prints where the demo runs and how to log in (demo mode only)."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("Demo logins are only shown in demo mode (DEMO_MODE=true).")
        base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        users = ", ".join(DEMO_USERS)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Pitlane demo",
                    f"  Staff:    {base}/staff/",
                    f"  Outbox:   {base}/notifications/outbox/  (the SMS and e-mails customers got)",
                    f"  Admin:    {base}/admin/  (log in as manager)",
                    f"  Logins:   {users} - password {DEMO_PASSWORD}",
                    "  A customer's link: uv run python manage.py checkin_link <dealership> <reference>",
                    "  Ctrl-C stops the web app, the worker and beat.",
                    "",
                ]
            )
        )
