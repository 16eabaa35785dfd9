"""Demo publishing approvals for `isms demo` (clause 7.4), through the service:

- 教務處's list of this semester's competition winners, asked by its head (the demo
  teacher, who heads 教務處 in the self-check demo) and so approved by the principal, online
  until next month;
- 資訊組's shortlist of the programming contest, asked by the system administrator and
  waiting for the section's head — the security officer, who is 資訊組長 (named head of
  資訊組 here when the section has none);
- 資訊組's list of last year's winners, approved by the officer, whose end passed five days
  ago and which is not taken down yet: 逾期未下架.

Requests made and decided in the past are filed with the service's ``today`` / ``now`` and
their request time set to the same day (demo data only).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from isms.audit import trail
from isms.awareness import selfchecks
from isms.awareness.models import OfficeHead
from isms.core.models import Unit, User

from . import publishing
from .models import CategoryCode, PublishingApproval

SITE = "https://www.kpvs.ntpc.edu.tw"
DAY = dt.timedelta(days=1)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _request(actor, unit, *, asked_on: dt.date, categories, **values) -> PublishingApproval:
    with trail.acting_as(actor):
        approval = publishing.save_request(
            PublishingApproval(unit=unit, **values),
            actor=actor,
            categories=categories,
            today=asked_on,
        )
    PublishingApproval.objects.filter(pk=approval.pk).update(requested_at=_at(asked_on, 9))
    return approval


@transaction.atomic
def load_demo() -> None:
    if PublishingApproval.objects.exists():
        return
    users = {
        u.username: u
        for u in User.objects.filter(username__in=["officer", "sysadmin", "teacher", "principal"])
    }
    academic = Unit.objects.filter(code="academic").first()
    it = Unit.objects.filter(code="it").first()
    names = list(CategoryCode.objects.filter(code__in=["C001", "C051"], is_active=True))
    if not names or "officer" not in users:
        return
    today = timezone.localdate()
    teacher, principal = users.get("teacher"), users.get("principal")
    head = (
        OfficeHead.objects.filter(unit=academic).select_related("user").first()
        if academic
        else None
    )
    if teacher is not None and principal is not None and head is not None and head.user == teacher:
        winners = _request(
            teacher,
            academic,
            asked_on=today - 8 * DAY,
            categories=names,
            what="115 學年度第 1 學期校內技藝競賽得獎學生之班級、姓名及名次",
            where=f"{SITE}/academic/news/1203",
            reason="表揚得獎學生；競賽簡章已告知將公布得獎者班級及姓名",
            publish_from=today - 7 * DAY,
            publish_until=today + 30 * DAY,
        )
        with trail.acting_as(principal):
            publishing.approve(
                winners, actor=principal, note="同意，期滿請下架。", now=_at(today - 7 * DAY, 10)
            )
    sysadmin, officer = users.get("sysadmin"), users["officer"]
    if it is None or sysadmin is None:
        return
    if not OfficeHead.objects.filter(unit=it).exists():
        with trail.acting_as(officer):
            selfchecks.head_save(OfficeHead(unit=it, user=officer), actor=officer)
    _request(
        sysadmin,
        it,
        asked_on=today,
        categories=names,
        what="115 學年度資訊週程式設計競賽初賽入圍學生之班級、姓名",
        where=f"{SITE}/it/contest/2026",
        reason="公告入圍名單以便通知參加決賽；競賽辦法已告知將公布入圍者姓名",
        publish_from=today + 3 * DAY,
        publish_until=today + 33 * DAY,
    )
    last_year = _request(
        sysadmin,
        it,
        asked_on=today - 76 * DAY,
        categories=names,
        what="114 學年度校內資訊能力競賽得獎學生之班級、姓名",
        where=f"{SITE}/it/contest/2025-results",
        reason="表揚得獎學生；競賽簡章已告知將公布得獎者班級及姓名",
        publish_from=today - 75 * DAY,
        publish_until=today - 5 * DAY,
    )
    with trail.acting_as(officer):
        publishing.approve(last_year, actor=officer, now=_at(today - 76 * DAY, 15))
