"""The awareness bench (issue 9): 1,500 training sessions over five years with 60,000
attendances, 400 legal-awareness talks over ten years, and 3,000 office self-checks (the
30 bench units over their last 100 semesters, four answers each); the list pages of
sessions, talks and self-checks, the year's hours report and the sessions' API list,
each beside its floor; and the pages' query counts with a few rows and with many.

The hours report counts the active staff with a login: the bench's 299 ``user…`` logins
are linked to bench people (ids not ending in 3, 5 or 7, which ``bench.vendors`` makes
vendor and contract staff), so the report has about 300 people; each unit's self-check is
filled by one of them (its office head).

Seeded with bulk_create in one transaction (the services' rules are tested elsewhere; here
only the reading paths are timed), deterministic, once. Run alone:
``python -m bench --only awareness``.
"""

import datetime as dt
import json
import random
from decimal import Decimal
from urllib.parse import quote

SESSIONS = 1500
TALKS = 400
TERMS = 100  # semesters of self-checks per unit (30 units: 3,000 checks)
YEARS = 5
MARK = "bench"
TITLES = ["社交工程演練說明", "密碼安全與帳號管理", "個人資料保護實務", "資安事件通報演練"]
OCCASIONS = ["週一朝會", "教職員晨會", "校務會議", "班會"]

SESSION_LOOP = (
    '<table>{% for s in rows %}<tr><td><a href="/awareness/trainings/{{ s.pk }}/">'
    "{{ s.held_on }}</a></td><td>{{ s.title }}</td><td>{{ s.get_kind_display }}</td>"
    "<td>{{ s.hours }}</td><td>{{ s.organizer }}</td><td>{{ s.external }}</td></tr>"
    "{% endfor %}</table>"
)
HOURS_LOOP = (
    "<table>{% for u in report.units %}<tr><td>{{ u.unit.name }}</td><td>{{ u.people }}</td>"
    "<td>{{ u.short }}</td><td>{{ u.hours }}</td></tr>{% endfor %}</table>"
    "<table>{% for r in report.rows %}<tr><td>{{ r.person.name }}</td>"
    "<td>{{ r.person.unit.name }}</td>{% for h in r.by_kind %}<td>{{ h }}</td>{% endfor %}"
    "<td>{{ r.total }}</td><td>{% for s in r.standing %}{{ s.requirement.role }} "
    "{{ s.counted }}/{{ s.requirement.hours }} {{ s.met }}{% endfor %}</td></tr>"
    "{% endfor %}</table>"
)
TALK_LOOP = (
    '<table>{% for t in rows %}<tr><td><a href="/awareness/legal-talks/{{ t.pk }}/">'
    "{{ t.held_on }}</a></td><td>{{ t.occasion }}</td><td>{{ t.audience }}</td>"
    "<td>{{ t.audience_count }}</td><td>{{ t.presenter }}</td><td>{{ t.covers_ip }}"
    "{{ t.covers_privacy }}{{ t.covers_computer_crime }}</td></tr>{% endfor %}</table>"
)
CHECK_LOOP = (
    "<table>{% for c in rows %}<tr><td>{{ c.unit.name }}</td><td>{{ c.school_year }}學年度第"
    '{{ c.term }}學期</td><td><a href="/awareness/self-checks/{{ c.pk }}/">{{ c.checked_on }}'
    "</a></td><td>{{ c.filled_by.person.name }}</td><td>{{ c.fail_count }}</td>"
    "<td>{{ c.pending_count }}</td></tr>{% endfor %}</table>"
)


def seed():
    """The logins' people, sessions with attendance, talks and self-checks (once)."""
    from django.db import transaction

    from isms.awareness.models import LegalTalk, SelfCheck, TrainingSession

    link_logins()
    done = (
        TrainingSession.objects.filter(notes=MARK).count() >= SESSIONS
        and LegalTalk.objects.filter(summary=MARK).count() >= TALKS
        and SelfCheck.objects.filter(note=MARK).count() >= TERMS * _units().count()
    )
    if done:
        return
    with transaction.atomic():
        _clear()
        _seed()


def _units():
    from isms.core.models import Unit

    return Unit.objects.filter(code__startswith="unit-").order_by("code")


def _clear():
    from isms.awareness.models import LegalTalk, SelfCheck, TrainingSession

    TrainingSession.objects.filter(notes=MARK).delete()  # attendance cascades
    LegalTalk.objects.filter(summary=MARK).delete()
    SelfCheck.objects.filter(note=MARK).delete()  # results cascade


