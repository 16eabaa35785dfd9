"""Equipment movements (設備進出紀錄表, A-7; clause 3.6) and outside repairs (7.9): who
sees and does what, the filing rules, every step and every refused step, overdue returns
at the Taipei day boundary with their reminders, the paper log, the API, the binder."""

import datetime as dt
import json
import re
from types import SimpleNamespace

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from isms.assets import movements
from isms.assets.models import Asset, CommissioningRecord, EquipmentMovement, RepairVisit
from isms.assets.views_movements import RepairVisitRegister
from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.models import Person
from isms.core.roles import (
    ALL_ROLES,
    EQUIPMENT_HEAD,
    GUARD,
    MANAGERS,
    PERSONNEL,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.notifications.models import Notification

NOW = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)  # Monday 115/11/30 08:00 in Taipei
TODAY = dt.date(2026, 11, 30)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
S = EquipmentMovement.Status
READERS = {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL, SYSADMIN, EQUIPMENT_HEAD}
OWN_ONLY = {STAFF, GUARD, PERSONNEL}
AUTHORISERS = {EQUIPMENT_HEAD, SUPERVISOR}
HANDLERS = {EQUIPMENT_HEAD, SYSADMIN}


def taipei(*args):
    """A moment given in Taipei time (UTC+8, no daylight saving)."""
    return dt.datetime(*args, tzinfo=dt.UTC) - dt.timedelta(hours=8)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def people(make_user):
    p = SimpleNamespace()
    p.teacher = make_user("teacher", STAFF, email="teacher@school.example")
    p.other = make_user("other", STAFF, email="other@school.example")
    p.head = make_user("head", EQUIPMENT_HEAD, email="head@school.example")
    p.chief = make_user("chief", SUPERVISOR, email="chief@school.example")
    p.admin = make_user("admin", SYSADMIN, email="admin@school.example")
    p.officer = make_user("officer", SECURITY_OFFICER, email="officer@school.example")
    return p


def asset(number="31401-001", name="筆記型電腦 ASUS B1", kind="notebook", state="in_use", **kw):
    return Asset.objects.create(kind=kind, property_number=number, name=name, state=state, **kw)


@pytest.fixture
def notebook(db):
    return asset()


def file(actor, item, *, borrower=None, out_on=TODAY, due_on=TODAY + 3 * DAY, **kw):
    kw.setdefault("reason", "校外教學簡報")
    kw.setdefault("destination", "臺北市立動物園")
    return movements.file_movement(
        actor=actor, asset=item, borrower=borrower, out_on=out_on, due_on=due_on, **kw
    )


def out(people, item, borrower=None, **kw):
    """A movement filed by the teacher (or for ``borrower``), authorised and checked out."""
    if borrower is None:
        m = file(people.teacher, item, **kw)
    else:
        m = file(people.head, item, borrower=borrower, **kw)
    movements.authorise(m, actor=people.chief if borrower else people.head)
    return movements.check_out(m, actor=people.head if not borrower else people.admin)


def client_as(user):
    c = Client()
    c.force_login(user)
    c.user = user
    return c


def url(name, *args):
    return reverse(f"assets:equipmentmovement_{name}", args=args)


def mark() -> int:
    last = AuditEntry.objects.order_by("-id").first()
    return last.pk if last else 0


def since(last: int):
    return AuditEntry.objects.filter(id__gt=last).order_by("id")


def snapshot(m):
    return EquipmentMovement.objects.filter(pk=m.pk).values().get()


def form(item, **overrides):
    data = {
        "asset": item.pk,
        "reason": "校外教學簡報",
        "destination": "臺北市立動物園",
        "out_on": "115/11/30",
        "due_on": "115/12/03",
    }
    data.update(overrides)
    return data


# Who sees what ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLE_CASES)
def test_list_page_by_role(role, client_for, people, notebook):
    file(people.teacher, notebook)
    response = client_for(*roles_for(role)).get(url("list"))
    assert response.status_code == (200 if role in ALL_ROLES else 403)


@pytest.mark.parametrize("role", sorted(OWN_ONLY))
def test_staff_see_only_their_own_movements(role, client_for, people, notebook):
    theirs = file(people.other, notebook)
    c = client_for(role)
    mine = file(c.user, asset("31401-002"))
    html = c.get(url("list")).content.decode()
    assert mine.number in html and theirs.number not in html
    assert c.get(url("detail", mine.pk)).status_code == 200
    assert c.get(url("detail", theirs.pk)).status_code == 404
    assert c.get(url("print", theirs.pk)).status_code == 404
    log = c.get(url("log_print")).content.decode()
    assert mine.number in log and theirs.number not in log


@pytest.mark.parametrize("role", ROLE_CASES)
def test_someone_elses_movement_by_role(role, client_for, people, notebook):
    m = file(people.teacher, notebook)
    c = client_for(*roles_for(role))
    expected = 200 if role in READERS else 404 if role in ALL_ROLES else 403
    assert c.get(url("detail", m.pk)).status_code == expected
    assert c.get(url("print", m.pk)).status_code == expected


@pytest.mark.parametrize("role", ROLE_CASES)
def test_add_page_is_open_to_every_role(role, client_for, notebook):
    response = client_for(*roles_for(role)).get(url("add"))
    assert response.status_code == (200 if role in ALL_ROLES else 403)


@pytest.mark.parametrize("role", ROLE_CASES)
def test_export_edit_and_void_by_role(role, client_for, people, notebook):
    m = file(people.teacher, notebook)
    c = client_for(*roles_for(role))
    exported = c.get(url("export"), {"format": "csv"})
    assert exported.status_code == (200 if role in READERS else 403)
    assert c.get(url("edit", m.pk)).status_code == 403  # a filed request is not edited
    response = c.post(url("void", m.pk), {"reason": "重複申請"})
    assert response.status_code == (302 if role in HANDLERS | {SECURITY_OFFICER} else 403)


@pytest.mark.parametrize("role", ROLE_CASES)
def test_steps_by_role(role, client_for, people, notebook):
    m = file(people.teacher, notebook)
    c = client_for(*roles_for(role))
    before = snapshot(m)
    authorise = c.post(url("authorise", m.pk), {"note": ""})
    assert authorise.status_code == (302 if role in AUTHORISERS else 403)
    if role not in AUTHORISERS:
        assert snapshot(m) == before
        movements.authorise(m, actor=people.head)
    before = snapshot(m)
    checked = c.post(url("check_out", m.pk), {"checked_out_at": "115/11/30 08:00"})
    assert checked.status_code == (302 if role in HANDLERS else 403)
    if role not in HANDLERS:
        assert snapshot(m) == before
        movements.check_out(m, actor=people.head)
    before = snapshot(m)
    back = c.post(
        url("return", m.pk), {"returned_at": "115/11/30 08:00", "return_condition": "良好"}
    )
    assert back.status_code == (302 if role in HANDLERS else 403)
    if role not in HANDLERS:
        assert snapshot(m) == before


