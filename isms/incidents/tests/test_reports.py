"""Incident print-outs and statistics: copy for the platform, the paper form, A-6, statistics."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.compliance.models import PolicyRevision
from isms.core import services as core_services
from isms.core.models import ContactEntry, Person, SchoolProfile
from isms.core.roles import MANAGERS, PRINCIPAL, SECURITY_OFFICER, STAFF, SUPERVISOR
from isms.core.testing import ROLE_CASES, roles_for
from isms.incidents import reports, services
from isms.incidents.models import EscalationStep

TPE = ZoneInfo("Asia/Taipei")
NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=TPE)  # school year 115, 1st semester
OID = "2.16.886.111.900026.100107.0~4"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


@pytest.fixture
def school(db):
    profile = SchoolProfile.load()
    profile.name = "穀保家商"
    profile.oid = OID
    profile.save()
    return profile


@pytest.fixture
def contacts(db):
    rows = {
        ContactEntry.Role.SECURITY_OFFICER: ("陳怡君", "02-2971-1234#301", "it@example.edu.tw"),
        ContactEntry.Role.SECURITY_SUPERVISOR: ("黃建華", "02-2971-1234#300", ""),
        ContactEntry.Role.PRINCIPAL: ("林志明", "02-2971-1234#100", ""),
        ContactEntry.Role.BUREAU_OFFICER: ("新北市教育局資訊中心", "02-2960-3456", ""),
        ContactEntry.Role.TACERT: ("TACERT", "07-525-0211", ""),
    }
    for order, (role, (name, phone, email)) in enumerate(rows.items()):
        ContactEntry.objects.update_or_create(
            role=role, defaults={"name": name, "phone": phone, "email": email, "order": order}
        )
    return rows


def full_incident(actor, **values):
    data = {
        "title": "校網首頁遭置換",
        "description": "首頁出現不明圖片\n疑似後台帳號外洩",
        "source": "self",
        "category": "defacement",
        "occurred_at": NOW - dt.timedelta(minutes=50),
        "discovered_at": NOW - dt.timedelta(minutes=30),
        "equipment_ip": "163.20.1.15",
        "equipment_url": "https://www.example.edu.tw/",
        "equipment_model": "Dell R650",
        "equipment_os": "Ubuntu 22.04",
        "affected_software": "WordPress 6.4",
        "protection": "防火牆、防毒軟體",
        "measures_taken": "已將網站下線並保留紀錄",
        "needs_support": True,
        "confidentiality_impact": 0,
        "integrity_impact": 2,
        "availability_impact": 1,
        "level_override": 3,
        "level_override_reason": "首頁為學校門面，影響重大",
    }
    data.update(values)
    return services.create(actor=actor, **data)


def url(name, *args):
    return reverse(f"incidents:{name}", args=args)


# Access ------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLE_CASES)
def test_incident_pages_answer_by_role(role, client_for, officer):
    incident = full_incident(officer)
    c = client_for(*roles_for(role))
    expected = 200 if role in MANAGERS else 403
    for name in ("incident_platform_copy", "incident_print"):
        assert c.get(url(name, incident.pk)).status_code == expected, name
    assert c.get(url("statistics")).status_code == expected


@pytest.mark.parametrize("role", ROLE_CASES)
def test_procedure_is_open_to_every_signed_in_person(role, client_for):
    assert client_for(*roles_for(role)).get(url("procedure")).status_code == 200


def test_pages_send_anonymous_people_to_sign_in(client, officer):
    incident = full_incident(officer)
    for address in (
        url("incident_platform_copy", incident.pk),
        url("incident_print", incident.pk),
        url("procedure"),
        url("statistics"),
    ):
        response = client.get(address)
        assert response.status_code == 302, address
        assert response["Location"].startswith(reverse("login"))


def test_a_missing_incident_is_404(client_for):
    c = client_for(SECURITY_OFFICER)
    assert c.get(url("incident_platform_copy", 987654)).status_code == 404
    assert c.get(url("incident_print", 987654)).status_code == 404


def test_menu_links(client_for):
    staff = client_for(STAFF).get("/").content.decode()
    assert url("procedure") in staff and url("statistics") not in staff
    principal = client_for(PRINCIPAL).get("/").content.decode()
    assert url("procedure") in principal and url("statistics") in principal


# Copy for the platform ----------------------------------------------------------------------
def test_platform_copy_lists_the_facts_in_the_platform_order(client_for, officer, school, contacts):
    incident = full_incident(officer)
    response = client_for(SUPERVISOR).get(url("incident_platform_copy", incident.pk))
    html = response.content.decode()
    expected_in_order = [
        "穀保家商",
        OID,
        "陳怡君",  # no platform report yet: the A-6 security officer
        "02-2971-1234#301",
        "it@example.edu.tw",
        "115/11/30 07:10",  # occurred (Taipei)
        "2026-11-30 07:10",  # and with a Western year
        "115/11/30 07:30",  # discovered
        "163.20.1.15",
        "https://www.example.edu.tw/",
        "Dell R650",
        "Ubuntu 22.04",
        "WordPress 6.4",
        "防火牆、防毒軟體",
        "網頁置換",
        "無資料遭洩漏",  # confidentiality 0, in the clause's words
        "核心業務系統或資料遭輕微竄改",  # integrity 2
        "非核心業務運作遭影響或短暫停頓",  # availability 1
        "3 級",
        "研判 2 級，調整為 3 級",
        "首頁為學校門面，影響重大",
        "已將網站下線並保留紀錄",
    ]
    positions = [html.find(text) for text in expected_in_order]
    assert -1 not in positions, [t for t in expected_in_order if t not in html]
    assert positions == sorted(positions)
    assert "isms/copy.js" in html
    assert html.count("data-copy=") >= len(expected_in_order) - 2
    assert "data-copy-all=" in html
    facts = {f.label: f for _title, section in response.context["sections"] for f in section}
    assert facts["需要外部支援"].value == "是"
    assert facts["通報人"].value == "陳怡君"


def test_platform_copy_names_the_platform_reporter_once_recorded(
    client_for, officer, school, contacts
):
    incident = full_incident(officer)
    services.record_platform_report(
        incident, actor=officer, reported_at=NOW - dt.timedelta(minutes=5), ticket="TACERT-1"
    )
    html = client_for(SECURITY_OFFICER).get(url("incident_platform_copy", incident.pk)).content
    html = html.decode()
    assert officer.display_name in html and "TACERT-1" in html
    # The contact stays the school's A-6 security-officer entry.
    assert "02-2971-1234#301" in html


def test_reporter_contact_falls_back_to_the_persons_own(officer):
    person = Person.objects.create(name="王小明", phone="0912-345-678", email="wang@example.edu.tw")
    entry = ContactEntry.objects.get(role=ContactEntry.Role.SECURITY_OFFICER)
    entry.person, entry.name, entry.phone, entry.email = person, "", "", ""
    entry.save()
    incident = full_incident(officer)
    assert reports.reporter_and_contact(incident, entry) == {
        "name": "王小明",
        "phone": "0912-345-678",
        "email": "wang@example.edu.tw",
    }


def test_copy_script_has_a_fallback_and_no_cdn():
    from django.contrib.staticfiles import finders

    script = Path(finders.find("isms/copy.js")).read_text(encoding="utf-8")
    assert "navigator.clipboard" in script and "execCommand" in script
    assert "http://" not in script and "https://" not in script and "cdn" not in script.lower()


# The paper form ---------------------------------------------------------------------------
def test_print_form_has_timeline_signatures_and_policy_version(
    client_for, officer, school, contacts
):
    PolicyRevision.objects.create(
        version="v2026.1",
        adopted_on=dt.date(2026, 6, 1),
        approved_on=dt.date(2026, 6, 10),
    )
    incident = full_incident(officer)
    services.add_note(incident, actor=officer, text="已封鎖來源 IP")
    html = client_for(PRINCIPAL).get(url("incident_print", incident.pk)).content.decode()
    for text in (
        "資安事件通報單",
        incident.number,
        OID,
        "163.20.1.15",
        "建立事件紀錄",
        "已封鎖來源 IP",
        "承辦人",
        "資訊業務主管",
        "校長",
        "v2026.1",
        'class="paper"',
    ):
        assert text in html, text
    assert html.count('class="signature"') == 3
    # The steps of a level-3 incident (2.10.4) are on the form.
    assert str(EscalationStep.Kind.PHONE_BUREAU.label) in html


def test_print_form_of_a_closed_incident_shows_the_closing(client_for, officer):
    incident = full_incident(officer, level_override=None, level_override_reason="")
    services.record_platform_report(
        incident, actor=officer, reported_at=NOW - dt.timedelta(minutes=10), ticket="T-9"
    )
    services.close(
        incident,
        actor=officer,
        closed_at=NOW,
        containment="下線",
        recovery="自備份還原",
        root_cause="外掛漏洞",
        prevention="定期更新",
    )
    html = client_for(SECURITY_OFFICER).get(url("incident_print", incident.pk)).content.decode()
    assert "自備份還原" in html and "外掛漏洞" in html and "T-9" in html


# A-6 --------------------------------------------------------------------------------------
def test_procedure_sheet_has_the_flow_and_the_contact_table(client_for, school, contacts):
    response = client_for(STAFF).get(url("procedure"))
    html = response.content.decode()
    for text in ("資安事件通報程序", "A-6", "發現異常", "通報資安業務承辦人", "研判等級"):
        assert text in html, text
    assert "教育局(處)資訊安全管理單位" in html
    assert "1 小時內" in html and "72 小時內" in html and "36 小時內" in html
    assert OID in html
    for name, phone, _email in contacts.values():
        assert name in html and phone in html
    assert "臺灣學術網路危機處理中心(TACERT)" in html
    # The flow comes before the table.
    assert html.index("平台通報") < html.index("TACERT")


# Statistics -------------------------------------------------------------------------------
def at(*args):
    return dt.datetime(*args, tzinfo=TPE)


def _make(officer, discovered, *, level, category, report_after=None, close_after=None):
    """An incident discovered at ``discovered``, reported and closed so many hours later."""
    last = discovered + dt.timedelta(hours=max(report_after or 0, close_after or 0, 0.1))
    with time_machine.travel(last + dt.timedelta(minutes=1), tick=False):
        values = {"category": category} if category else {}
        if level is not None:
            values.update(confidentiality_impact=level, integrity_impact=0, availability_impact=0)
        incident = services.create(
            actor=officer,
            title="事件",
            description="說明",
            source="self",
            discovered_at=discovered,
            **values,
        )
        if report_after is not None:
            services.record_platform_report(
                incident,
                actor=officer,
                reported_at=discovered + dt.timedelta(hours=report_after),
                ticket=f"T-{incident.pk}",
            )
        if close_after is not None:
            done = discovered + dt.timedelta(hours=close_after)
            for step in EscalationStep.objects.filter(incident=incident):
                services.complete_step(step, actor=officer, at=done)
            services.close(
                incident,
                actor=officer,
                closed_at=done,
                containment="a",
                recovery="b",
                root_cause="c",
                prevention="d",
            )
    return incident


@pytest.fixture
def known_set(officer):
    """School year 115 holds four counted incidents, one dismissed and one voided."""
    made = {
        # Reported in 0.5 h (on time), closed in 48 h (72 h allowed: on time).
        "a": _make(
            officer,
            at(2026, 9, 10, 10),
            level=2,
            category="intrusion",
            report_after=0.5,
            close_after=48,
        ),
        # Level 3: reported in 2.5 h (late), closed in 40 h (36 h allowed: late).
        "b": _make(
            officer,
            at(2026, 9, 20, 9),
            level=3,
            category="malware",
            report_after=2.5,
            close_after=40,
        ),
        # Reported exactly at the deadline (on time), never closed (overdue by now).
        "c": _make(officer, at(2026, 10, 5, 14), level=1, category="spam", report_after=1),
        # Not classified, not reported (overdue), close deadline still ahead.
        "g": _make(officer, at(2026, 11, 29, 23, 30), level=None, category=""),
        # Excluded: dismissed, voided, and one of the school year before.
        "dismissed": _make(officer, at(2026, 10, 6, 8), level=None, category=""),
        "voided": _make(officer, at(2026, 10, 7, 8), level=4, category="data_leak"),
        "before": _make(officer, at(2026, 7, 20, 8), level=1, category="spam", report_after=0.2),
    }
    services.dismiss(made["dismissed"], actor=officer, reason="印表機故障")
    core_services.record_void(made["voided"], actor=officer, reason="重複建立")
    return made


def test_statistics_of_a_known_set(client_for, known_set):
    response = client_for(SUPERVISOR).get(url("statistics"))
    assert response.status_code == 200
    stats = response.context["stats"]
    assert response.context["period"].school_year == 115
    totals = stats["totals"]
    assert (totals["total"], totals["dismissed"], totals["voided"]) == (4, 1, 1)
    assert stats["months"][0]["label"] == "115/08" and stats["months"][-1]["label"] == "116/07"
    rows = {r["month"]: r["cells"] for r in stats["level_rows"]}
    # Columns: levels 0–4, then not classified.
    assert rows["115/09"] == [0, 0, 1, 1, 0, 0]
    assert rows["115/10"] == [0, 1, 0, 0, 0, 0]
    assert rows["115/11"] == [0, 0, 0, 0, 0, 1]
    assert rows["115/08"] == [0] * 6
    assert stats["level_totals"] == [0, 1, 1, 1, 0, 1]
    categories = {r["label"]: r["total"] for r in stats["category_rows"]}
    assert categories["系統被入侵"] == 1
    assert categories["散播惡意程式"] == 1
    assert categories["垃圾郵件"] == 1
    assert categories["尚未分類"] == 1
    assert categories["個資外洩"] == 0  # the voided one is not counted
    assert "其他" not in categories
    assert sum(stats["month_totals"]) == 4
    report, close = stats["timings"]
    assert (report["done"], report["on_time"], report["late"]) == (3, 2, 1)
    assert (report["overdue"], report["pending"]) == (1, 0)
    assert (report["median"], report["longest"]) == ("1.0", "2.5")
    assert (close["done"], close["on_time"], close["late"]) == (2, 1, 1)
    assert (close["overdue"], close["pending"]) == (1, 1)
    assert (close["median"], close["longest"]) == ("44.0", "48.0")
    html = response.content.decode()
    assert (
        "<svg" in html
        and "<rect" in html
        and "<script" not in html.split("<main")[1].split("</main>")[0]
    )
    assert "已作廢（1 件）及判定為非資安事件（1 件）者不列入統計" in html


def test_statistics_of_another_school_year_and_of_a_date_range(client_for, known_set):
    c = client_for(SECURITY_OFFICER)
    previous = c.get(url("statistics"), {"year": 114}).context["stats"]
    assert previous["totals"]["total"] == 1
    assert len(previous["months"]) == 12
    september = c.get(url("statistics"), {"start": "115/09/01", "end": "115/09/30"})
    assert september.status_code == 200
    stats = september.context["stats"]
    assert [m["label"] for m in stats["months"]] == ["115/09"]
    assert stats["totals"]["total"] == 2
    assert stats["timings"][0]["late"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"start": "115/09/30", "end": "115/09/01"},
        {"start": "115/09/01"},
        {"start": "110/01/01", "end": "115/01/01"},
        {"start": "not a date", "end": "115/01/01"},
        {"year": "1999"},
    ],
)
def test_statistics_refuse_a_bad_period(client_for, query):
    response = client_for(SECURITY_OFFICER).get(url("statistics"), query)
    assert response.status_code == 400
    assert "stats" not in response.context


def test_statistics_query_count_does_not_grow_with_incidents(client_for, officer):
    c = client_for(PRINCIPAL)
    _make(officer, at(2026, 9, 1, 9), level=1, category="spam", report_after=0.5, close_after=10)
    _make(officer, at(2026, 9, 2, 9), level=None, category="")
    c.get(url("statistics"))  # warm up (session, caches)
    with CaptureQueriesContext(connection) as few:
        assert c.get(url("statistics")).status_code == 200
    for day in range(3, 11):
        _make(
            officer,
            at(2026, 10, day, 9),
            level=day % 5,
            category="phishing_web" if day % 2 else "bot",
            report_after=day / 4,
            close_after=day * 3,
        )
    with CaptureQueriesContext(connection) as many:
        response = c.get(url("statistics"))
    assert response.context["stats"]["totals"]["total"] == 10
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
