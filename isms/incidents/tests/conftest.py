"""Shared helpers of the incident rule tests: a frozen NOW, the people, incidents in states.

Nothing here is autouse, so the other test modules of this package are not affected.
"""

import datetime as dt

import pytest
import time_machine

from isms.core.roles import PRINCIPAL, SECURITY_OFFICER, STAFF, SUPERVISOR
from isms.incidents import services
from isms.notifications.tests.conftest import MailServer, free_port, point_mail_at

NOW = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # Monday 115/11/30 08:00 in Taipei
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
CLOSING = {
    "containment": "已隔離受害主機並更換管理者密碼",
    "recovery": "由備份還原網站並確認服務正常",
    "root_cause": "外掛套件未更新，遭利用上傳網頁後門",
    "prevention": "啟用自動更新並每週檢查網站完整性",
}


def minutes_ago(n):
    return NOW - dt.timedelta(minutes=n)


def details(**values):
    data = {
        "title": "可疑登入",
        "description": "校務系統出現大量異常登入紀錄",
        "source": "self",
        "discovered_at": minutes_ago(20),
    }
    data.update(values)
    return data


def new_incident(actor, **values):
    """An incident entered by the officer, not yet classified (no category, no impacts)."""
    return services.create(actor=actor, **details(**values))


def impacts(level):
    return {"confidentiality_impact": level, "integrity_impact": 0, "availability_impact": 0}


def classified(actor, level=2, **values):
    """An open incident of ``level`` (category 系統被入侵)."""
    return new_incident(actor, **{"category": "intrusion", **impacts(level), **values})


def platform_report(incident, actor, at=None):
    return services.record_platform_report(
        incident, actor=actor, reported_at=at or incident.discovered_at + 10 * MINUTE, ticket="T-1"
    )


def closable(actor, level=2, **values):
    """An open incident reported on the platform, ready to close."""
    return platform_report(classified(actor, level, **values), actor)


@pytest.fixture
def clock():
    """Time frozen at NOW; ``clock.move_to(moment)`` moves it."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER, email="officer@school.example.edu.tw")


@pytest.fixture
def people(make_user, officer):
    """Everyone 2.10.4 names, and people it does not."""

    class People:
        pass

    p = People()
    p.officer = officer
    p.officer2 = make_user("officer2", SECURITY_OFFICER, email="officer2@school.example.edu.tw")
    p.supervisor = make_user("chief", SUPERVISOR, email="chief@school.example.edu.tw")
    p.supervisor2 = make_user("chief2", SUPERVISOR, email="chief2@school.example.edu.tw")
    p.principal = make_user("principal", PRINCIPAL, email="principal@school.example.edu.tw")
    p.staff = make_user("teacher", STAFF, email="teacher@school.example.edu.tw")
    p.retired = make_user(
        "retired", SUPERVISOR, PRINCIPAL, SECURITY_OFFICER, email="old@example.edu.tw"
    )
    p.retired.is_active = False
    p.retired.save()
    return p


@pytest.fixture
def smtp(settings):
    """A running loopback SMTP server (aiosmtpd), Django's SMTP backend pointed at it."""
    server = MailServer(port=free_port())
    server.start()
    point_mail_at(settings, server.port)
    yield server
    server.stop()