@pytest.mark.django_db
def test_anonymous_people_are_sent_to_sign_in(client, people, notebook):
    m = file(people.teacher, notebook)
    for target in (
        url("list"),
        url("add"),
        url("detail", m.pk),
        url("print", m.pk),
        url("log_print"),
        url("export"),
    ):
        response = client.get(target)
        assert response.status_code == 302 and reverse("login") in response["Location"]
    assert client.post(url("authorise", m.pk)).status_code == 302
    assert EquipmentMovement.objects.get().status == S.REQUESTED


def test_the_menu_offers_filing_to_every_role(client_for):
    html = client_for(GUARD).get("/").content.decode()
    assert url("add") in html and url("list") in html


def test_the_detail_offers_each_step_only_to_who_may_take_it(people, notebook):
    m = file(people.teacher, notebook)
    teacher = client_as(people.teacher).get(url("detail", m.pk)).content.decode()
    assert 'data-step="authorise"' not in teacher
    head = client_as(people.head).get(url("detail", m.pk)).content.decode()
    assert 'data-step="authorise"' in head and 'data-step="check_out"' not in head
    admin = client_as(people.admin).get(url("detail", m.pk)).content.decode()
    assert 'data-step="authorise"' not in admin  # a system administrator does not authorise
    movements.authorise(m, actor=people.head)
    admin = client_as(people.admin).get(url("detail", m.pk)).content.decode()
    assert 'data-step="check_out"' in admin
    chief = client_as(people.chief).get(url("detail", m.pk)).content.decode()
    assert 'data-step="check_out"' not in chief


# Filing ------------------------------------------------------------------------------------------
def test_a_teacher_files_for_themself_on_the_page(people, notebook):
    c = client_as(people.teacher)
    page = c.get(url("add"), {"asset": notebook.pk}).content.decode()
    assert 'name="borrower"' not in page  # a teacher files for themself only
    assert "筆記型電腦 ASUS B1" in page and "115/11/30" in page
    last = mark()
    response = c.post(url("add"), form(notebook))
    assert response.status_code == 302
    m = EquipmentMovement.objects.get()
    assert response["Location"] == m.get_absolute_url()
    assert m.number == "A7-115-0001" and m.status == S.REQUESTED
    assert m.borrower == people.teacher.person and m.requested_by == people.teacher
    assert (m.out_on, m.due_on) == (TODAY, dt.date(2026, 12, 3))
    created = since(last).get(model_label="assets.equipmentmovement")
    assert created.action == "create" and created.actor == people.teacher
    assert all(e.actor == people.teacher for e in since(last))


def test_a_teacher_cannot_file_for_someone_else(people, notebook):
    c = client_as(people.teacher)
    c.post(url("add"), form(notebook, borrower=people.other.person_id))
    assert EquipmentMovement.objects.get().borrower == people.teacher.person  # ignored
    with pytest.raises(ValidationError) as error:
        file(people.teacher, asset("31401-002"), borrower=people.other.person)
    assert "只能為自己申請" in error.value.message_dict["borrower"][0]


@pytest.mark.parametrize("role", [EQUIPMENT_HEAD, SYSADMIN, SECURITY_OFFICER])
def test_the_office_files_for_anyone(role, client_for, people, notebook):
    c = client_for(role)
    assert 'name="borrower"' in c.get(url("add")).content.decode()
    response = c.post(url("add"), form(notebook, borrower=people.teacher.person_id))
    assert response.status_code == 302
    m = EquipmentMovement.objects.get()
    assert m.borrower == people.teacher.person and m.requested_by == c.user
    page = client_as(people.teacher).get(m.get_absolute_url()).content.decode()
    assert "代 測試teacher 申請" in page  # the borrower sees it as theirs


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"due_on": "115/11/29"}, "due_on", "預定歸還日期不可早於攜出日期"),
        ({"out_on": "115/11/29", "due_on": "115/11/30"}, "out_on", "攜出前須經授權（條文 3.6）"),
        ({"due_on": "116/06/01"}, "due_on", "攜出期間最長 180 天"),
        ({"reason": " "}, "reason", "請填寫攜出事由"),
        ({"destination": ""}, "destination", "請填寫攜往地點"),
        ({"out_on": ""}, "out_on", "請填寫攜出日期"),
        ({"due_on": "115/02/30"}, "due_on", ""),
        ({"asset": ""}, "asset", "請選擇設備"),
        ({"asset": "99999"}, "asset", ""),
    ],
)
def test_bad_input_is_refused_in_zh_tw_and_saves_nothing(changes, field, message, people, notebook):
    c = client_as(people.teacher)
    last = mark()
    response = c.post(url("add"), form(notebook, **changes))
    assert response.status_code == 400
    html = response.content.decode()
    assert "請修正下列欄位的錯誤" in html
    assert response.context["form"].errors[field]
    assert message in " ".join(response.context["form"].errors[field])
    assert EquipmentMovement.objects.count() == 0 and not since(last).exists()


def test_the_longest_period_is_a_setting(settings, people, notebook):
    settings.ISMS_MOVEMENT_MAX_DAYS = 7
    with pytest.raises(ValidationError) as error:
        file(people.teacher, notebook, due_on=TODAY + 8 * DAY)
    assert "最長 7 天" in error.value.message_dict["due_on"][0]
    assert file(people.teacher, notebook, due_on=TODAY + 7 * DAY).due_on == TODAY + 7 * DAY


def test_a_decommissioned_or_voided_asset_does_not_go_out(people):
    gone = asset("X-1", state="decommissioned")
    with pytest.raises(ValidationError) as error:
        file(people.teacher, gone)
    assert "已報廢" in error.value.message_dict["asset"][0]
    assert "3.6" in error.value.message_dict["asset"][0]
    voided = asset("X-2")
    core_services.record_void(voided, actor=people.head, reason="重複建檔")
    with pytest.raises(ValidationError) as error:
        file(people.teacher, voided)
    assert "已作廢" in error.value.message_dict["asset"][0]


