"""Reads one raw e-mail from standard input and stores it, for an MTA's pipe:

    # Postfix master.cf, for reply+*@checkin.example.com
    pitlane unix - n n - - pipe flags=Rq user=pitlane argv=/srv/pitlane/.venv/bin/python
      /srv/pitlane/manage.py receive_email --recipient ${original_recipient}

Exits 0 when the mail is stored (also when it was stored before: an MTA may pipe the same
mail twice), 75 (EX_TEMPFAIL: the MTA keeps it and tries again) when the database or the
file store cannot take it now.
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from notifications.email_in import store_inbound_email

EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Stores one raw e-mail (MIME) read from standard input as an inbound message."

    def add_arguments(self, parser):
        parser.add_argument(
            "--recipient",
            action="append",
            default=[],
            help="The envelope recipient the MTA delivered it to (may be given more than once).",
        )

    def handle(self, *args, recipient: list[str], **options) -> None:
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            raise CommandError("No e-mail on standard input.")
        try:
            message = store_inbound_email(raw, envelope_recipients=recipient)
        except (DatabaseError, OSError) as error:
            self.stderr.write(f"Not stored now, try again later: {error}")
            sys.exit(EX_TEMPFAIL)
        self.stdout.write(f"Stored as message {message.pk}.")
