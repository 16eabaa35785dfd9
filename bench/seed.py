"""A large deterministic data set for the bench (same seed, same data, every run)."""

import datetime as dt
import random

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高"
GIVEN = (
    "怡君志明雅婷家豪淑芬建華美玲俊傑宗翰佩珊明哲雅雯志偉靜怡國豪惠君俊宏怡萱信宏淑惠建志美華承恩"
)
TITLES = ["教師", "導師", "組長", "主任", "幹事", "約聘人員", "技佐", "護理師"]
ACTIONS = ["create", "update", "update", "update", "login", "logout", "export", "void"]


def ensure(*, people: int, audit: int):
    from isms.audit.models import AuditEntry
    from isms.core.models import Person

    call_command("migrate", verbosity=0, interactive=False)
    if Person.objects.count() >= people and AuditEntry.objects.count() >= audit:
        return
    print(f"seeding {people} people and {audit} audit entries (once) ...", flush=True)
    seed_people(people)
    seed_audit(audit)


@transaction.atomic
def seed_people(count):
    from isms.core import services
    from isms.core.models import Person, Unit, User

    rng = random.Random(20261129)
    units = [
        Unit.objects.get_or_create(code=f"unit-{i:02d}", defaults={"name": f"處室{i:02d}"})[0]
        for i in range(30)
    ]
    existing = Person.objects.count()
    batch = []
    for i in range(existing, count):
        name = rng.choice(SURNAMES) + GIVEN[rng.randrange(0, len(GIVEN) - 1, 2)][:2]
        batch.append(
            Person(
                name=f"{name}{i:04d}",
                unit=rng.choice(units),
                title=rng.choice(TITLES),
                email=f"p{i:04d}@school.example",
                extension=str(100 + i % 900),
                status=rng.choice(["active"] * 9 + ["left"]),
                onboard_date=dt.date(2000, 8, 1) + dt.timedelta(days=rng.randrange(9000)),
            )
        )
    Person.objects.bulk_create(batch, batch_size=1000)
    if not User.objects.filter(username="bench-officer").exists():
        person = Person.objects.order_by("id").first()
        officer, _pw = services.user_create(
            actor=None, username="bench-officer", person=person, roles=["security_officer"]
        )
        officer.must_change_password = False
        officer.password_changed_at = timezone.now()
        officer.save()
    for i in range(User.objects.count(), 300):
        services.user_create(actor=None, username=f"user{i:03d}", roles=["staff"])


@transaction.atomic
def seed_audit(count):
    from isms.audit.models import AuditEntry, ChainHead
    from isms.audit.trail import entry_hash

    rng = random.Random(42)
    head = ChainHead.objects.select_for_update().get(pk=1)
    next_id, prev = head.last_id + 1, head.last_hash
    start = timezone.now() - dt.timedelta(days=730)
    batch = []
    target = count - AuditEntry.objects.count()
    for n in range(max(target, 0)):
        action = ACTIONS[n % len(ACTIONS)]
        pk = rng.randrange(1, 3000)
        fields = {
            "id": next_id,
            "timestamp": start + dt.timedelta(seconds=300 * n),
            "actor_id": None,
            "actor_label": f"user{rng.randrange(300):03d}",
            "action": action,
            "model_label": "core.person",
            "object_id": str(pk),
            "object_repr": f"人員{pk:04d}",
            "changes": {"title": ["教師", "導師"]} if action == "update" else {},
            "message": "",
            "ip": f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "request_id": f"{rng.getrandbits(128):032x}",
            "prev_hash": prev,
        }
        fields["hash"] = prev = entry_hash(**fields)
        batch.append(AuditEntry(**fields))
        next_id += 1
        if len(batch) == 5000:
            AuditEntry.objects.bulk_create(batch)
            batch = []
    if batch:
        AuditEntry.objects.bulk_create(batch)
    ChainHead.objects.filter(pk=1).update(last_id=next_id - 1, last_hash=prev)
