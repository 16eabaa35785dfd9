"""Demo incidents for `isms demo`: one closed last month, one reported this morning."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from isms.audit import trail
from isms.core.models import User

from . import services
from .models import Incident


@transaction.atomic
def load_demo() -> None:
    if Incident.objects.exists():
        return
    officer = User.objects.filter(username="officer").first()
    teacher = User.objects.filter(groups__name="staff").first()
    if officer is None or teacher is None:
        return
    now = timezone.now()
    with trail.acting_as(label="system:demo"):
        spam = services.create(
            actor=officer,
            title="大量垃圾郵件寄至教職員信箱",
            description="教職員信箱於上午收到大量相同主旨的廣告信，未含附件或連結。",
            source="self",
            category="spam",
            discovered_at=now - dt.timedelta(days=30, hours=2),
            occurred_at=now - dt.timedelta(days=30, hours=3),
            confidentiality_impact=0,
            integrity_impact=0,
            availability_impact=1,
        )
        services.record_platform_report(
            spam,
            actor=officer,
            reported_at=now - dt.timedelta(days=30, hours=1, minutes=30),
            ticket="TACERT-DEMO-0001",
        )
        services.close(
            spam,
            actor=officer,
            closed_at=now - dt.timedelta(days=29),
            containment="郵件閘道封鎖寄件來源網域。",
            recovery="刪除已寄達的垃圾郵件。",
            root_cause="外部廣告信大量發送。",
            prevention="調整垃圾郵件過濾規則。",
        )
        services.report_suspected(
            actor=teacher,
            description="收到自稱教育局的信，要求點連結重新輸入校務系統帳號密碼。",
            seen_at=now - dt.timedelta(minutes=20),
            location="電子郵件",
            contact="分機 201",
        )
