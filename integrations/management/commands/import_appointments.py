"""`manage.py import_appointments <dealership-slug> <file.csv>`: the DMS's CSV, all or nothing."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from integrations.csvfile import CsvReader
from integrations.imports import Outcome, import_appointments
from workshop.models import Dealership


class Command(BaseCommand):
    help = (
        "Imports appointments from the DMS's CSV file (see README); nothing if any line is wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dealership", help="The dealership's short name (slug).")
        parser.add_argument("file", help="The CSV file.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would change; change nothing."
        )
        parser.add_argument(
            "--language", help="The language of the messages; the dealership's by default."
        )

    def handle(self, *args: object, **options: object) -> None:
        dealership = Dealership.objects.filter(slug=options["dealership"]).first()
        if dealership is None:
            raise CommandError(f"No dealership with the short name {options['dealership']!r}.")
        with translation.override(str(options["language"] or dealership.language)):
            try:
                with open(str(options["file"]), "rb") as stream:
                    outcome = Outcome()
                    outcome = import_appointments(
                        dealership,
                        CsvReader(stream, outcome),
                        dry_run=bool(options["dry_run"]),
                        outcome=outcome,
                    )
            except OSError as error:
                raise CommandError(str(error)) from error
            self.report(outcome)

    def report(self, outcome: Outcome) -> None:
        for problem in outcome.problems:
            self.stderr.write(str(problem))
        summary = (
            translation.gettext(
                "%(new)s new, %(changed)s changed, %(cancelled)s cancelled, %(unchanged)s unchanged."
            )
            % outcome.counts
        )
        if outcome.problems:
            if outcome.more_problems:
                self.stderr.write(translation.gettext("More problems were not listed."))
            raise CommandError(
                translation.gettext("Nothing was imported: correct the lines above and try again.")
            )
        if not outcome.applied:
            self.stdout.write(
                translation.gettext("Dry run, nothing changed: %(summary)s") % {"summary": summary}
            )
        else:
            self.stdout.write(translation.gettext("Imported: %(summary)s") % {"summary": summary})
