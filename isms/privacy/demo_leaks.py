"""Demo leak follow-up for `isms demo` (PDPA art. 12): the demo school's 個資外洩 incident —
when there is none, one is entered through the incidents service as the security officer
(a class list e-mailed to the wrong parents' group), reported to the platform and closed —
and the notification of the people concerned, recorded by the officer."""

import datetime as dt

from django.utils import timezone

from isms.audit import trail
from isms.core.models import User
from isms.incidents import services as incidents
from isms.incidents.models import Incident

from . import leaks
from .models import LeakNotification


def load_demo() -> None:
    officer = User.objects.filter(username="officer").first()
    if officer is None:
        return
    incident = leaks.needs_notice().order_by("discovered_at").first()
    if incident is None:
        incident = _incident(officer)
    if LeakNotification.objects.filter(incident=incident).exists():
        return
    leaks.notice_save(
        LeakNotification(
            incident=incident,
            notified_at=min(
                incident.discovered_at + dt.timedelta(hours=30),
                timezone.now().replace(second=0, microsecond=0),
            ),
            people_count=38,
            method="書面通知單由導師轉交家長，並以電子郵件寄送",
        ),
        actor=officer,
        facts=(
            "本校 201 班導師寄送學生名冊（含學生姓名、學號、家長姓名及聯絡電話）時，"
            "誤寄至 202 班家長通訊群組，約 35 位家長收到該郵件。"
        ),
        measures=(
            "已於當日請收件家長刪除郵件並回覆確認（已回覆 33 位，其餘持續聯繫）；"
            "郵件系統已停用群組自動完成功能；全校教職員將於下次會議宣導寄送個資須再確認收件人。"
        ),
        contact=(
            "教務處註冊組 02-2971-5606 分機 211（上班時間），或電子郵件 privacy@kpvs.ntpc.edu.tw"
        ),
    )


def _incident(officer) -> Incident:
    """The leak of the demo, as the officer enters, reports and closes it."""
    now = timezone.now().replace(second=0, microsecond=0)
    seen = now - dt.timedelta(days=6, hours=3)
    with trail.acting_as(officer):
        incident = incidents.create(
            actor=officer,
            title="班級學生名冊誤寄其他班家長群組",
            description=(
                "201 班導師以電子郵件寄送學生名冊（含學生姓名、學號、家長姓名及聯絡電話）"
                "給班上家長，"
                "收件人誤選為 202 班家長通訊群組；202 班家長來電告知後發現。"
            ),
            location="電子郵件（校務郵件系統）",
            source="self",
            category=Incident.Category.DATA_LEAK,
            occurred_at=seen - dt.timedelta(hours=2),
            discovered_at=seen,
            confidentiality_impact=2,
            integrity_impact=0,
            availability_impact=0,
        )
        incidents.record_platform_report(
            incident,
            actor=officer,
            reported_at=seen + dt.timedelta(minutes=40),
            ticket="TACERT-DEMO-0002",
        )
        return incidents.close(
            incident,
            actor=officer,
            closed_at=seen + dt.timedelta(days=2),
            containment="請誤收的家長刪除郵件並回覆確認。",
            recovery="通知受影響學生家長，說明事實與處理情形。",
            root_cause="寄件時郵件系統自動完成帶出相似的群組名稱，寄出前未再確認收件人。",
            prevention="停用群組自動完成；寄送含個資郵件須經第二人確認收件人。",
        )
