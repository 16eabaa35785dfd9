"""The accounts bench: 30 systems, 10,000 accounts of the 3,000 bench people."""

import json
import random

from isms.core.models import Person
from isms.identity.models import Account, InformationSystem

SYSTEMS = 30
ACCOUNTS = 10_000
LOOP = (
    '<table>{% for a in rows %}<tr><td>{{ a.system.name }}</td><td><a href="/identity/accounts/'
    '{{ a.pk }}/">{{ a.username }}</a></td><td>{{ a.person.name }}</td><td>'
    "{{ a.get_kind_display }}</td><td>{{ a.get_status_display }}</td><td>{{ a.last_sign_in }}"
    "</td><td>{{ a.shared_justification }}</td></tr>{% endfor %}</table>"
)


def seed():
    # A school justifies its shared accounts (2.9.2); the bench's are, as in a kept register.
    Account.objects.filter(kind="shared", shared_justification="").update(
        shared_justification="bench: shared by a computer room"
    )
    if Account.objects.count() >= ACCOUNTS:
        return
    Account.objects.all().delete()
    InformationSystem.objects.all().delete()
    systems = InformationSystem.objects.bulk_create(
        InformationSystem(name=f"bench system {n:02d}", core_business=n % 3 == 0)
        for n in range(SYSTEMS)
    )
    people = list(Person.objects.order_by("id").values_list("id", flat=True))
    rng = random.Random(5)
    rows = []
    per_system = ACCOUNTS // SYSTEMS + 1
    for s in systems:
        for n in range(per_system):
            if len(rows) == ACCOUNTS:
                break
            kind = rng.choice(["personal"] * 8 + ["shared", "privileged"])
            name = f"u{n:04d}"
            rows.append(
                Account(
                    system=s,
                    username=name,
                    username_key=name,
                    person_id=rng.choice(people) if kind != "shared" else None,
                    kind=kind,
                    rights="admin" if kind == "privileged" else "",
                    shared_justification="bench: shared by a computer room"
                    if kind == "shared"
                    else "",
                    status=rng.choice(["active"] * 9 + ["disabled"]),
                )
            )
    Account.objects.bulk_create(rows, batch_size=2000)


def page_floor(engine, system_id=None):
    template = engine.from_string(LOOP)

    def floor():
        qs = Account.objects.filter(voided_at__isnull=True).select_related("system", "person")
        if system_id:
            qs = qs.filter(system_id=system_id)
        return template.render({"rows": list(qs.order_by("system__name", "username_key")[:50])})

    return floor


def json_floor():
    from isms.identity.api import AccountSerializer

    fields = [
        f"{f}_id" if f in {"system", "person", "request_line"} else f
        for f in AccountSerializer.Meta.fields
    ]

    def floor():
        qs = Account.objects.filter(voided_at__isnull=True).order_by("system__name", "username_key")
        return json.dumps(list(qs.values(*fields)[:50]), default=str)

    return floor


def first_system_id() -> int:
    return InformationSystem.objects.order_by("name").values_list("id", flat=True).first()
