"""Demo awareness for `isms demo`: this year's all-staff security training with its
attendance, the officer's external course, this semester's legal-awareness talk at the
Monday assembly, and the academic office's self-check with one item to put right —
through the services, as the security officer and the office's head."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from isms.audit import trail
from isms.core.models import Person, Unit, User

from . import selfchecks, talks, training
from .models import (
    LegalTalk,
    OfficeHead,
    SelfCheck,
    SelfCheckItem,
    TrainingKind,
    TrainingSession,
)


@transaction.atomic
def load_demo() -> None:
    if TrainingSession.objects.exists() or LegalTalk.objects.exists():
        return
    officer = User.objects.filter(username="officer").first()
    teacher = User.objects.filter(username="teacher").first()
    if officer is None:
        return
    today = timezone.localdate()
    day = max(today - dt.timedelta(days=20), today.replace(month=1, day=1))
    with trail.acting_as(officer):
        session = training.save_session(
            TrainingSession(
                title="資通安全通識教育訓練：社交工程與密碼安全",
                held_on=day,
                hours=Decimal("3"),
                kind=TrainingKind.AWARENESS,
                organizer="圖書館資訊組",
                location="視聽教室",
            ),
            actor=officer,
        )
        people = list(
            Person.objects.filter(status=Person.Status.ACTIVE, kind=Person.Kind.STAFF)
            .order_by("id")
            .values_list("pk", flat=True)[:6]
        )
        training.record_attendance(session, people, actor=officer, today=today)
        course = training.save_session(
            TrainingSession(
                title="資安管理系統（ISMS）主導稽核員課程",
                held_on=day,
                hours=Decimal("6"),
                kind=TrainingKind.MANAGEMENT,
                organizer="教育部資訊及科技教育司",
                external=True,
            ),
            actor=officer,
        )
        if officer.person_id:
            training.record_attendance(course, [officer.person_id], actor=officer, today=today)
        talks.talk_save(
            LegalTalk(
                held_on=today - dt.timedelta(days=7),
                occasion="週一朝會",
                audience="全校師生",
                audience_count=1200,
                presenter="陳怡君（資訊組長）",
                covers_ip=True,
                covers_privacy=True,
                covers_computer_crime=True,
                summary="合法軟體與著作權、個資外洩的後果、未經授權入侵他人帳號的刑責。",
            ),
            actor=officer,
        )
        unit = Unit.objects.filter(code="academic").first()
        if unit is not None and teacher is not None:
            OfficeHead.objects.get_or_create(unit=unit, defaults={"user": teacher})
    if unit is not None and teacher is not None:
        items = list(SelfCheckItem.objects.filter(active=True))
        answers = {item.pk: (True, "") for item in items}
        if items:
            answers[items[0].pk] = (False, "二位同仁下班後桌上留有學籍資料影本")
        with trail.acting_as(teacher):
            selfchecks.check_save(
                SelfCheck(unit=unit, checked_on=today, filled_by=teacher),
                answers,
                actor=teacher,
                today=today,
            )
