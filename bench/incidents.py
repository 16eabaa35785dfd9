"""The incident bench: 5,000 incidents over five years, their list page, API and statistics.

Seeded with bulk_create (the services' rules are tested elsewhere; here only the reading
paths are timed), deterministic, once.
"""

import datetime as dt
import json
import random

from django.utils import timezone

from isms.incidents.models import Incident

COUNT = 5000
LOOP = (
    '<table>{% for i in rows %}<tr><td><a href="/incidents/incidents/{{ i.pk }}/">'
    "{{ i.number }}</a></td><td>{{ i.title }}</td><td>{{ i.get_status_display }}</td>"
    "<td>{{ i.level }}</td><td>{{ i.get_category_display }}</td><td>{{ i.get_source_display }}"
    "</td><td>{{ i.discovered_at }}</td><td>{{ i.report_due_at }}</td><td>{{ i.reported_at }}"
    "</td><td>{{ i.close_due_at }}</td><td>{{ i.closed_at }}</td></tr>{% endfor %}</table>"
)


def seed():
    if Incident.objects.count() >= COUNT:
        return
    Incident.objects.all().delete()
    rng = random.Random(11)
    now = timezone.now()
    categories = [c for c in Incident.Category.values if c != "other"]
    rows = []
    for n in range(COUNT):
        found = now - dt.timedelta(minutes=rng.randrange(1, 5 * 365 * 24 * 60))
        level = rng.choice([0, 1, 1, 1, 2, 2, 3, 4])
        reported = found + dt.timedelta(minutes=rng.randrange(5, 120))
        close_hours = 36 if level >= 3 else 72
        rows.append(
            Incident(
                number=f"B-{n:05d}",
                status="closed",
                title=f"bench incident {n}",
                description="bench",
                category=rng.choice(categories),
                source=rng.choice(["self", "self", "notified", "warning"]),
                discovered_at=found,
                occurred_at=found - dt.timedelta(minutes=rng.randrange(0, 600)),
                confidentiality_impact=level,
                level_computed=level,
                level=level,
                report_due_at=found + dt.timedelta(hours=1),
                close_due_at=found + dt.timedelta(hours=close_hours),
                reported_at=reported,
                platform_ticket=f"T-{n}",
                closed_at=found + dt.timedelta(hours=rng.randrange(2, 96)),
                containment="x",
                recovery="x",
                root_cause="x",
                prevention="x",
            )
        )
    Incident.objects.bulk_create(rows, batch_size=1000)


def page_floor(engine):
    template = engine.from_string(LOOP)

    def floor():
        qs = Incident.objects.filter(voided_at__isnull=True).order_by("-discovered_at", "-id")
        return template.render({"rows": list(qs[:50])})

    return floor


def json_floor():
    """The API's own fields, straight from .values() (the reporter as its id)."""
    from isms.incidents.api import IncidentSerializer

    fields = ["reporter_id" if f == "reporter" else f for f in IncidentSerializer.Meta.fields]

    def floor():
        qs = Incident.objects.filter(voided_at__isnull=True).order_by("-discovered_at", "-id")
        return json.dumps(list(qs.values(*fields)[:50]), default=str)

    return floor


def statistics_floor():
    """The statistics page's own aggregate: incidents per month and level, nothing around."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    def floor():
        return list(
            Incident.objects.filter(voided_at__isnull=True)
            .annotate(month=TruncMonth("discovered_at"))
            .values("month", "level")
            .annotate(n=Count("id"))
        )

    return floor
