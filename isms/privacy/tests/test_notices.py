"""Activity notices (活動個資告知事項; clause 7.3; PDPA art. 8): the register per role, who
may write for which unit, the rules with their messages, one audit entry per write, the
generated notice (six items, names published, consent line), and the print and copy views."""

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.awareness.models import OfficeHead
from isms.core.models import SchoolProfile, Unit, User
from isms.core.roles import ALL_ROLES, GUARD, SECURITY_OFFICER, STAFF, SYSADMIN
from isms.core.testing import RegisterContract
from isms.privacy import notices
from isms.privacy.models import ActivityNotice, CategoryCode
from isms.privacy.views_notices import NoticeRegister

from . import helpers
from .helpers import client_as, frozen_at, purpose

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # 115/11/30 10:00 in Taipei
_frozen = frozen_at(NOW)
_n = {"n": 0}
SCHOOL = "新北市穀保高級家事商業職業學校"
OFFICER = frozenset({SECURITY_OFFICER})


@pytest.fixture(autouse=True)
def _school():
    profile = SchoolProfile.load()
    profile.name = SCHOOL
    profile.save()


def category(code="C001", name="辨識個人者", active=True) -> CategoryCode:
    return helpers.category(code, name, active, group="識別類")


def unit_of(name=None) -> Unit:
    return helpers.unit_of(name, prefix="n")


def login(name, *roles, unit=None, **fields) -> User:
    return helpers.member(name, *roles, unit=unit, extension="231", **fields)


def fields(**overrides) -> dict:
    values = {
        "activity": "115 學年度校慶園遊會報名",
        "purpose": "辦理園遊會攤位報名、分組及活動聯繫",
        "period": "自報名日起至活動結束後一年",
        "area": "中華民國境內",
        "recipients": "本校及活動協辦之家長會",
        "method": "報名聯繫、攤位安排，公布攤位負責人名單（班級、姓名）",
        "consequence": "若不提供完整資料，將無法完成報名",
        "contact": "學務處訓育組 王老師（分機 231）",
        "held_from": dt.date(2026, 12, 19),
        "held_to": dt.date(2026, 12, 19),
    }
    values.update(overrides)
    return values


def make_notice(actor, unit, *, categories=None, purposes=None, **overrides) -> ActivityNotice:
    return notices.save_notice(
        ActivityNotice(unit=unit, **fields(**overrides)),
        actor=actor,
        categories=[category()] if categories is None else categories,
        purposes=[purpose()] if purposes is None else purposes,
    )


def errors_of(actor, unit, **kw) -> dict:
    with pytest.raises(ValidationError) as caught:
        make_notice(actor, unit, **kw)
    return caught.value.message_dict


def url(name, *args):
    return reverse(f"privacy:activitynotice_{name}", args=args)


def form_data(unit, **overrides) -> dict:
    data = {
        **fields(),
        "unit": unit.pk,
        "held_from": "115/12/19",
        "held_to": "115/12/19",
        "categories": [category().pk],
        "purposes": [purpose().pk],
    }
    data.update(overrides)
    return data


@pytest.fixture
def officer():
    return login("officer", SECURITY_OFFICER)


@pytest.fixture
def unit():
    return unit_of("學生事務處")


@pytest.fixture
def teacher(unit):
    return login("teacher", STAFF, unit=unit)


# The register per role -------------------------------------------------------------------------
class TestNoticeRegister(RegisterContract):
    register = NoticeRegister
    api_prefix = "activity-notices"
    readers = frozenset(ALL_ROLES)
    # Anyone with a role writes for their own unit; the contract's people belong to none,
    # so only the officer (any unit) writes here. Their own-unit writing is tested below.
    writers = OFFICER
    voiders = OFFICER

    def make_sample(self, **overrides):
        _n["n"] += 1
        creator = login(f"creator{_n['n']}", STAFF)
        notice = ActivityNotice.objects.create(
            unit=unit_of(), created_by=creator, **fields(**overrides)
        )
        notice.categories.add(category())
        return notice

    def form_data(self):
        return form_data(unit_of())

    def change_data(self, obj):
        return form_data(obj.unit, activity=obj.activity + "（更正）")

    def api_data(self):
        return {
            **fields(held_from="2026-12-19", held_to="2026-12-19"),
            "unit": unit_of().pk,
            "categories": [category().pk],
            "purposes": [purpose().pk],
        }


