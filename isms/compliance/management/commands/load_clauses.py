"""`isms load-clauses`: bring the policy clauses in the database in line with the catalogue."""

import os

from django.core.management.base import BaseCommand, CommandError

from isms.compliance import clauses


class Command(BaseCommand):
    help = (
        "Load the policy's clause catalogue: create missing clauses and update titles, modules "
        "and forms. A school's revised clause texts are kept unless --update-text is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--update-text",
            action="store_true",
            help="replace every clause text with the catalogue's (undoes a school's revisions)",
        )

    def handle(self, *args, **options):
        # The trail names the catalogue and, when run from the console, who ran it.
        operator = os.environ.get("ISMS_ACTOR_LABEL", "")
        label = f"{clauses.ACTOR_LABEL} ({operator})" if operator else clauses.ACTOR_LABEL
        try:
            counts = clauses.load_catalogue(update_text=options["update_text"], label=label)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Policy clauses: {clauses.format_counts(counts)}")