def link_logins():
    """Link the bench's ``user…`` logins that have no person to active staff members (as a
    school's logins are); ``bench.vendors`` calls it too, so that every page is timed over the
    same logins whichever module is seeded first."""
    from isms.core.models import Person, User

    logins = list(
        User.objects.filter(username__startswith="user", person__isnull=True).order_by("username")
    )
    if not logins:
        return
    people = [
        p
        for p in Person.objects.filter(kind="staff", status="active", user__isnull=True)
        .order_by("id")
        .only("id")
        if p.pk % 10 not in (3, 5, 7)
    ]
    step = max(len(people) // max(len(logins), 1), 1)
    for login, person in zip(logins, people[::step], strict=False):
        login.person_id = person.pk
    User.objects.bulk_update([u for u in logins if u.person_id], ["person"], batch_size=500)


def _terms(today, count):
    """The last ``count`` semesters up to today's, newest first."""
    from isms.core import roc

    out, day = [], today
    for _ in range(count):
        term = roc.term_for_school(day)
        out.append(term)
        day = term.start - dt.timedelta(days=1)
    return out


def _seed():
    from django.utils import timezone

    from isms.awareness.models import (
        Attendance,
        LegalTalk,
        OfficeHead,
        SelfCheck,
        SelfCheckItem,
        SelfCheckResult,
        TrainingSession,
    )
    from isms.core.models import Person, User

    rng = random.Random(10)
    today = timezone.localdate()
    now = timezone.now()
    officer = User.objects.get(username="bench-officer")

    first = today - dt.timedelta(days=365 * YEARS)
    sessions = TrainingSession.objects.bulk_create(
        [
            TrainingSession(
                title=f"{rng.choice(TITLES)}（第 {n + 1} 場）",
                held_on=first + dt.timedelta(days=rng.randrange((today - first).days + 1)),
                hours=rng.choice([Decimal("1"), Decimal("1.5"), Decimal("2"), Decimal("3")]),
                kind=rng.choice(["awareness"] * 6 + ["management", "professional"]),
                organizer=rng.choice(["圖書館資訊組", "教育部", "縣市教育網路中心"]),
                location="視聽教室",
                external=n % 5 == 0,
                notes=MARK,
            )
            for n in range(SESSIONS)
        ],
        batch_size=1000,
    )
    people = list(
        Person.objects.filter(status="active").order_by("id").values_list("id", flat=True)
    )
    rows = []
    for n, session in enumerate(sessions):
        for person in rng.sample(people, 20 + n % 41):
            early = rng.random() < 0.05
            rows.append(
                Attendance(
                    session=session,
                    person_id=person,
                    hours=session.hours / 2 if early else session.hours,
                    recorded_by=officer,
                )
            )
        if len(rows) >= 20_000:
            Attendance.objects.bulk_create(rows, batch_size=5000)
            rows = []
    Attendance.objects.bulk_create(rows, batch_size=5000)

    LegalTalk.objects.bulk_create(
        [
            LegalTalk(
                held_on=today - dt.timedelta(days=rng.randrange(3650)),
                occasion=rng.choice(OCCASIONS),
                audience="全校師生",
                audience_count=rng.randrange(50, 1500),
                presenter=f"宣導人{n % 20:02d}",
                covers_ip=True,
                covers_privacy=True,
                covers_computer_crime=n % 25 != 0,
                summary=MARK,
                recorded_by=officer,
            )
            for n in range(TALKS)
        ],
        batch_size=1000,
    )

    units = list(_units())
    logins = list(
        User.objects.filter(username__startswith="user", person__isnull=False).order_by("username")
    ) or [officer]
    heads = {}
    for i, unit in enumerate(units):
        head = OfficeHead.objects.filter(unit=unit).first()
        if head is None:
            head = OfficeHead.objects.create(unit=unit, user=logins[i % len(logins)])
        heads[unit.pk] = head.user
    items = list(SelfCheckItem.objects.filter(active=True).order_by("order", "id"))
    checks = []
    for term in _terms(today, TERMS):
        for unit in units:
            day = min(term.start + dt.timedelta(days=rng.randrange(30, 120)), today)
            checks.append(
                SelfCheck(
                    unit=unit,
                    school_year=term.school_year,
                    term=term.semester,
                    checked_on=day,
                    filled_by=heads[unit.pk],
                    note=MARK,
                )
            )
    checks = SelfCheck.objects.bulk_create(checks, batch_size=1000)
    results = []
    for check in checks:
        for item in items:
            ok = rng.random() > 0.05
            resolved = not ok and check.checked_on < today - dt.timedelta(days=30)
            results.append(
                SelfCheckResult(
                    check_record=check,
                    item=item,
                    text=item.text,
                    ok=ok,
                    note="" if ok else "桌上留有含個資文件",
                    resolution="已改善" if resolved else "",
                    resolved_at=now - dt.timedelta(days=1) if resolved else None,
                    resolved_by=heads[check.unit_id] if resolved else None,
                )
            )
    SelfCheckResult.objects.bulk_create(results, batch_size=5000)


# Floors ------------------------------------------------------------------------------------------
def session_floor(engine):
    from isms.awareness.models import TrainingSession

    template = engine.from_string(SESSION_LOOP)

    def floor():
        qs = TrainingSession.objects.filter(voided_at__isnull=True).order_by("-held_on", "-id")
        return template.render({"rows": list(qs[:50])})

    return floor


def hours_floor(engine, year):
    """The report's own aggregate (``training.hours_report``) through a bare loop."""
    from isms.awareness import training

    template = engine.from_string(HOURS_LOOP)

    def floor():
        return template.render({"report": training.hours_report(year)})

    return floor


def talk_floor(engine):
    from isms.awareness.models import LegalTalk

    template = engine.from_string(TALK_LOOP)

    def floor():
        qs = LegalTalk.objects.filter(voided_at__isnull=True).select_related("recorded_by__person")
        return template.render({"rows": list(qs.order_by("-held_on", "-id")[:50])})

    return floor


def check_floor(engine):
    """The page's query (each check's answer counts as subqueries) through a bare loop."""
    from isms.awareness.models import SelfCheck
    from isms.awareness.views_selfchecks import with_answer_counts

    template = engine.from_string(CHECK_LOOP)

    def floor():
        qs = with_answer_counts(
            SelfCheck.objects.filter(voided_at__isnull=True).select_related(
                "unit", "filled_by__person"
            )
        ).order_by("-school_year", "-term", "unit__name", "id")
        return template.render({"rows": list(qs[:50])})

    return floor


def session_json_floor():
    from isms.awareness.models import TrainingSession
    from isms.awareness.views_training import SessionSerializer

    fields = SessionSerializer.Meta.fields

    def floor():
        qs = TrainingSession.objects.filter(voided_at__isnull=True).order_by("-held_on", "-id")
        return json.dumps(list(qs.values(*fields)[:50]), default=str, ensure_ascii=False)

    return floor


# Query counts ------------------------------------------------------------------------------------
def query_counts(client, roc_year) -> dict:
    """Each page's queries with a few rows and with many (must be equal)."""
    from django.db import transaction

    from bench.__main__ import count_queries
    from isms.awareness.models import LegalTalk, SelfCheck, TrainingSession
    from isms.core.models import User

    session = TrainingSession.objects.filter(notes=MARK).order_by("id").first()
    talk = LegalTalk.objects.filter(summary=MARK).order_by("id").first()
    check = SelfCheck.objects.filter(note=MARK).order_by("id").first()

    def queries(url):
        def hit():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return count_queries(hit)

    one_term = (
        f"/awareness/self-checks/?q={quote(check.unit.name)}&school_year={check.school_year}"
        f"&term={check.term}"
    )
    counts = {
        "training sessions list page": [
            queries(f"/awareness/trainings/?q={quote(session.title)}"),
            queries("/awareness/trainings/"),
        ],
        "legal talks list page": [
            queries(f"/awareness/legal-talks/?presenter={quote(talk.presenter)}"),
            queries("/awareness/legal-talks/"),
        ],
        "self-checks list page": [queries(one_term), queries("/awareness/self-checks/")],
    }
    # The hours report is not paged: a row per staff member with a login. A few rows: the
    # same report with all but three logins unlinked from their people (rolled back).
    hours = f"/awareness/trainings/hours/?year={roc_year}"
    many = queries(hours)
    with transaction.atomic():
        keep = (
            User.objects.filter(person__isnull=False)
            .order_by("id")
            .values_list("id", flat=True)[:3]
        )
        User.objects.exclude(pk__in=list(keep)).update(person=None)
        few = queries(hours)
        transaction.set_rollback(True)
    counts["training hours report"] = [few, many]
    return counts


def bench(page, api, engine) -> dict:
    """Seed, then time each reading path with the caller's ``page`` and ``api``."""
    from django.test import Client
    from django.utils import timezone

    from isms.awareness import training
    from isms.awareness.models import Attendance, LegalTalk, SelfCheck, TrainingSession
    from isms.core import roc
    from isms.core.models import User

    seed()
    year = timezone.localdate().year
    roc_year = year - roc.ROC_OFFSET
    page("training sessions list page", "/awareness/trainings/", session_floor(engine))
    page(
        f"training hours report ({roc_year})",
        f"/awareness/trainings/hours/?year={roc_year}",
        hours_floor(engine, year),
    )
    page("legal talks list page", "/awareness/legal-talks/", talk_floor(engine))
    page("self-checks list page", "/awareness/self-checks/", check_floor(engine))
    api("training sessions API list", "/api/trainings/", session_json_floor())
    client = Client()
    client.force_login(User.objects.get(username="bench-officer"))
    counts = query_counts(client, roc_year)
    report = training.hours_report(year)
    return {
        "sessions": TrainingSession.objects.count(),
        "attendances": Attendance.objects.count(),
        "legal_talks": LegalTalk.objects.count(),
        "self_checks": SelfCheck.objects.count(),
        "hours_report_people": report["people_count"],
        "hours_report_short": report["short_count"],
        "query_counts_few_vs_many": counts,
        "query_counts_constant": all(few == many for few, many in counts.values()),
    }