# Who writes for which unit -----------------------------------------------------------------------
def test_a_member_of_staff_writes_the_notice_of_their_own_unit(teacher, unit):
    c = client_as(teacher)
    assert c.get(url("add")).status_code == 200
    response = c.post(url("add"), form_data(unit))
    assert response.status_code == 302
    notice = ActivityNotice.objects.get()
    assert notice.created_by == teacher and notice.unit == unit


def test_a_member_of_staff_may_not_write_for_another_unit(teacher):
    other = unit_of("教務處")
    response = client_as(teacher).post(url("add"), form_data(other))
    assert response.status_code == 400
    assert not ActivityNotice.objects.exists()
    # The picker does not offer it either; the service says why when asked directly.
    assert "您只能為自己所屬的單位" in errors_of(teacher, other)["unit"][0]


def test_the_head_of_a_unit_writes_for_the_unit_they_head(unit):
    head = login("head", STAFF)
    OfficeHead.objects.create(unit=unit, user=head)
    assert make_notice(head, unit).unit == unit


def test_the_officer_writes_for_any_unit(officer):
    assert make_notice(officer, unit_of("輔導室")).created_by == officer


def test_someone_of_no_unit_is_told_why_they_cannot_write(client_for):
    c = client_for(GUARD)
    response = c.get(url("add"))
    assert response.status_code == 403
    assert "沒有所屬單位" in response.content.decode()
    with pytest.raises(PermissionDenied):
        make_notice(c.user, unit_of())


def test_a_person_without_a_role_cannot_open_the_add_page(client_for):
    assert client_for().get(url("add")).status_code == 403


def test_an_inactive_unit_is_refused(officer):
    closed = unit_of("已裁撤組")
    closed.is_active = False
    closed.save()
    assert "已停用" in errors_of(officer, closed)["unit"][0]


def test_the_creator_corrects_and_voids_their_notice(teacher, unit):
    notice = make_notice(teacher, unit)
    c = client_as(teacher)
    assert c.get(url("edit", notice.pk)).status_code == 200
    response = c.post(url("edit", notice.pk), form_data(unit, activity="校慶園遊會（更正）"))
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.activity == "校慶園遊會（更正）"
    response = c.post(url("void", notice.pk), {"reason": "活動取消"})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.voided_at is not None and notice.voided_by == teacher


def test_a_colleague_may_read_but_not_change_or_void_it(teacher, unit):
    notice = make_notice(teacher, unit)
    colleague = client_as(login("colleague", STAFF, unit=unit))
    assert colleague.get(url("detail", notice.pk)).status_code == 200
    assert colleague.get(url("edit", notice.pk)).status_code == 403
    assert colleague.post(url("edit", notice.pk), form_data(unit)).status_code == 403
    assert colleague.post(url("void", notice.pk), {"reason": "不要了"}).status_code == 403
    notice.refresh_from_db()
    assert notice.voided_at is None
    page = colleague.get(url("detail", notice.pk)).content.decode()
    assert url("edit", notice.pk) not in page and url("void", notice.pk) not in page


def test_a_colleague_is_refused_through_the_api_too(teacher, unit):
    notice = make_notice(teacher, unit)
    from isms.core import services as core_services

    colleague = login("colleague", STAFF, unit=unit)
    _token, key = core_services.token_create(user=colleague, name="t", actor=colleague)
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    from django.test import Client

    c = Client()
    body = json.dumps({"activity": "改名"})
    response = c.patch(
        f"/api/activity-notices/{notice.pk}/", body, content_type="application/json", **headers
    )
    assert response.status_code == 404  # a change reaches only one's own notices
    void = c.post(
        f"/api/activity-notices/{notice.pk}/void/",
        json.dumps({"reason": "不要了"}),
        content_type="application/json",
        **headers,
    )
    assert void.status_code == 403


