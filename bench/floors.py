"""The floors: the same query and page size, with nothing of the product around it."""

import json

from django.db.models import Q

from isms.audit.models import AuditEntry
from isms.audit.views import AuditEntrySerializer
from isms.core.api import PersonSerializer
from isms.core.views import PersonRegister

PEOPLE_LOOP = (
    '<table>{% for p in rows %}<tr><td><a href="/core/person/{{ p.pk }}/">{{ p.name }}</a></td>'
    "<td>{{ p.unit.name }}</td><td>{{ p.title }}</td><td>{{ p.get_kind_display }}</td>"
    "<td>{{ p.extension }}</td><td>{{ p.email }}</td><td>{{ p.get_status_display }}</td>"
    "<td>{{ p.onboard_date }}</td></tr>{% endfor %}</table>"
)
AUDIT_LOOP = (
    '<table>{% for e in rows %}<tr><td><a href="/audit/entries/{{ e.pk }}/">{{ e.id }}</a></td>'
    "<td>{{ e.timestamp }}</td><td>{{ e.actor_label }}</td><td>{{ e.get_action_display }}</td>"
    "<td>{{ e.model_label }} #{{ e.object_id }} {{ e.object_repr }}</td><td>{{ e.ip }}</td></tr>"
    "{% endfor %}</table>"
)
# The API's own fields, read the cheapest way (the unit's name through a join).
PEOPLE_FIELDS = ["unit__name" if f == "unit_name" else f for f in PersonSerializer.Meta.fields]
AUDIT_FIELDS = AuditEntrySerializer.Meta.fields


def people_qs():
    return PersonRegister.base_queryset().filter(voided_at__isnull=True)


def people_page(engine, offset=0, status=None, q=None):
    template = engine.from_string(PEOPLE_LOOP)

    def floor():
        qs = people_qs()
        if status:
            qs = qs.filter(status=status)
        if q:
            qs = qs.filter(
                Q(name__icontains=q)
                | Q(english_name__icontains=q)
                | Q(email__icontains=q)
                | Q(title__icontains=q)
                | Q(extension__icontains=q)
            )
        return template.render({"rows": list(qs[offset : offset + 50])})

    return floor


def audit_page(engine, offset=0, action=None):
    template = engine.from_string(AUDIT_LOOP)

    def floor():
        qs = AuditEntry.objects.order_by("-id")
        if action:
            qs = qs.filter(action=action)
        return template.render({"rows": list(qs[offset : offset + 50])})

    return floor


def people_json():
    def floor():
        return json.dumps(list(people_qs().values(*PEOPLE_FIELDS)[:50]), default=str)

    return floor


def audit_json():
    def floor():
        rows = AuditEntry.objects.order_by("-id").values(*AUDIT_FIELDS)[:50]
        return json.dumps(list(rows), default=str, ensure_ascii=False)

    return floor


OBLIGATION_LOOP = (
    '<table>{% for s in rows %}<tr><td><a href="/compliance/obligations/{{ s.pk }}/">'
    "{{ s.key }}</a></td><td>{{ s.clause }}</td><td>{{ s.subject_label }}</td>"
    "<td>{{ s.get_status_display }}</td><td>{{ s.last_done_at }}</td><td>{{ s.next_due_at }}</td>"
    "<td>{{ s.responsible_role }}</td></tr>{% endfor %}</table>"
)
OBLIGATION_FIELDS = [
    "id",
    "key",
    "clause",
    "subject_label",
    "subject_type",
    "subject_id",
    "status",
    "last_done_at",
    "next_due_at",
    "responsible_role",
]


def obligations_page(engine):
    from isms.compliance.models import ObligationState

    template = engine.from_string(OBLIGATION_LOOP)

    def floor():
        rows = list(ObligationState.objects.order_by("next_due_at", "id")[:50])
        return template.render({"rows": rows})

    return floor


def obligations_json():
    from isms.compliance.models import ObligationState

    def floor():
        rows = ObligationState.objects.order_by("next_due_at", "id").values(*OBLIGATION_FIELDS)
        return json.dumps(list(rows[:50]), default=str)

    return floor


def dashboard_floor():
    """The dashboard's own aggregate: counts per clause and status (no page around it)."""
    from django.db.models import Count, Q

    from isms.compliance.models import ObligationState

    def floor():
        return list(
            ObligationState.objects.values("clause").annotate(
                ok=Count("id", filter=Q(status="ok")),
                due_soon=Count("id", filter=Q(status="due_soon")),
                overdue=Count("id", filter=Q(status__in=["overdue", "never_done"])),
            )
        )

    return floor
