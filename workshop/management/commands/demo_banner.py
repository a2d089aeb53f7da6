from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from workshop.demo import DEMO_PASSWORD, DEMO_USERS, lan_address, tour


class Command(BaseCommand):
    help = "Prints where the demo runs, how to log in and what to try (demo mode only)."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("Demo logins are only shown in demo mode (DEMO_MODE=true).")
        with translation.override("en"):
            self.stdout.write("\n".join(self.lines()))

    def lines(self) -> list[str]:
        base = settings.SITE_URL
        stops = tour()
        lines = [
            "",
            "Pitlane demo",
            f"  Staff:     {base}/staff/",
            f"  Outbox:    {base}/notifications/outbox/  (the SMS and e-mails customers got)",
            f"  Admin:     {base}/admin/  (log in as manager)",
            f"  Log-ins:   {', '.join(DEMO_USERS)} - password {DEMO_PASSWORD}",
            "  Dealerships (switch at the top right once logged in):",
            *(f"    {stop.dealership.name} ({stop.dealership.slug})" for stop in stops),
            "",
            "Customer links to open on a phone (a check-in in each state and language):",
        ]
        example = None
        for stop in stops:
            lines.append(f"  {stop.dealership.name}")
            for link in stop.links:
                lines.append(f"    {link.language}, {link.state}:")
                lines.append(f"      {link.url}")
                example = example or (stop.dealership.slug, link.appointment.external_ref)
        address = lan_address()
        port = settings.PORT
        if address and "127.0.0.1" in base:
            lines += [
                "",
                f"Another device on this network opens http://{address}:{port}/ - for customer",
                "links that open there too, start the demo with:",
                f"  SITE_URL=http://{address}:{port} PORT={port} make run",
            ]
        lines += ["", "  This list again:         make banner"]
        if example:
            lines.append(
                f"  An appointment's link:   make link DEALERSHIP={example[0]} REF={example[1]}"
            )
        lines += [
            "  Ctrl-C stops the web app, the workers and beat.",
            "",
        ]
        return lines
