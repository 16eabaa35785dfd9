"""Awareness (5.2, 8, 2.3, 7.5, 7.7) in a real browser.

Training: the 資安業務承辦人 enters a session, previews a CSV sign-in sheet with a name no
one has and a name two people share — each row is reported with its reason, and applying
it is refused with nothing stored — then applies the corrected XLSX sheet (a title line
above its header) and ticks one more person who left early.

Hours: the yearly report (3 h for everyone, 12 h of 管理/專業 for the officer, as seeded)
marks who is short, by how much and in which unit; 只列未達要求 leaves out who met it.

Talks and self-checks: a 法令宣導 that leaves out 8.3 is refused naming it, with all three
topics it is recorded. The officer names a unit's head, who fills the semester's office
self-check with one 不符合 item (refused without its note): a finding to put right within
30 days, on the check's page, the list of checks 有待改善項目 and the duty.
"""

import datetime as dt
import importlib
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from isms.awareness import selfchecks, training
from isms.awareness.models import (
    Attendance,
    LegalTalk,
    OfficeHead,
    SelfCheck,
    SelfCheckItem,
    SelfCheckResult,
    TrainingRequirement,
    TrainingSession,
)
from isms.compliance.models import ObligationState
from isms.core import roc
from isms.core.models import Person, Unit
from isms.core.roles import SECURITY_OFFICER, STAFF

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TITLE = "115 年度資通安全通識教育訓練"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What the data migration seeds; a transactional test before this one may have flushed it.
DEFAULTS = importlib.import_module("isms.awareness.migrations.0002_defaults")


@pytest.fixture(autouse=True)
def _seeded():
    """The requirements and checklist items as a new installation has them."""
    for role, kinds, hours, notes in DEFAULTS.REQUIREMENTS:
        TrainingRequirement.objects.get_or_create(
            role=role, defaults={"kinds": kinds, "hours": hours, "notes": notes}
        )
    if not SelfCheckItem.objects.exists():
        for order, (text, clause) in enumerate(DEFAULTS.ITEMS, start=1):
            SelfCheckItem.objects.create(text=text, clause=clause, order=order)


def login_in_unit(username, role, name, unit) -> Person:
    """A person of ``unit`` with a login holding ``role`` (staff counted by the report)."""
    person = person_with_login(username, role, name).person
    person.unit = unit
    person.save(update_fields=["unit"])
    return person


def write_csv(path, rows) -> bytes:
    text = "\r\n".join(",".join(cells) for cells in rows) + "\r\n"
    path.write_bytes(text.encode("utf-8-sig"))
    return path.read_bytes()


def write_xlsx(path, rows) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "簽到表"
    for cells in rows:
        sheet.append(list(cells))
    book.save(path)


def preview(page, path):
    """Upload a sign-in sheet from the page's 預覽 form; the preview is drawn."""
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="預覽", exact=True).click()
    expect(page.locator("h1")).to_have_text("匯入簽到表")
    return page.locator("table[data-preview] tbody tr")