def test_an_asset_under_repair_goes_out_only_for_repair(people):
    broken = asset(state="repair")
    with pytest.raises(ValidationError) as error:
        file(people.head, broken, reason="展示")
    assert "維修中" in error.value.message_dict["asset"][0]
    m = file(people.head, broken, reason="主機板故障", repair=True, destination="華碩維修中心")
    assert m.reason == "送修：主機板故障" and movements.for_repair(m)
    # Marked in the reason itself, the rule holds up to the check-out.
    movements.authorise(m, actor=people.chief)
    movements.check_out(m, actor=people.admin)
    assert EquipmentMovement.objects.get().status == S.OUT


def test_a_portable_device_not_commissioned_does_not_go_out(people):
    new = asset(state="new")
    with pytest.raises(ValidationError) as error:
        file(people.teacher, new)
    assert "4.2" in error.value.message_dict["asset"][0]
    CommissioningRecord.objects.create(
        asset=new,
        kind="commission",
        executor=people.head,
        executed_on=TODAY,
        virus_scan=True,
        default_password_changed=True,
        system_updated=True,
        reviewed_by=people.chief,
        reviewed_at=NOW,
    )
    assert file(people.teacher, new).status == S.REQUESTED
    stored = asset("USB-1", kind="usb", state="storage")  # a medium needs no commissioning
    assert file(people.teacher, stored).status == S.REQUESTED


def test_an_asset_out_or_asked_for_over_the_period_is_refused(people, notebook):
    first = file(people.other, notebook, due_on=TODAY + 2 * DAY)
    with pytest.raises(ValidationError) as error:
        file(people.teacher, notebook, out_on=TODAY + 2 * DAY, due_on=TODAY + 4 * DAY)
    assert first.number in error.value.message_dict["asset"][0]
    later = file(people.teacher, notebook, out_on=TODAY + 3 * DAY, due_on=TODAY + 4 * DAY)
    assert later.status == S.REQUESTED  # after the first: no overlap
    movements.authorise(first, actor=people.head)
    movements.check_out(first, actor=people.head)
    with pytest.raises(ValidationError) as error:
        file(people.teacher, notebook, out_on=TODAY + DAY, due_on=TODAY + DAY)
    assert "尚未歸還" in error.value.message_dict["asset"][0]


def test_equipment_out_and_late_holds_its_asset_until_it_is_back(people, notebook):
    m = out(people, notebook, due_on=TODAY + DAY)
    with time_machine.travel(NOW + 5 * DAY, tick=False):
        with pytest.raises(ValidationError) as error:
            file(people.other, notebook, out_on=TODAY + 6 * DAY, due_on=TODAY + 7 * DAY)
        assert m.number in error.value.message_dict["asset"][0]
        movements.return_movement(m, actor=people.head, condition="良好")
        assert file(people.other, notebook, out_on=TODAY + 6 * DAY, due_on=TODAY + 7 * DAY)


def test_a_refused_or_voided_request_does_not_hold_the_asset(people, notebook):
    m = file(people.other, notebook)
    movements.refuse(m, actor=people.head, note="該週需支援段考")
    v = file(people.other, notebook)
    core_services.record_void(v, actor=people.head, reason="重複申請")
    assert file(people.teacher, notebook).status == S.REQUESTED


def test_a_borrower_who_left_or_a_login_without_a_person_is_refused(people, notebook, make_user):
    gone = Person.objects.create(name="王離職", status=Person.Status.LEFT, leave_date=TODAY)
    with pytest.raises(ValidationError) as error:
        file(people.head, notebook, borrower=gone)
    assert "已離職" in error.value.message_dict["borrower"][0]
    nobody = make_user("nobody", STAFF, person=False)
    response = client_as(nobody).post(url("add"), form(notebook))
    assert response.status_code == 400
    assert "沒有對應的人員資料" in response.content.decode()


def test_numbers_run_per_roc_year(people):
    a = file(people.teacher, asset("A"))
    b = file(people.teacher, asset("B"))
    assert (a.number, b.number) == ("A7-115-0001", "A7-115-0002")
    with time_machine.travel(dt.datetime(2027, 1, 4, 1, tzinfo=dt.UTC), tick=False):
        c = file(people.teacher, asset("C"), out_on=dt.date(2027, 1, 4), due_on=dt.date(2027, 1, 5))
    assert c.number == "A7-116-0001"


def test_the_head_is_told_of_a_request_and_the_borrower_of_the_decision(people, notebook):
    m = file(people.teacher, notebook)
    told = set(Notification.objects.values_list("recipient__username", flat=True))
    assert told == {"head"}
    movements.authorise(m, actor=people.head)
    assert Notification.objects.filter(
        recipient=people.teacher, subject__contains="已核准"
    ).exists()


def test_an_equipment_heads_own_request_goes_to_the_supervisor(people, notebook):
    file(people.head, notebook)
    told = set(Notification.objects.values_list("recipient__username", flat=True))
    assert told == {"chief"}


# Steps -------------------------------------------------------------------------------------------
def test_request_authorise_check_out_return_each_audited_with_its_actor(people, notebook):
    m = file(people.teacher, notebook)
    last = mark()
    response = client_as(people.head).post(url("authorise", m.pk), {"note": "請妥善保管"})
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.status == S.AUTHORISED and m.authorised_by == people.head
    assert m.authorised_at == NOW and m.decision_note == "請妥善保管"
    entry = since(last).filter(model_label="assets.equipmentmovement").get()
    assert entry.action == "update" and entry.actor == people.head
    assert entry.changes["status"] == ["requested", "authorised"]

    last = mark()
    response = client_as(people.head).post(
        url("check_out", m.pk), {"checked_out_at": "115/11/30 08:00"}
    )
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.status == S.OUT and m.checked_out_by == people.head
    assert m.checked_out_at == NOW
    entry = since(last).filter(model_label="assets.equipmentmovement").get()
    assert entry.actor == people.head and entry.changes["status"] == ["authorised", "out"]

    last = mark()
    with time_machine.travel(NOW + 2 * DAY, tick=False):
        response = client_as(people.admin).post(
            url("return", m.pk),
            {"returned_at": "115/12/02 07:30", "return_condition": "有損壞：螢幕刮傷"},
        )
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.status == S.RETURNED and m.received_by == people.admin
    assert m.returned_at == taipei(2026, 12, 2, 7, 30)
    assert m.return_condition == "有損壞：螢幕刮傷"
    entry = since(last).filter(model_label="assets.equipmentmovement").get()
    assert entry.actor == people.admin and entry.changes["status"] == ["out", "returned"]
    page = client_as(people.teacher).get(m.get_absolute_url()).content.decode()
    for text in ("測試head", "測試admin", "有損壞：螢幕刮傷", "115/12/02 07:30", "已歸還"):
        assert text in page