def test_a_colleague_with_notices_of_their_own_is_kept_off_anothers(teacher, unit):
    from django.core.files.uploadedfile import SimpleUploadedFile

    notice = make_notice(teacher, unit)
    colleague = login("colleague", STAFF, unit=unit)
    make_notice(colleague, unit, activity="他自己的活動")
    c = client_as(colleague)
    assert c.get(url("edit", notice.pk)).status_code == 404
    attach = reverse("core:attachment_add", args=["privacy.activitynotice", notice.pk])
    upload = SimpleUploadedFile("scan.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    assert c.post(attach, {"file": upload, "description": "x"}).status_code in (403, 404)
    from isms.core import services as core_services

    assert not core_services.attachments_for(notice).exists()


def test_the_officer_corrects_anyones_notice(teacher, unit, officer):
    notice = make_notice(teacher, unit)
    response = client_as(officer).post(url("edit", notice.pk), form_data(unit, area="臺灣地區"))
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.area == "臺灣地區"


def test_a_voided_notice_is_not_edited(teacher, unit):
    notice = make_notice(teacher, unit)
    notices.void_notice(notice, actor=teacher, reason="重複建立")
    assert client_as(teacher).get(url("edit", notice.pk)).status_code == 403
    with pytest.raises(ValidationError):
        notices.save_notice(notice, actor=teacher, categories=[category()])


# The rules ------------------------------------------------------------------------------------
REQUIRED = [
    ("activity", "活動名稱"),
    ("purpose", "個資法第 8 條第 1 項第 2 款"),
    ("period", "個資法第 8 條第 1 項第 4 款"),
    ("area", "條文 7.3"),
    ("recipients", "個資法第 8 條第 1 項第 4 款"),
    ("method", "個資法第 8 條第 1 項第 4 款"),
    ("contact", "個資法第 8 條第 1 項第 5 款"),
    ("consequence", "個資法第 8 條第 1 項第 6 款"),
]


@pytest.mark.parametrize(("name", "cited"), REQUIRED)
def test_every_item_of_article_8_is_required(officer, unit, name, cited):
    errors = errors_of(officer, unit, **{name: "   "})
    assert cited in errors[name][0]
    assert not ActivityNotice.objects.exists()


def test_the_unit_is_required(officer):
    with pytest.raises(ValidationError) as caught:
        notices.save_notice(
            ActivityNotice(**fields()), actor=officer, categories=[category()], purposes=[]
        )
    assert "機關名稱" in caught.value.message_dict["unit"][0]


def test_at_least_one_category(officer, unit):
    errors = errors_of(officer, unit, categories=[])
    assert "請至少選擇一項個人資料類別" in errors["categories"][0]
    assert "第 8 條" in errors["categories"][0]


def test_the_purpose_codes_are_optional(officer, unit):
    assert make_notice(officer, unit, purposes=[]).purposes.count() == 0


def test_the_last_day_is_not_before_the_first(officer, unit):
    errors = errors_of(
        officer, unit, held_from=dt.date(2026, 12, 20), held_to=dt.date(2026, 12, 19)
    )
    assert errors["held_to"] == ["活動迄日不可早於活動起日。"]


def test_a_one_day_activity_and_no_dates_are_fine(officer, unit):
    assert make_notice(officer, unit).pk
    assert make_notice(officer, unit, held_from=None, held_to=None).pk


@pytest.mark.parametrize(("name", "limit"), [("activity", 200), ("purpose", 1000), ("area", 200)])
def test_texts_are_within_their_limits(officer, unit, name, limit):
    assert make_notice(officer, unit, **{name: "字" * limit}).pk
    errors = errors_of(officer, unit, **{name: "字" * (limit + 1)})
    assert f"最多 {limit} 個字" in errors[name][0]


def test_a_retired_code_is_refused_when_newly_chosen(officer, unit):
    old = category("C099", "已停用類別", active=False)
    assert "已停用" in errors_of(officer, unit, categories=[category(), old])["categories"][0]


def test_a_retired_code_kept_from_before_does_not_block_a_correction(officer, unit):
    kept = category("C052", "資格或技術")
    notice = make_notice(officer, unit, categories=[kept])
    kept.is_active = False
    kept.save()
    notice.activity = "更正名稱"
    notices.save_notice(notice, actor=officer, categories=[kept], purposes=[])
    notice.refresh_from_db()
    assert notice.activity == "更正名稱"


def test_the_pickers_offer_only_active_codes(teacher):
    category()
    category("C098", "停用的類別", active=False)
    purpose("998", "停用的目的", active=False)
    page = client_as(teacher).get(url("add")).content.decode()
    assert "C001 辨識個人者" in page
    assert "停用的類別" not in page and "停用的目的" not in page


def test_the_form_refuses_in_chinese_and_saves_nothing(teacher, unit):
    data = form_data(unit, categories=[], contact="", held_from="115/12/20", held_to="115/12/19")
    response = client_as(teacher).post(url("add"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "請至少選擇一項個人資料類別" in page
    assert "請填寫聯絡窗口" in page
    assert "活動迄日不可早於活動起日" in page
    assert not ActivityNotice.objects.exists()


def test_the_api_refuses_with_field_errors(officer, unit):
    from django.test import Client

    from isms.core import services as core_services

    _token, key = core_services.token_create(user=officer, name="t", actor=officer)
    body = {**fields(held_from="2026-12-19", held_to="2026-12-18"), "unit": unit.pk}
    response = Client().post(
        "/api/activity-notices/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 400
    assert "categories" in response.json() and "held_to" in response.json()
    assert not ActivityNotice.objects.exists()


def test_the_form_starts_with_the_area_and_the_consequence(teacher):
    form = client_as(teacher).get(url("add")).context["form"]
    assert form.initial["area"] == "中華民國境內"
    assert "無法受理您的報名" in form.initial["consequence"]
    assert "teacher老師" in form.initial["contact"] and "231" in form.initial["contact"]
    assert form.initial["unit"] == teacher.person.unit_id


# The audit trail ----------------------------------------------------------------------------------
def test_a_notice_and_its_codes_are_one_audit_entry_naming_the_creator(teacher, unit):
    before = AuditEntry.objects.count()
    notice = make_notice(teacher, unit, categories=[category(), category("C051", "學校紀錄")])
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert len(entries) == 1
    entry = entries[0]
    assert entry.action == "create" and entry.actor_id == teacher.pk
    assert entry.object_id == str(notice.pk)
    assert entry.changes["categories"] == [None, ["C001 辨識個人者", "C051 學校紀錄"]]
    assert entry.changes["purposes"] == [None, ["109 教育或訓練行政"]]


def test_a_correction_is_one_entry_with_what_changed(teacher, unit):
    notice = make_notice(teacher, unit)
    before = AuditEntry.objects.count()
    notice.period = "至活動結束後六個月"
    notices.save_notice(
        notice, actor=teacher, categories=[category("C051", "學校紀錄")], purposes=[]
    )
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert len(entries) == 1 and entries[0].action == "update"
    changes = entries[0].changes
    assert changes["period"] == ["自報名日起至活動結束後一年", "至活動結束後六個月"]
    assert changes["categories"] == [["C001 辨識個人者"], ["C051 學校紀錄"]]
    assert changes["purposes"] == [["109 教育或訓練行政"], None]
    assert list(notice.categories.values_list("code", flat=True)) == ["C051"]


def test_an_unchanged_save_writes_nothing(teacher, unit):
    notice = make_notice(teacher, unit)
    before = AuditEntry.objects.count()
    notices.save_notice(notice, actor=teacher, categories=[category()], purposes=[purpose()])
    assert AuditEntry.objects.count() == before


def test_voiding_is_audited_with_the_actor(teacher, unit):
    notice = make_notice(teacher, unit)
    notices.void_notice(notice, actor=teacher, reason="活動取消")
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.action == "void" and entry.actor_id == teacher.pk and entry.message == "活動取消"


# The generated notice -------------------------------------------------------------------------
def test_the_notice_has_the_six_items_of_article_8(officer, unit):
    student_records = purpose("158", "學生(員)(含畢、結業生)資料管理")
    notice = make_notice(
        officer,
        unit,
        categories=[category("C051", "學校紀錄"), category()],
        purposes=[purpose(), student_records],
    )
    text = notices.full_text(notice)
    assert text.startswith("「115 學年度校慶園遊會報名」個人資料蒐集告知事項\n")
    assert f"{SCHOOL}（以下簡稱本校）為辦理「115 學年度校慶園遊會報名」" in text
    assert "依個人資料保護法第 8 條規定" in text
    assert f"一、機關名稱：{SCHOOL}（主辦單位：學生事務處）" in text
    assert (
        "二、蒐集目的：辦理園遊會攤位報名、分組及活動聯繫"
        f"（特定目的：109 教育或訓練行政、{student_records}）。"
    ) in text
    assert "三、個人資料類別：C001 辨識個人者、C051 學校紀錄。" in text
    assert "四、個人資料利用之期間、地區、對象及方式：" in text
    for line in (
        "（一）期間：自報名日起至活動結束後一年",
        "（二）地區：中華民國境內",
        "（三）對象：本校及活動協辦之家長會",
        "（四）方式：報名聯繫、攤位安排，公布攤位負責人名單（班級、姓名）",
    ):
        assert line in text
    assert "依個人資料保護法第 3 條規定" in text
    for right in (
        "查詢或請求閱覽",
        "請求製給複製本",
        "請求補充或更正",
        "請求停止蒐集、處理或利用",
        "請求刪除",
    ):
        assert right in text
    assert "如欲行使上述權利，請洽學務處訓育組 王老師（分機 231）。" in text
    assert "六、不提供之影響：若不提供完整資料，將無法完成報名。" in text
    assert (
        f"□ 本人已閱讀並同意上述「115 學年度校慶園遊會報名」個人資料蒐集告知事項，同意{SCHOOL}"
        in text
    )


def test_publishing_names_adds_the_sentence_and_the_consent(officer, unit):
    quiet = make_notice(officer, unit)
    loud = make_notice(officer, unit, publishes_names=True)
    assert "公布部分個人資料" not in notices.full_text(quiet)
    text = notices.full_text(loud)
    assert "（五）公布：本活動將公布部分個人資料（例如：姓名）" in text
    assert "並同意公布部分個人資料（例如：姓名）。" in text
    assert "本活動將公布部分個人資料（例如：姓名）" in notices.short_text(loud)


def test_the_school_name_comes_from_the_profile(officer, unit):
    notice = make_notice(officer, unit)
    profile = SchoolProfile.load()
    profile.name = "臺北市立某某高中"
    profile.save()
    assert "一、機關名稱：臺北市立某某高中" in notices.full_text(notice)


def test_the_short_version_fits_a_sign_up_form(officer, unit):
    notice = make_notice(officer, unit)
    text = notices.short_text(notice)
    body, consent, end = text.split("\n")
    assert end == ""
    assert body.startswith(f"【個人資料蒐集告知】{SCHOOL}為辦理「115 學年度校慶園遊會報名」")
    assert "（辨識個人者）" in body and "地區：中華民國境內" in body
    assert "請洽學務處訓育組 王老師（分機 231）" in body
    assert body.endswith("完整告知事項詳見活動辦法。")
    assert consent.startswith("□ 本人已閱讀並同意")


# The pages ------------------------------------------------------------------------------------
def test_the_notice_page_shows_the_generated_notice(teacher, unit):
    notice = make_notice(teacher, unit, publishes_names=True)
    page = client_as(teacher).get(url("detail", notice.pk)).content.decode()
    assert "一、機關名稱" in page and "六、不提供之影響" in page
    assert "data-notice-short" in page
    assert url("print", notice.pk) in page and url("copy", notice.pk) in page
    # Names published: the page points to the 7.4 approval.
    assert "data-publish-hint" in page


def test_the_print_view_is_an_a4_paper_with_signature_boxes(teacher, unit):
    notice = make_notice(teacher, unit)
    response = client_as(login("reader", GUARD)).get(url("print", notice.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "size: A4" in page
    assert SCHOOL in page and "「115 學年度校慶園遊會報名」個人資料蒐集告知事項" in page
    assert "活動日期：115/12/19" in page
    assert "報名人（當事人）簽名" in page and "法定代理人簽名" in page
    assert "中華民國" in page and "列印時間：115/11/30 10:00" in page
    assert "本人已閱讀並同意" in page


def test_the_short_print_is_for_the_sign_up_form(teacher, unit):
    notice = make_notice(teacher, unit)
    page = client_as(teacher).get(url("print", notice.pk), {"part": "short"}).content.decode()
    assert 'data-part="short"' in page
    assert "報名表個人資料告知及同意" in page
    assert "【個人資料蒐集告知】" in page
    assert "二、蒐集目的" not in page


def test_the_copy_view_has_two_texts_and_a_copy_button_each(teacher, unit):
    notice = make_notice(teacher, unit)
    response = client_as(teacher).get(url("copy", notice.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<textarea") == 2
    assert page.count("data-copy-button=") == 2
    assert "navigator.clipboard.writeText" in page
    assert "?download=full" in page and "?download=short" in page
    assert "一、機關名稱：" in page and "【個人資料蒐集告知】" in page


@pytest.mark.parametrize("kind", ["full", "short"])
def test_the_texts_download_as_txt(teacher, unit, kind):
    notice = make_notice(teacher, unit)
    response = client_as(teacher).get(url("copy", notice.pk), {"download": kind})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="privacy-notice-{notice.pk}-{kind}-20261130.txt"'
    )
    expected = notices.full_text(notice) if kind == "full" else notices.short_text(notice)
    assert response.content.decode() == expected


def test_an_unknown_download_is_refused(teacher, unit):
    notice = make_notice(teacher, unit)
    response = client_as(teacher).get(url("copy", notice.pk), {"download": "exe"})
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["print", "copy"])
def test_print_and_copy_need_a_role(client, client_for, teacher, unit, name):
    notice = make_notice(teacher, unit)
    anonymous = client.get(url(name, notice.pk))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert client_for().get(url(name, notice.pk)).status_code == 403
    assert client_for(SYSADMIN).get(url(name, notice.pk)).status_code == 200
    assert client_for(SYSADMIN).get(url(name, 987654)).status_code == 404


def test_the_api_gives_the_generated_texts(officer, unit, client_for):
    notice = make_notice(officer, unit)
    from django.test import Client

    from isms.core import services as core_services

    reader = login("reader", STAFF)
    _token, key = core_services.token_create(user=reader, name="t", actor=reader)
    response = Client().get(
        f"/api/activity-notices/{notice.pk}/", HTTP_AUTHORIZATION=f"Token {key}"
    )
    body = response.json()
    assert body["text"] == notices.full_text(notice)
    assert body["short_text"] == notices.short_text(notice)
    assert body["categories"] == [category().pk]


def test_the_list_filters_by_unit_and_by_mine(teacher, unit, officer):
    mine = make_notice(teacher, unit)
    other = make_notice(officer, unit_of("教務處"), activity="寒假資安營隊")
    c = client_as(teacher)

    def shown(**query):
        return set(c.get(url("list"), query).context["page_obj"].object_list)

    assert shown() == {mine, other}
    assert shown(mine="1") == {mine}
    assert shown(unit=other.unit_id) == {other}
    assert shown(q="資安營隊") == {other}


def test_the_notices_are_in_the_evidence_binder():
    from isms.compliance import registry

    records = registry.RECORDS["privacy.activitynotice"]
    assert records.clause == "7.3"
    labels = [str(c.label) for c in records.columns]
    assert "蒐集目的" in labels and "不提供之影響" in labels