def test_a_session_sign_in_sheet_refused_row_by_row_then_applied(live_server, page, tmp_path):
    officer = person_with_login("officer", SECURITY_OFFICER, "吳淑芬")
    academic = Unit.objects.create(name="教務處", code="academic")
    student = Unit.objects.create(name="學務處", code="student")
    info = Unit.objects.create(name="資訊組", code="info")
    wang = Person.objects.create(name="王小明", unit=academic)
    lin = Person.objects.create(name="林美華", unit=student, email="lin@school.edu.tw")
    chen_academic = Person.objects.create(name="陳志明", unit=academic)
    chen_student = Person.objects.create(name="陳志明", unit=student)
    huang = Person.objects.create(name="黃國強", unit=info)
    today = timezone.localdate()

    # The session, entered by the officer.
    sign_in(page, live_server, "officer")
    page.goto(f"{live_server.url}/awareness/trainings/add/")
    page.fill("#id_title", TITLE)
    page.fill("#id_held_on", roc.format_roc(today))
    page.fill("#id_hours", "2")
    page.select_option("#id_kind", "awareness")
    page.fill("#id_organizer", "資訊組")
    page.fill("#id_location", "圖書館視聽室")
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/awareness/trainings/\d+/$"))
    session = TrainingSession.objects.get()
    assert (session.title, session.held_on, session.hours) == (TITLE, today, Decimal("2"))
    assert (session.kind, session.organizer, session.location) == (
        "awareness",
        "資訊組",
        "圖書館視聽室",
    )
    session_url = f"{live_server.url}{session.get_absolute_url()}"
    expect(page.locator("[data-attendances] tbody")).to_contain_text("尚未登錄出席人員。")

    # The sign-in sheet as typed up after the session: a guest who is not on the staff,
    # and 陳志明 without a unit, when two 陳志明 work at the school.
    sheet = write_csv(
        tmp_path / "簽到表.csv",
        [
            ("姓名", "單位", "電子郵件"),
            ("王小明", "教務處", ""),
            ("林美華", "", "lin@school.edu.tw"),
            ("陳志明", "", ""),
            ("張無忌", "總務處", ""),
        ],
    )
    sheet.decode("utf-8")  # a real UTF-8 file (with its BOM, as Excel writes it)
    rows = preview(page, tmp_path / "簽到表.csv")
    expect(rows).to_have_count(4)
    main = page.locator("main")
    expect(main).to_contain_text("可登錄 2 位出席人員。")
    expect(main).to_contain_text("2 行無法對應到人員：請修正簽到表後重新上傳，或勾選略過。")
    expect(main).to_contain_text("編碼：UTF-8（BOM）")
    expect(page.locator("tr[data-line='2']")).to_contain_text("王小明（教務處）")
    expect(page.locator("tr[data-line='3']")).to_contain_text("林美華（學務處）")
    ambiguous = page.locator("tr[data-line='4']")
    expect(ambiguous).to_have_class(re.compile(r"\btable-danger\b"))
    expect(ambiguous.locator("[data-reason]")).to_have_text(
        "有多位同名的在職人員，單位或電子郵件無法分辨。"
    )
    unknown = page.locator("tr[data-line='5']")
    expect(unknown).to_have_class(re.compile(r"\btable-danger\b"))
    expect(unknown).to_contain_text("總務處")
    expect(unknown.locator("[data-reason]")).to_have_text("找不到此姓名的在職人員。")
    expect(page.locator("table[data-preview] input[name=skip]")).to_have_count(2)

    # Applying it as it is: refused, nothing stored, each row still shown with its reason.
    page.get_by_role("button", name="登錄出席").click()
    expect(page.locator("[data-sheet-errors]")).to_have_text(
        "第 4、5 行無法對應到人員；請修正簽到表後重新上傳，或勾選略過這些行（條文 5.2）。"
    )
    assert not Attendance.objects.exists()
    expect(rows).to_have_count(4)
    expect(page.locator("tr[data-line='4'] [data-reason]")).to_have_attribute(
        "data-reason", "ambiguous"
    )
    expect(page.locator("tr[data-line='5'] [data-reason]")).to_have_attribute(
        "data-reason", "unknown"
    )
    shot(page, "36-training-sheet-refused")

    # The corrected sheet, as a workbook with a title above its header: 陳志明 of 學務處,
    # and the guest left out.
    write_xlsx(
        tmp_path / "簽到表（更正）.xlsx",
        [
            (f"{TITLE} 簽到表",),
            (),
            ("姓名", "單位", "電子郵件"),
            ("王小明", "教務處", None),
            ("林美華", None, "lin@school.edu.tw"),
            ("陳志明", "學務處", None),
        ],
    )
    rows = preview(page, tmp_path / "簽到表（更正）.xlsx")
    expect(rows).to_have_count(3)
    expect(main).to_contain_text("可登錄 3 位出席人員。")
    expect(main).not_to_contain_text("無法對應到人員")
    expect(page.locator("tr[data-line='6']")).to_contain_text("陳志明（學務處）")
    expect(page.locator("table[data-preview] .table-danger")).to_have_count(0)
    assert not Attendance.objects.exists()  # a preview writes nothing
    page.get_by_role("button", name="登錄出席").click()
    page.wait_for_url(session_url)
    expect(page.locator(".alert-success")).to_contain_text("已由簽到表登錄 3 位出席人員。")
    stored = {a.person_id: a for a in Attendance.objects.filter(session=session)}
    assert set(stored) == {wang.pk, lin.pk, chen_student.pk}
    assert chen_academic.pk not in stored
    assert {a.hours for a in stored.values()} == {Decimal("2")}
    assert {a.recorded_by for a in stored.values()} == {officer}

    # One more, ticked by hand: 黃國強 came, and left after an hour and a half.
    attend = page.locator("#attend")
    page.fill("#people-filter", "黃")
    expect(page.locator("#id_people option:not([hidden])")).to_have_count(1)
    page.select_option("#id_people", value=str(huang.pk))
    page.fill("#id_hours", "1.5")
    attend.get_by_role("button", name="登錄出席").click()
    page.wait_for_url(session_url)
    expect(page.locator(".alert-success")).to_contain_text(f"已登錄「{session}」的出席人員。")
    ticked = Attendance.objects.get(session=session, person=huang)
    assert (ticked.hours, ticked.recorded_by) == (Decimal("1.5"), officer)
    assert Attendance.objects.filter(session=session).count() == 4

    # The session's attendance: four people, the one who left early in a warning colour.
    listed = page.locator("[data-attendances] tbody tr")
    expect(listed).to_have_count(4)
    expect(page.locator("#attendance .badge")).to_have_text("4")
    expect(page.locator(f"tr[data-person='{huang.pk}']")).to_contain_text("資訊組")
    expect(page.locator(f"tr[data-person='{huang.pk}'] .text-warning-emphasis")).to_have_text("1.5")
    expect(page.locator(f"tr[data-person='{chen_student.pk}']")).to_contain_text("學務處")
    expect(page.locator(f"tr[data-person='{chen_academic.pk}']")).to_have_count(0)
    # Who is recorded is no longer offered for ticking: the other 陳志明 and the officer.
    offered = page.locator("#id_people option")
    expect(offered).to_have_count(2)
    assert sorted(offered.all_inner_texts()) == sorted(["吳淑芬", "陳志明（教務處）"])
    shot(page, "37-training-attendance")