STEPS = {
    "authorise": lambda m, p: movements.authorise(m, actor=p.chief),
    "refuse": lambda m, p: movements.refuse(m, actor=p.chief, note="不需要"),
    "check_out": lambda m, p: movements.check_out(m, actor=p.head),
    "return": lambda m, p: movements.return_movement(m, actor=p.head, condition="良好"),
}
ALLOWED = {
    S.REQUESTED: {"authorise", "refuse"},
    S.AUTHORISED: {"check_out"},
    S.OUT: {"return"},
    S.RETURNED: set(),
    S.REFUSED: set(),
}
PATHS = {
    S.REQUESTED: (),
    S.AUTHORISED: ("authorise",),
    S.OUT: ("authorise", "check_out"),
    S.RETURNED: ("authorise", "check_out", "return"),
    S.REFUSED: ("refuse",),
}


@pytest.mark.parametrize("status", list(PATHS))
@pytest.mark.parametrize("step", list(STEPS))
def test_every_invalid_transition_is_refused_and_changes_nothing(status, step, people, notebook):
    m = file(people.teacher, notebook)
    for done in PATHS[status]:
        STEPS[done](m, people)
    m.refresh_from_db()
    assert m.status == status
    if step in ALLOWED[status]:
        STEPS[step](m, people)
        return
    before, last = snapshot(m), mark()
    with pytest.raises(ValidationError) as error:
        STEPS[step](m, people)
    assert "目前為" in " ".join(error.value.messages)
    assert snapshot(m) == before and not since(last).exists()


def test_an_invalid_step_on_the_page_shows_why_and_changes_nothing(people, notebook):
    m = file(people.teacher, notebook)
    before = snapshot(m)
    response = client_as(people.head).post(
        url("check_out", m.pk), {"checked_out_at": "115/11/30 08:00"}
    )
    assert response.status_code == 400
    assert "目前為「待核准」，不能點交" in response.content.decode()
    assert snapshot(m) == before


def test_a_voided_movement_takes_no_step(people, notebook):
    m = file(people.teacher, notebook)
    core_services.record_void(m, actor=people.head, reason="申請錯誤")
    with pytest.raises(ValidationError) as error:
        movements.authorise(m, actor=people.head)
    assert "已作廢" in error.value.messages[0]


def test_nobody_authorises_their_own_request(people, notebook):
    m = file(people.head, notebook)  # the 設備組長 borrows for themself
    before = snapshot(m)
    response = client_as(people.head).post(url("authorise", m.pk), {"note": ""})
    assert response.status_code == 400
    assert "核准人不可為攜出人本人" in response.content.decode()
    assert snapshot(m) == before
    with pytest.raises(ValidationError):
        movements.refuse(m, actor=people.head, note="不用了")
    page = client_as(people.head).get(m.get_absolute_url()).content.decode()
    assert 'data-step="authorise"' not in page and "您是此筆的攜出人" in page
    movements.authorise(m, actor=people.chief)
    assert EquipmentMovement.objects.get().authorised_by == people.chief


def test_the_borrower_neither_hands_over_nor_receives_back(people, notebook):
    m = file(people.head, notebook, borrower=people.admin.person)
    movements.authorise(m, actor=people.chief)
    with pytest.raises(ValidationError) as error:
        movements.check_out(m, actor=people.admin)
    assert "點交人不可為攜出人本人" in error.value.messages[0]
    movements.check_out(m, actor=people.head)
    with pytest.raises(ValidationError) as error:
        movements.return_movement(m, actor=people.admin, condition="良好")
    assert "點收人不可為攜出人本人" in error.value.messages[0]


def test_services_refuse_those_who_may_not(people, notebook):
    from django.core.exceptions import PermissionDenied

    m = file(people.teacher, notebook)
    for step, actor in (
        (lambda: movements.authorise(m, actor=people.admin), "sysadmin"),
        (lambda: movements.refuse(m, actor=people.teacher, note="x"), "staff"),
        (lambda: movements.check_out(m, actor=people.chief), "supervisor"),
        (lambda: movements.return_movement(m, actor=people.officer, condition="良好"), "officer"),
    ):
        with pytest.raises(PermissionDenied):
            step()
        assert actor


def test_refusing_needs_a_reason(people, notebook):
    m = file(people.teacher, notebook)
    response = client_as(people.chief).post(url("refuse", m.pk), {"note": " "})
    assert response.status_code == 400
    assert "請說明不核准的理由" in response.content.decode()
    client_as(people.chief).post(url("refuse", m.pk), {"note": "該週需支援段考"})
    m.refresh_from_db()
    assert m.status == S.REFUSED and m.decision_note == "該週需支援段考"
    assert Notification.objects.filter(
        recipient=people.teacher, subject__contains="不核准"
    ).exists()


def test_the_check_out_is_within_the_authorised_period_and_after_the_authorisation(
    people, notebook
):
    m = file(people.teacher, notebook, out_on=TODAY + DAY, due_on=TODAY + 2 * DAY)
    movements.authorise(m, actor=people.head)
    c = client_as(people.head)
    early = c.post(url("check_out", m.pk), {"checked_out_at": "115/11/30 08:00"})
    assert early.status_code == 400
    assert "須在核准的期間 115/12/01 至 115/12/02 內" in early.content.decode()
    before_authorised = c.post(url("check_out", m.pk), {"checked_out_at": "115/11/30 07:00"})
    assert "不可早於核准時間" in before_authorised.content.decode()
    future = c.post(url("check_out", m.pk), {"checked_out_at": "115/12/01 09:00"})
    assert "不可晚於現在" in future.content.decode()
    assert EquipmentMovement.objects.get().status == S.AUTHORISED
    with time_machine.travel(taipei(2026, 12, 1, 9, 0), tick=False):
        assert (
            c.post(url("check_out", m.pk), {"checked_out_at": "115/12/01 09:00"}).status_code == 302
        )
    with time_machine.travel(taipei(2026, 12, 3, 9, 0), tick=False):
        late = file(
            people.other,
            asset("31401-009"),
            out_on=dt.date(2026, 12, 3),
            due_on=dt.date(2026, 12, 3),
        )
        movements.authorise(late, actor=people.head)
    with time_machine.travel(taipei(2026, 12, 4, 9, 0), tick=False):
        with pytest.raises(ValidationError) as error:
            movements.check_out(late, actor=people.head)
        assert "請重新申請" in error.value.message_dict["checked_out_at"][0]


