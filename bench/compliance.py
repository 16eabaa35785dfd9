"""The compliance bench: 1,000 subjects × 20 duties over 500,000 evidence records.

The duties are registered in this process only. Their evidence lives in a bench table
(``bench_evidence``: duty, subject, done_at) read with one aggregate query per duty —
the shape every module's ``evidence()`` must have.
"""

import datetime as dt
import random

from django.db import connection
from django.utils import timezone

from isms.compliance.registry import Obligation, register
from isms.compliance.rhythms import Rhythm
from isms.core.models import Person
from isms.core.roles import SECURITY_OFFICER, SYSADMIN

DUTIES = 20
SUBJECTS = 1000
EVIDENCE = 500_000
CLAUSES = ["2.2.3", "2.4.1", "2.4.2", "2.5.1", "2.5.2", "2.7", "2.8", "3.2", "5.2.2", "8"]
RHYTHMS = ["weekly", "monthly", "quarterly", "semester", "yearly"]


def seed_evidence():
    """Create and fill the evidence table once (deterministic)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_evidence "
            "(duty INTEGER NOT NULL, subject INTEGER NOT NULL, done_at TIMESTAMP NOT NULL)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS bench_evidence_duty ON bench_evidence "
            "(duty, subject, done_at)"
        )
        cursor.execute("SELECT COUNT(*) FROM bench_evidence")
        if cursor.fetchone()[0] >= EVIDENCE:
            return
        cursor.execute("DELETE FROM bench_evidence")
        subjects = list(Person.objects.order_by("id").values_list("id", flat=True)[:SUBJECTS])
        rng = random.Random(7)
        now = timezone.now()
        rows = []
        for _ in range(EVIDENCE):
            done = now - dt.timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
            rows.append((rng.randrange(DUTIES), rng.choice(subjects), done))
            if len(rows) == 20_000:
                cursor.executemany("INSERT INTO bench_evidence VALUES (%s, %s, %s)", rows)
                rows = []
        if rows:
            cursor.executemany("INSERT INTO bench_evidence VALUES (%s, %s, %s)", rows)


def _evidence(duty):
    def evidence(subjects):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT subject, MAX(done_at) FROM bench_evidence WHERE duty = %s GROUP BY subject",
                [duty],
            )
            rows = cursor.fetchall()
        out = {}
        for subject, done in rows:
            if isinstance(done, str):
                done = dt.datetime.fromisoformat(done)
            if timezone.is_naive(done):
                done = timezone.make_aware(done, dt.UTC)
            out[subject] = done
        return out

    return evidence


def _history(duty):
    def history(subjects, since, until):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT subject, done_at FROM bench_evidence "
                "WHERE duty = %s AND done_at >= %s AND done_at <= %s",
                [duty, since, until],
            )
            rows = cursor.fetchall()
        for subject, done in rows:
            if isinstance(done, str):
                done = dt.datetime.fromisoformat(done)
            if timezone.is_naive(done):
                done = timezone.make_aware(done, dt.UTC)
            yield subject, done

    return history


def keys() -> list[str]:
    return [f"bench.duty_{duty:02d}" for duty in range(DUTIES)]


def register_duties():
    """Register the 20 bench duties (idempotent)."""
    last_subject = Person.objects.order_by("id").values_list("id", flat=True)[SUBJECTS - 1]

    def subjects():
        return Person.objects.filter(id__lte=last_subject)  # str() reads the name only

    for duty in range(DUTIES):
        register(
            Obligation(
                key=f"bench.duty_{duty:02d}",
                clause=CLAUSES[duty % len(CLAUSES)],
                title=f"bench duty {duty}",
                subjects=subjects,
                evidence=_evidence(duty),
                history=_history(duty),
                rhythm=Rhythm(period=RHYTHMS[duty % len(RHYTHMS)]),
                responsible_role=SECURITY_OFFICER if duty % 2 else SYSADMIN,
                due_soon_days=3,
            )
        )