def test_the_hours_report_shows_who_is_short(live_server, page):
    academic = Unit.objects.create(name="教務處", code="academic")
    info = Unit.objects.create(name="資訊組", code="info")
    officer_person = login_in_unit("officer", SECURITY_OFFICER, "吳淑芬", info)
    officer = officer_person.user
    wang = login_in_unit("wang", STAFF, "王小明", academic)
    lin = login_in_unit("lin", STAFF, "林美華", academic)
    huang = login_in_unit("huang", STAFF, "黃國強", info)
    today = timezone.localdate()

    def held(title, hours, kind, people):
        session = training.save_session(
            TrainingSession(title=title, held_on=today, hours=Decimal(hours), kind=kind),
            actor=officer,
        )
        training.record_attendance(session, people, actor=officer)
        return session

    held(TITLE, "3", "awareness", [officer_person, wang, huang])
    held("個人資料保護實務研習", "1.5", "awareness", [lin])
    held("資安事件通報應變演練", "6", "professional", [officer_person])
    assert TrainingRequirement.objects.get(role="").hours == Decimal("3")
    assert TrainingRequirement.objects.get(role=SECURITY_OFFICER).hours == Decimal("12")

    sign_in(page, live_server, "officer")
    page.goto(f"{live_server.url}/awareness/trainings/hours/")
    expect(page.locator("h1")).to_have_text(f"教育訓練時數統計（{roc.roc_year(today)} 年）")
    main = page.locator("main")
    expect(main).to_contain_text("共 4 人，未達要求 2 人。")

    # Per unit: one short in each.
    expect(page.locator(f"[data-units] tr[data-unit='{academic.pk}'] [data-short]")).to_have_text(
        "1"
    )
    expect(page.locator(f"[data-units] tr[data-unit='{info.pk}'] [data-short]")).to_have_text("1")
    expect(page.locator(f"[data-units] tr[data-unit='{info.pk}']")).to_contain_text("12")

    def row(person):
        return page.locator(f"[data-people] tr[data-person='{person.pk}']")

    # 林美華: 1.5 of 3 hours.
    expect(row(lin)).to_have_class(re.compile(r"\btable-warning\b"))
    short = row(lin).locator("[data-requirement=all]")
    expect(short).to_have_attribute("data-met", "0")
    expect(short).to_contain_text("全體教職員 1.5/3")
    expect(short.locator(".badge")).to_have_text("差 1.5 小時")
    # The officer: the 3 hours for everyone met, 6 of the officer's 12 short.
    expect(row(officer_person)).to_have_class(re.compile(r"\btable-warning\b"))
    expect(row(officer_person).locator("[data-requirement=all] .badge")).to_have_text("已達成")
    own = row(officer_person).locator(f"[data-requirement={SECURITY_OFFICER}]")
    expect(own).to_have_attribute("data-met", "0")
    expect(own).to_contain_text("6/12")
    expect(own.locator(".badge")).to_have_text("差 6 小時")
    expect(row(officer_person).locator("td").nth(5)).to_have_text("9")  # 合計
    # 王小明 and 黃國強 met theirs.
    for person in (wang, huang):
        expect(row(person)).not_to_have_class(re.compile(r"\btable-warning\b"))
        expect(row(person).locator("[data-requirement=all]")).to_have_attribute("data-met", "1")
        expect(row(person).locator("[data-requirement=all] .badge")).to_have_text("已達成")
        expect(row(person).locator(f"[data-requirement={SECURITY_OFFICER}]")).to_have_count(0)
    shot(page, "38-training-hours")

    # Only those short, in 教務處: 林美華, not 王小明.
    page.select_option("#id_unit", str(academic.pk))
    page.check("#id_short")
    page.get_by_role("button", name="查詢").click()
    page.wait_for_url(re.compile(r"/awareness/trainings/hours/\?.*short=on"))
    listed = page.locator("[data-people] tbody tr")
    expect(listed).to_have_count(1)
    expect(row(lin)).to_contain_text("林美華")
    expect(row(wang)).to_have_count(0)
    expect(main).to_contain_text("共 2 人，未達要求 1 人。")

    # The same for the whole school: the officer and 林美華.
    page.select_option("#id_unit", "")
    page.get_by_role("button", name="查詢").click()
    expect(listed).to_have_count(2)
    expect(listed.locator("td:first-child")).to_have_text(["林美華", "吳淑芬"])