def test_a_time_entered_to_the_minute_keeps_the_steps_in_order(people, notebook):
    m = file(people.teacher, notebook)
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        movements.authorise(m, actor=people.head)
        c = client_as(people.head)
        # The form's default is now without seconds: 08:00, before 08:00:30.
        response = c.post(url("check_out", m.pk), {"checked_out_at": "115/11/30 08:00"})
        assert response.status_code == 302
        m.refresh_from_db()
        assert m.checked_out_at == m.authorised_at == NOW + dt.timedelta(seconds=30)
        response = c.post(
            url("return", m.pk), {"returned_at": "115/11/30 08:00", "return_condition": "良好"}
        )
        assert response.status_code == 302
        m.refresh_from_db()
        assert m.returned_at == m.checked_out_at


def test_a_return_before_the_check_out_is_refused_citing_3_6(people, notebook):
    m = out(people, notebook)
    before = snapshot(m)
    response = client_as(people.head).post(
        url("return", m.pk), {"returned_at": "115/11/30 07:59", "return_condition": "良好"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "歸還時間不可早於攜出（點交）時間" in html and "條文 3.6" in html
    assert snapshot(m) == before


def test_the_return_condition_is_required(people, notebook):
    m = out(people, notebook)
    response = client_as(people.head).post(
        url("return", m.pk), {"returned_at": "115/11/30 08:00", "return_condition": ""}
    )
    assert response.status_code == 400
    assert "請填寫歸還狀況" in response.content.decode()
    assert EquipmentMovement.objects.get().status == S.OUT


@pytest.mark.parametrize("data", [{}, {"checked_out_at": "115/13/40 25:00"}])
def test_a_bad_time_is_refused(data, people, notebook):
    m = file(people.teacher, notebook)
    movements.authorise(m, actor=people.head)
    response = client_as(people.head).post(url("check_out", m.pk), data)
    assert response.status_code == 400
    assert EquipmentMovement.objects.get().status == S.AUTHORISED


def test_a_filed_request_is_not_edited_even_by_a_superuser(client_for, people, notebook):
    m = file(people.teacher, notebook)
    c = client_for(superuser=True)
    response = c.get(url("edit", m.pk))
    assert response.status_code == 302 and response["Location"] == m.get_absolute_url()


# Overdue -----------------------------------------------------------------------------------------
def test_overdue_is_counted_from_the_end_of_the_due_day_in_taipei(people, notebook):
    m = out(people, notebook, due_on=dt.date(2026, 12, 2))
    assert m.due_on == dt.date(2026, 12, 2)
    with time_machine.travel(taipei(2026, 12, 2, 23, 59, 59), tick=False):
        head = client_as(people.head)
        assert movements.overdue_days(m) == 0
        html = head.get(url("list")).content.decode()
        assert "逾期 1 天" not in html
        assert head.get(url("list"), {"overdue": "1"}).context["page_obj"].paginator.count == 0
    with time_machine.travel(taipei(2026, 12, 3, 0, 0), tick=False):
        head = client_as(people.head)
        assert movements.overdue_days(m) == 1
        html = head.get(url("list")).content.decode()
        assert "逾期 1 天" in html and 'data-overdue-count="1"' in html
        assert head.get(url("list"), {"overdue": "1"}).context["page_obj"].paginator.count == 1
        page = client_as(people.teacher).get(m.get_absolute_url()).content.decode()
        assert 'data-overdue="1"' in page and "已逾期 1 天" in page
    with time_machine.travel(taipei(2026, 12, 12, 10, 0), tick=False):
        head = client_as(people.head)
        assert "逾期 10 天" in head.get(url("list")).content.decode()
        movements.return_movement(m, actor=people.head, condition="良好")
        m.refresh_from_db()
        assert movements.overdue_days(m) == 0
        assert (
            "逾期"
            not in head.get(url("list"), {"status": "returned"})
            .content.decode()
            .split("<tbody>")[1]
        )


def test_the_return_duty_follows_the_due_day_with_its_reminders(people, notebook):
    m = out(people, notebook, due_on=dt.date(2026, 12, 2))
    other_head = people.head
    bystander = people.other
    engine.refresh(movements.DUTY)
    state = ObligationState.objects.get(key=movements.DUTY, subject_id=str(m.pk))
    assert state.status == "ok" and state.clause == "3.6"
    assert state.next_due_at == taipei(2026, 12, 2, 23, 59, 59)
    with time_machine.travel(taipei(2026, 12, 1, 23, 59, 58), tick=False):
        engine.refresh(movements.DUTY)
        state.refresh_from_db()
        assert state.status == "ok"
    with time_machine.travel(taipei(2026, 12, 2, 0, 0), tick=False):
        engine.refresh(movements.DUTY)
        engine.run_due()
        state.refresh_from_db()
        assert state.status == "due_soon"
        told = Notification.objects.filter(dedup_key__startswith=f"obl:{movements.DUTY}:")
        assert {n.recipient for n in told} == {people.teacher, other_head}
        assert bystander not in {n.recipient for n in told}
    with time_machine.travel(taipei(2026, 12, 3, 0, 0), tick=False):
        engine.refresh(movements.DUTY)
        engine.run_due()
        state.refresh_from_db()
        assert state.status == "overdue"
        overdue = Notification.objects.filter(dedup_key__contains=":overdue:")
        assert {n.recipient for n in overdue} == {people.teacher, other_head}
        assert all(n.urgent for n in overdue)
        movements.return_movement(m, actor=people.head, condition="良好")
        state.refresh_from_db()
        assert state.status == "ok"


def test_the_reminder_goes_to_the_borrower_and_every_head(people, make_user):
    m = out(people, asset(), borrower=people.other.person)
    head2 = make_user("head2", EQUIPMENT_HEAD)
    make_user("gone", EQUIPMENT_HEAD, is_active=False)
    engine.refresh(movements.DUTY)
    state = ObligationState.objects.get(key=movements.DUTY, subject_id=str(m.pk))
    duty = registry.REGISTRY[movements.DUTY]
    assert set(engine.recipients_for(duty, state, {})) == {people.other, people.head, head2}


def test_requests_not_out_are_not_subjects_of_the_duty(people, notebook):
    file(people.teacher, notebook)
    engine.refresh(movements.DUTY)
    assert not ObligationState.objects.filter(key=movements.DUTY).exists()


def test_the_duty_keeps_a_constant_query_count(people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def refresh():
        with CaptureQueriesContext(connection) as queries:
            engine.refresh(movements.DUTY)
        return len(queries)

    out(people, asset("N-0"))
    refresh()
    few = refresh()
    for n in range(1, 8):
        out(people, asset(f"N-{n}"))
    refresh()
    assert refresh() == few


def test_movements_and_repairs_are_in_the_evidence_binder():
    records = registry.RECORDS["assets.equipmentmovement"]
    assert records.clause == "3.6" and records.date_field == "out_on"
    assert records.obligations == (movements.DUTY,)
    labels = [str(c.label) for c in records.columns]
    for label in ("核准人", "點交人", "歸還時間", "歸還狀況", "點收人"):
        assert label in labels
    repairs = registry.RECORDS["assets.repairvisit"]
    assert repairs.clause == "7.9" and repairs.date_field == "visited_on"


# Pages -------------------------------------------------------------------------------------------
def test_the_list_filters_by_status_asset_and_borrower(people, notebook):
    tablet = asset("31402-001", "平板電腦 iPad", kind="tablet")
    a = file(people.teacher, notebook)
    b = file(people.other, tablet)
    movements.authorise(b, actor=people.head)
    head = client_as(people.head)

    def numbers(**query):
        response = head.get(url("list"), query)
        assert response.status_code == 200
        return {m.number for m in response.context["page_obj"].object_list}

    assert numbers() == {a.number, b.number}
    assert numbers(status="authorised") == {b.number}
    assert numbers(asset=notebook.pk) == {a.number}
    assert numbers(borrower=people.other.person_id) == {b.number}
    assert numbers(q="iPad") == {b.number}
    never = asset("31403-001", "投影機")  # no movement yet: the link from its page is empty
    assert numbers(asset=never.pk) == set()
    html = head.get(url("list")).content.decode()
    assert "平板電腦 iPad" in html and "投影機" not in html.split("</form>")[0]


def test_the_list_query_count_does_not_grow_with_rows(people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    head = client_as(people.head)
    out(people, asset("Q-0"))
    head.get(url("list"))
    with CaptureQueriesContext(connection) as few:
        assert head.get(url("list")).status_code == 200
    for n in range(1, 12):
        m = out(people, asset(f"Q-{n}"))
        if n % 2:
            movements.return_movement(m, actor=people.admin, condition="良好")
    with CaptureQueriesContext(connection) as many:
        assert head.get(url("list")).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(many) <= 16


def test_the_add_form_prefills_from_the_asset_page_link(people):
    pc = asset("31301-001", "教師辦公室電腦", kind="pc")
    c = client_as(people.head)
    page = c.get(url("add")).content.decode()
    assert "教師辦公室電腦" not in page  # a PC is not in the list a teacher picks from
    page = c.get(
        url("add"), {"asset": pc.pk, "repair": "1", "destination": "原廠"}
    ).content.decode()
    assert "教師辦公室電腦" in page and 'value="原廠"' in page and "data-asset" in page
    response = c.post(url("add"), form(pc, borrower=people.head.person_id, repair="on"))
    assert response.status_code == 302
    assert EquipmentMovement.objects.get().reason == "送修：校外教學簡報"


def test_the_asset_list_marks_equipment_out(people, notebook):
    out(people, notebook)
    page = client_as(people.other).get(url("add")).content.decode()
    assert "31401-001 筆記型電腦 ASUS B1（已攜出）" in page


# The paper form ----------------------------------------------------------------------------------
def test_the_print_of_one_movement_fills_its_row_and_the_signatures(people, notebook):
    m = file(people.teacher, notebook, reason="校外教學簡報", destination="臺北市立動物園")
    movements.authorise(m, actor=people.chief)
    with time_machine.travel(NOW + HOUR, tick=False):
        movements.check_out(m, actor=people.head)
    with time_machine.travel(NOW + 2 * DAY, tick=False):
        movements.return_movement(m, actor=people.admin, condition="良好")
    response = client_as(people.teacher).get(url("print", m.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "文件編號：A-7" in html and "設備進出紀錄表" in html
    assert "size: A4 landscape" in html
    for header in (
        "日期",
        "財產編號",
        "設備名稱",
        "攜出人",
        "事由",
        "攜往地點",
        "預定歸還日期",
        "核准人",
        "攜出時間／點交人",
        "歸還時間",
        "歸還狀況",
        "點收人",
    ):
        assert f"<th>{header}</th>" in html
    row = html.split(f'data-number="{m.number}"')[1].split("</tr>")[0]
    for text in (
        "115/11/30",
        "31401-001",
        "筆記型電腦 ASUS B1",
        "測試teacher",
        "校外教學簡報",
        "臺北市立動物園",
        "115/12/03",
        "測試chief",
        "115/11/30 08:00",  # authorised
        "115/11/30 09:00",  # checked out
        "測試head",
        "115/12/02 08:00",  # returned
        "良好",
        "測試admin",
    ):
        assert text in row, text
    assert html.count('<tr class="blank">') == 9  # a sheet of ten lines


def test_a_print_before_the_steps_leaves_the_signatures_empty(people, notebook):
    m = file(people.teacher, notebook)
    html = client_as(people.head).get(url("print", m.pk)).content.decode()
    row = html.split(f'data-number="{m.number}"')[1].split("</tr>")[0]
    assert '<td data-sign="authorised"></td>' in row
    assert '<td data-sign="checked_out"></td>' in row
    assert '<td data-sign="received"></td>' in row


def test_the_log_print_lists_a_date_range(people):
    a = out(people, asset("L-1"))
    with time_machine.travel(dt.datetime(2026, 12, 10, 1, tzinfo=dt.UTC), tick=False):
        b = file(
            people.teacher, asset("L-2"), out_on=dt.date(2026, 12, 10), due_on=dt.date(2026, 12, 11)
        )
        refused = file(
            people.other, asset("L-3"), out_on=dt.date(2026, 12, 10), due_on=dt.date(2026, 12, 11)
        )
        movements.refuse(refused, actor=people.head, note="不需要")
    head = client_as(people.head)
    html = head.get(
        url("log_print"), {"out_from": "115/12/01", "out_to": "115/12/31"}
    ).content.decode()
    assert b.number in html and a.number not in html and refused.number not in html
    assert "攜出日期：115/12/01 至 115/12/31" in html
    html = head.get(
        url("log_print"), {"out_from": "115/11/01", "out_to": "115/12/31"}
    ).content.decode()
    assert html.index(a.number) < html.index(b.number)  # in the order they went out
    html = head.get(url("log_print")).content.decode()  # this month by default
    assert a.number in html and b.number not in html and "115/11/01 至 115/11/30" in html
    html = head.get(
        url("log_print"), {"out_from": "115/12/01", "out_to": "115/12/31", "status": "refused"}
    ).content.decode()
    assert refused.number in html and "不核准：" in html
    bad = head.get(url("log_print"), {"out_from": "115/99/99"})
    assert bad.status_code == 400


def test_the_list_links_the_print_of_its_filters(people, notebook):
    file(people.teacher, notebook)
    html = client_as(people.head).get(url("list"), {"status": "requested"}).content.decode()
    assert f"{url('log_print')}?status=requested" in html


# API ---------------------------------------------------------------------------------------------
def api_client(user):
    _token, key = core_services.token_create(user=user, name="test", actor=user)
    c = Client()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


API = "/api/equipment-movements/"


def api_body(item, **overrides):
    body = {
        "asset": item.pk,
        "reason": "校外教學簡報",
        "destination": "臺北市立動物園",
        "out_on": "2026-11-30",
        "due_on": "115/12/03",
    }
    body.update(overrides)
    return json.dumps(body)


def test_a_teachers_token_files_their_own_request(people, notebook):
    c = api_client(people.teacher)
    last = mark()
    response = c.post(API, api_body(notebook), content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["number"] == "A7-115-0001" and data["status"] == "requested"
    assert data["borrower"] == people.teacher.person_id
    assert data["requested_by"] == people.teacher.pk and data["overdue_days"] == 0
    entry = since(last).get(model_label="assets.equipmentmovement")
    assert entry.action == "create" and entry.actor == people.teacher
    other = c.post(
        API,
        api_body(asset("31401-002"), borrower=people.other.person_id),
        content_type="application/json",
    )
    assert other.status_code == 400 and "borrower" in other.json()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"due_on": "2026-11-29"}, "due_on"),
        ({"out_on": "2026-11-29", "due_on": "2026-11-30"}, "out_on"),
        ({"reason": ""}, "reason"),
        ({"asset": 99999}, "asset"),
        ({"due_on": "115/02/30"}, "due_on"),
    ],
)
def test_the_api_answers_400_with_field_errors(changes, field, people, notebook):
    c = api_client(people.teacher)
    response = c.post(API, api_body(notebook, **changes), content_type="application/json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert EquipmentMovement.objects.count() == 0


def test_the_api_refuses_a_decommissioned_asset_citing_the_clause(people):
    response = api_client(people.teacher).post(
        API, api_body(asset(state="decommissioned")), content_type="application/json"
    )
    assert response.status_code == 400
    assert "條文 3.5、3.6" in response.json()["asset"][0]


@pytest.mark.parametrize("body", ["{not json", json.dumps([1, 2]), json.dumps({})])
def test_the_api_refuses_bodies_that_are_not_a_request(body, people, notebook):
    response = api_client(people.teacher).post(API, body, content_type="application/json")
    assert response.status_code == 400 and isinstance(response.json(), dict)


@pytest.mark.parametrize("role", ROLE_CASES)
def test_the_api_list_by_role_with_the_status_filter(role, client_for, people, notebook):
    a = file(people.teacher, notebook)
    b = file(people.other, asset("31401-002"))
    movements.authorise(b, actor=people.head)
    user = client_for(*roles_for(role)).user
    c = api_client(user)
    response = c.get(API)
    if role not in ALL_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    numbers = {row["number"] for row in response.json()["results"]}
    assert numbers == ({a.number, b.number} if role in READERS else set())
    authorised = c.get(API, {"status": "authorised"}).json()["results"]
    assert [r["number"] for r in authorised] == ([b.number] if role in READERS else [])
    assert c.get(f"{API}{a.pk}/").status_code == (200 if role in READERS else 404)


def test_a_teacher_reads_their_own_through_the_api(people, notebook):
    mine = file(people.teacher, notebook)
    file(people.other, asset("31401-002"))
    c = api_client(people.teacher)
    rows = c.get(API).json()["results"]
    assert [r["number"] for r in rows] == [mine.number]
    before = snapshot(mine)
    body = json.dumps({"due_on": "2026-12-31"})
    assert c.patch(f"{API}{mine.pk}/", body, content_type="application/json").status_code == 403
    head = api_client(people.head)  # not even those who keep the register: 405
    assert head.patch(f"{API}{mine.pk}/", body, content_type="application/json").status_code in (
        403,
        405,
    )
    assert snapshot(mine) == before


def test_the_api_filters_overdue(people, notebook):
    m = out(people, notebook, due_on=TODAY)
    c = api_client(people.head)
    assert c.get(API, {"overdue": "1"}).json()["results"] == []
    with time_machine.travel(NOW + DAY, tick=False):
        rows = c.get(API, {"overdue": "1"}).json()["results"]
        assert [r["number"] for r in rows] == [m.number] and rows[0]["overdue_days"] == 1


# Outside repairs (7.9) ---------------------------------------------------------------------------
@pytest.mark.django_db
class TestRepairVisitRegister(RegisterContract):
    register = RepairVisitRegister
    api_prefix = "repair-visits"
    readers = frozenset(MANAGERS | HANDLERS)
    writers = frozenset(HANDLERS)

    def asset(self):
        found = Asset.objects.filter(property_number="R-1").first()
        return found or asset("R-1", "校務伺服器", kind="server")

    def recorder(self):
        from isms.core.models import User

        return User.objects.filter(username="recorder").first() or User.objects.create_user(
            username="recorder", password="Xk7#pq92mv"
        )

    def make_sample(self, **overrides):
        values = {
            "asset": self.asset(),
            "visited_on": TODAY,
            "party": "宏碁維修",
            "work": "更換電源供應器",
            "recorded_by": self.recorder(),
        }
        values.update(overrides)
        return RepairVisit.objects.create(**values)

    def form_data(self):
        return {
            "asset": self.asset().pk,
            "visited_on": "115/11/30",
            "party": "宏碁維修",
            "work": "更換電源供應器",
            "present": "",
            "data_protection": "",
        }

    def change_data(self, obj):
        return {**self.form_data(), "work": "更換風扇"}

    def api_data(self):
        return {**self.form_data(), "visited_on": "2026-11-30", "present": None}


def personal_server():
    return asset("S-1", "學務系統伺服器", kind="server", stores_personal_data=True)


def repair_form(item, **overrides):
    data = {
        "asset": item.pk,
        "visited_on": "115/11/30",
        "party": "宏碁維修",
        "work": "更換硬碟",
        "present": "",
        "data_protection": "",
    }
    data.update(overrides)
    return data


def test_equipment_with_personal_data_needs_a_person_of_the_school_present(people):
    server = personal_server()
    c = client_as(people.head)
    response = c.post(reverse("assets:repairvisit_add"), repair_form(server))
    assert response.status_code == 400
    html = response.content.decode()
    assert "須指派本校專人在場確保資料安全" in html and "條文 7.9" in html
    assert RepairVisit.objects.count() == 0
    vendor = Person.objects.create(name="廠商小李", kind=Person.Kind.VENDOR, organization="宏碁")
    response = c.post(reverse("assets:repairvisit_add"), repair_form(server, present=vendor.pk))
    assert response.status_code == 400  # a vendor is not offered, nor accepted
    student = Person.objects.create(name="學生小王", kind=Person.Kind.STUDENT)
    gone = Person.objects.create(name="已離職", status=Person.Status.LEFT)
    for who in (student, gone):  # a student, or someone who left, is no one of the school
        visit = RepairVisit(
            asset=server,
            visited_on=TODAY,
            party="宏碁",
            work="更換主機板",
            present=who,
            recorded_by=people.head,
        )
        assert "present" in movements.check_repair(visit)
    response = c.post(
        reverse("assets:repairvisit_add"), repair_form(server, present=people.admin.person_id)
    )
    assert response.status_code == 302
    visit = RepairVisit.objects.get()
    assert visit.present == people.admin.person and visit.recorded_by == people.head
    entry = AuditEntry.objects.filter(model_label="assets.repairvisit").get()
    assert entry.action == "create" and entry.actor == people.head
    page = c.get(visit.get_absolute_url()).content.decode()
    assert "由 測試admin 在場確保資料安全" in page


def test_the_rule_holds_through_the_api_and_for_a_vendor_present(people):
    server = personal_server()
    c = api_client(people.admin)
    body = {"asset": server.pk, "visited_on": "2026-11-30", "party": "宏碁", "work": "韌體更新"}
    response = c.post("/api/repair-visits/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and "7.9" in response.json()["present"][0]
    vendor = Person.objects.create(name="廠商小李", kind=Person.Kind.VENDOR, organization="宏碁")
    response = c.post(
        "/api/repair-visits/",
        json.dumps({**body, "present": vendor.pk}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "不可為委外廠商人員" in response.json()["present"][0]
    response = c.post(
        "/api/repair-visits/",
        json.dumps({**body, "present": people.head.person_id}),
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["recorded_by"] == people.admin.pk


def test_equipment_without_personal_data_needs_no_one_present(people):
    printer = asset("P-1", "雷射印表機", kind="printer")
    response = client_as(people.admin).post(reverse("assets:repairvisit_add"), repair_form(printer))
    assert response.status_code == 302


def test_an_offsite_repair_of_personal_data_states_the_protection(people):
    server = personal_server()
    c = client_as(people.head)
    data = repair_form(server, present=people.admin.person_id, offsite="on")
    response = c.post(reverse("assets:repairvisit_add"), data)
    assert response.status_code == 400
    assert "資料保護措施" in response.content.decode()
    data["data_protection"] = "送修前移除硬碟，由資訊組保管"
    assert c.post(reverse("assets:repairvisit_add"), data).status_code == 302


def test_a_repair_in_the_future_or_of_a_decommissioned_asset_is_refused(people):
    c = client_as(people.head)
    response = c.post(
        reverse("assets:repairvisit_add"), repair_form(asset("P-1"), visited_on="115/12/01")
    )
    assert response.status_code == 400 and "日期不可晚於今天" in response.content.decode()
    gone = asset("P-2", state="decommissioned")
    response = c.post(reverse("assets:repairvisit_add"), repair_form(gone))
    assert response.status_code == 400 and "已報廢" in response.content.decode()
    assert RepairVisit.objects.count() == 0


def test_an_offsite_repair_links_to_filing_its_movement(people):
    server = personal_server()
    visit = RepairVisit.objects.create(
        asset=server,
        visited_on=TODAY,
        party="宏碁維修中心",
        work="主機板更換",
        offsite=True,
        present=people.admin.person,
        data_protection="硬碟已移除",
        recorded_by=people.head,
    )
    c = client_as(people.head)
    page = c.get(visit.get_absolute_url()).content.decode()
    assert "data-offsite" in page
    link = page.split(url("add") + "?")[1].split('"')[0].replace("&amp;", "&")
    form_page = c.get(url("add") + "?" + link).content.decode()
    assert "學務系統伺服器" in form_page and 'value="主機板更換"' in form_page
    assert 'value="宏碁維修中心"' in form_page
    assert re.search(r'<input type="checkbox" name="repair"[^>]* checked', form_page)
    assert 'value="115/11/30"' in form_page
    movements.file_movement(
        actor=people.head,
        asset=server,
        borrower=people.admin.person,
        reason="主機板更換",
        destination="宏碁維修中心",
        out_on=TODAY,
        due_on=TODAY + 7 * DAY,
        repair=True,
    )
    page = c.get(visit.get_absolute_url()).content.decode()
    assert "A7-115-0001" in page


def test_the_repair_list_filters_by_asset_and_current_says_what_is_out(people, notebook):
    printer = asset("P-1", "雷射印表機", kind="printer")
    RepairVisit.objects.create(
        asset=printer, visited_on=TODAY, party="廠商", work="保養", recorded_by=people.head
    )
    head = client_as(people.head)
    listed = head.get(reverse("assets:repairvisit_list"), {"asset": printer.pk})
    assert listed.context["page_obj"].paginator.count == 1
    listed = head.get(reverse("assets:repairvisit_list"), {"asset": notebook.pk})
    assert listed.context["page_obj"].paginator.count == 0
    assert movements.current(notebook) is None
    m = out(people, notebook)
    assert movements.current(notebook) == m


@pytest.mark.parametrize("role", ROLE_CASES)
def test_repair_pages_by_role(role, client_for, people):
    visit = RepairVisit.objects.create(
        asset=asset("P-1"), visited_on=TODAY, party="廠商", work="保養", recorded_by=people.head
    )
    c = client_for(*roles_for(role))
    readable = role in MANAGERS | HANDLERS
    assert c.get(reverse("assets:repairvisit_list")).status_code == (200 if readable else 403)
    assert c.get(visit.get_absolute_url()).status_code == (200 if readable else 403)
    assert c.get(reverse("assets:repairvisit_add")).status_code == (
        200 if role in HANDLERS else 403
    )


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999", "abc", ""])
def test_odd_ids_in_the_address_or_the_form_are_no_500(client_for, value):
    from isms.core.roles import EQUIPMENT_HEAD as HEAD

    c = client_for(HEAD)
    add = reverse("assets:equipmentmovement_add")
    assert c.get(add, {"asset": value, "borrower": value}).status_code == 200
    assert c.post(add, {"asset": value, "borrower": value}).status_code == 400
    assert c.get(reverse("assets:repairvisit_add"), {"asset": value}).status_code == 200
