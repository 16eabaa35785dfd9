"""`isms audit-verify`: check that no audit entry was altered or removed."""

import time

from django.core.management.base import BaseCommand, CommandError

from isms.audit import trail

REASONS = {
    "missing": "entry is missing (removed)",
    "chain": "entry does not link to the one before it",
    "altered": "entry content was altered",
    "truncated": "entries were removed from the end of the trail",
}


class Command(BaseCommand):
    help = "Verify the hash chain of the audit trail; exit status 1 names the first broken entry."

    def handle(self, *args, **options):
        started = time.perf_counter()
        result = trail.verify()
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise CommandError(
                f"audit trail broken at entry #{result.broken_id}: {REASONS[result.reason]} "
                f"({result.checked} entries verified before it)"
            )
        self.stdout.write(
            f"audit trail intact: {result.checked} entries verified in {elapsed:.2f} s"
        )