def test_a_legal_talk_needs_all_three_topics_and_a_self_check_finding(live_server, page):
    officer = person_with_login("officer", SECURITY_OFFICER, "吳淑芬")
    academic = Unit.objects.create(name="教務處", code="academic")
    head = login_in_unit("dean", STAFF, "張文彬", academic).user
    today = timezone.localdate()

    # 法令宣導 at the assembly, 8.3 left out: refused, naming it.
    sign_in(page, live_server, "officer")
    page.goto(f"{live_server.url}/awareness/legal-talks/add/")
    expect(page.locator("#id_held_on")).to_have_value(roc.format_roc(today))
    page.fill("#id_occasion", "全校週會")
    page.fill("#id_audience", "全校師生")
    page.fill("#id_audience_count", "1180")
    page.fill("#id_presenter", "吳淑芬")
    page.get_by_label("智慧財產權（8.1）", exact=True).check()
    page.get_by_label("個人資料保護及隱私（8.2）", exact=True).check()
    page.fill("#id_summary", "下載與分享影音的著作權、社群媒體上的個資保護。")
    page.get_by_role("button", name="儲存").click()
    alert = page.locator("main .alert-danger")
    expect(alert).to_contain_text("請修正下列欄位的錯誤，資料尚未儲存。")
    expect(alert).to_contain_text(
        "本次宣導未包含：刑法妨害電腦使用罪章（8.3）。條文 8 要求宣導 8.1、8.2、8.3 三項法令。"
    )
    expect(page.locator("#id_covers_computer_crime ~ .invalid-feedback")).to_have_text(
        "宣導須包含「刑法妨害電腦使用罪章（8.3）」（條文 8 要求三項法令皆須宣導）。"
    )
    expect(page.locator("main .invalid-feedback")).to_have_count(1)
    assert not LegalTalk.objects.exists()
    expect(page.locator("#id_covers_ip")).to_be_checked()  # what was ticked is kept
    expect(page.locator("#id_occasion")).to_have_value("全校週會")

    # With all three: recorded, by the officer.
    page.get_by_label("刑法妨害電腦使用罪章（8.3）", exact=True).check()
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/awareness/legal-talks/\d+/$"))
    talk = LegalTalk.objects.get()
    assert (talk.held_on, talk.occasion, talk.audience) == (today, "全校週會", "全校師生")
    assert (talk.audience_count, talk.presenter, talk.recorded_by) == (1180, "吳淑芬", officer)
    assert talk.covers_ip and talk.covers_privacy and talk.covers_computer_crime
    topics = page.locator("[data-topics] div")
    expect(topics).to_have_text(
        [
            re.compile("智慧財產權（8.1）"),
            re.compile("個人資料保護及隱私（8.2）"),
            re.compile("刑法妨害電腦使用罪章（8.3）"),
        ]
    )
    expect(page.locator("[data-topics] .text-danger")).to_have_count(0)

    # The officer names who fills 教務處's self-check.
    page.goto(f"{live_server.url}/awareness/office-heads/add/")
    page.select_option("#id_unit", str(academic.pk))
    page.select_option("#id_user", str(head.pk))
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/awareness/office-heads/\d+/$"))
    assert OfficeHead.objects.get().unit == academic and OfficeHead.objects.get().user == head

    # The head fills the semester's check: the screen-lock item 不符合, without its note.
    items = list(SelfCheckItem.objects.filter(active=True).order_by("order", "id"))
    assert len(items) == 4
    failing = next(item for item in items if item.clause == "2.3.2")
    sign_in(page, live_server, "dean")
    page.goto(f"{live_server.url}/awareness/self-checks/add/")
    expect(page.locator("#id_unit")).to_have_value(str(academic.pk))  # the one unit headed
    expect(page.locator("#id_checked_on")).to_have_value(roc.format_roc(today))
    checklist = page.locator("[data-checklist]")
    for item in items:
        line = checklist.locator(f"tr[data-item='{item.pk}']")
        expect(line).to_contain_text(item.text)
        line.get_by_label("不符合" if item == failing else "符合", exact=True).check()
    page.fill("#id_note", "本學期期末由教務主任巡查教務處各辦公桌。")
    page.get_by_role("button", name="儲存").click()
    failing_line = checklist.locator(f"tr[data-item='{failing.pk}']")
    expect(failing_line.locator(".invalid-feedback")).to_have_text(
        "「不符合」時請說明情形，以便追蹤改善（條文 2.3.2）。"
    )
    expect(checklist.locator(".invalid-feedback")).to_have_count(1)
    assert not SelfCheck.objects.exists()
    expect(failing_line.get_by_label("不符合", exact=True)).to_be_checked()
    note = "註冊組 2 台電腦未設定螢幕保護密碼，離座時畫面顯示學籍資料。"
    failing_line.locator(f"#id_item_note_{failing.pk}").fill(note)
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/awareness/self-checks/\d+/$"))

    check = SelfCheck.objects.get()
    term = roc.term_for_school(today)
    assert (check.unit, check.filled_by, check.checked_on) == (academic, head, today)
    assert (check.school_year, check.term) == (term.school_year, term.semester)
    results = {r.item_id: r for r in SelfCheckResult.objects.filter(check_record=check)}
    assert set(results) == {item.pk for item in items}
    finding = results.pop(failing.pk)
    assert (finding.ok, finding.note, finding.resolved_at) == (False, note, None)
    assert all(r.ok for r in results.values())

    # A finding to follow up: on the check's page, with its form and its deadline.
    due = selfchecks.fix_due(today)
    expect(page.locator("main")).to_contain_text(roc.format_roc(due))
    line = page.locator(f"#results tr[data-result='{finding.pk}']")
    expect(line.locator(".badge").first).to_have_text("不符合")
    expect(line).to_contain_text(note)
    expect(line.locator(".badge").last).to_have_text("待改善")
    expect(line.get_by_role("button", name="登錄改善情形")).to_be_visible()
    expect(page.locator("#results .text-bg-success")).to_have_count(3)
    shot(page, "39-self-check-finding")

    # …and the duty: put right by the end of the 30th day after the check.
    state = ObligationState.objects.get(key=selfchecks.FINDING_DUTY)
    assert state.subject_id == str(finding.pk)
    assert state.last_done_at is None
    assert timezone.localtime(state.next_due_at) == timezone.make_aware(
        dt.datetime.combine(due, dt.time(23, 59, 59))
    )

    # The officer finds it among the checks with something to put right.
    sign_in(page, live_server, "officer")
    page.goto(f"{live_server.url}/awareness/self-checks/")
    page.select_option("#id_pending", "yes")
    page.get_by_role("button", name="篩選", exact=True).click()
    page.wait_for_url(re.compile(r"/awareness/self-checks/\?.*pending=yes"))
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    for text in ("教務處", f"{term.school_year}學年度第{term.semester}學期", "張文彬"):
        expect(rows.first).to_contain_text(text)
    expect(rows.first.locator("td").nth(4)).to_have_text("1")  # 不符合項目
    expect(rows.first.locator("td").nth(5)).to_have_text("1")  # 待改善
