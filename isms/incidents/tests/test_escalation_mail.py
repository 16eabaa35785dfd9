"""2.10.4 end to end: a level-3 incident reaches the supervisor and principal by e-mail.

The mail goes through Django's SMTP backend to a real aiosmtpd server on loopback and is
read back from what that server received.
"""

import pytest

from isms.core import roc
from isms.incidents import services
from isms.notifications import delivery
from isms.notifications.models import Notification

from .conftest import HOUR, MINUTE, NOW, classified, impacts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def by_address(smtp):
    return {address: mail for mail in smtp.messages for address in mail.recipients}


def test_a_level_3_classification_is_mailed_to_the_supervisors_and_the_principal(
    smtp, people, settings
):
    settings.ISMS_BASE_URL = "https://isms.school.example.edu.tw"
    incident = classified(people.officer, level=2, title="網站首頁遭置換")
    incident = services.update(incident, actor=people.officer, **impacts(3))
    assert incident.level == 3
    assert incident.close_due_at == incident.discovered_at + 36 * HOUR

    sent, unsent = delivery.deliver_due("w1")
    assert (sent, unsent) == (3, 0)

    received = by_address(smtp)
    assert set(received) == {
        "chief@school.example.edu.tw",
        "chief2@school.example.edu.tw",
        "principal@school.example.edu.tw",
    }  # not the officers, the teacher or the inactive account
    for address in ("chief@school.example.edu.tw", "principal@school.example.edu.tw"):
        mail = received[address]
        assert "資安事件 3 級" in mail.subject
        assert incident.number in mail.subject
        assert mail.subject == f"【資安事件 3 級】{incident.number} 網站首頁遭置換"
        body = mail.body
        assert "2.10.4" in body
        assert "以電話聯絡教育局(處)資訊安全管理單位" in body
        assert "校長儘快召集會議" in body
        assert f"編號：{incident.number}" in body
        assert "類型：系統被入侵" in body
        assert f"結案期限：{roc.format_roc_datetime(incident.close_due_at)}" in body
        assert f"研判者：{people.officer.display_name}" in body
        assert "https://isms.school.example.edu.tw" + incident.get_absolute_url() in body
        assert mail.message["Auto-Submitted"] == "auto-generated"
        assert mail.message.get_content_charset() == "utf-8"

    assert Notification.objects.filter(status=Notification.Status.SENT).count() == 3
    # Delivered once: another pass sends nothing more.
    assert delivery.deliver_due("w1") == (0, 0)
    assert len(smtp.messages) == 3


def test_a_suspected_report_classified_at_3_reaches_everyone_it_should(smtp, people):
    incident = services.report_suspected(
        actor=people.staff,
        description="學生成績資料出現在校外網站",
        seen_at=NOW - 10 * MINUTE,
        contact="分機 205",
    )
    incident = services.update(incident, actor=people.officer, category="data_leak", **impacts(3))
    assert incident.status == "open" and incident.level == 3

    assert delivery.deliver_due("w1") == (5, 0)
    received = by_address(smtp)
    for address in ("officer@school.example.edu.tw", "officer2@school.example.edu.tw"):
        assert received[address].subject.startswith(f"【資安事件通報】{incident.number}")
    for address in (
        "chief@school.example.edu.tw",
        "chief2@school.example.edu.tw",
        "principal@school.example.edu.tw",
    ):
        mail = received[address]
        assert "資安事件 3 級" in mail.subject and incident.number in mail.subject
        assert "類型：個資外洩" in mail.body
    assert "teacher@school.example.edu.tw" not in received
    # Urgent first, and every message here is urgent: the report went out before the rise.
    assert [m.recipients[0].startswith("officer") for m in smtp.messages][:2] == [True, True]
