"""The work log (資訊工作日誌, A-2; clause 2.5.1): recording, its rules, the supervisor's
review, the pages and API per role, the print of the paper form and the review duty."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core import services as core_services
from isms.core.roles import (
    MANAGERS,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.identity.models import InformationSystem
from isms.operations import views_worklog, worklog
from isms.operations.models import WorkLogEntry
from isms.operations.views_worklog import WorkLogEntryFilterSet, WorkLogEntryRegister

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
READERS = MANAGERS | {SYSADMIN}
WRITERS = frozenset({SYSADMIN})
VOIDERS = frozenset({SYSADMIN, SUPERVISOR})
Kind = WorkLogEntry.Kind
DUTY = "operations.worklog_review"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def taipei(*args) -> dt.datetime:
    """A moment given in Taipei time."""
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def system(name="校務行政系統", **values) -> InformationSystem:
    return InformationSystem.objects.create(name=name, **values)


def entry(by, **values) -> WorkLogEntry:
    """An entry recorded by hand through the service."""
    values.setdefault("operated_at", taipei(2026, 11, 28, 9, 30))
    if "system" not in values and "system_name" not in values:
        values["system"] = InformationSystem.objects.get_or_create(name="校務行政系統")[0]
    values.setdefault("kind", Kind.MAINTENANCE)
    values.setdefault("description", "更換故障硬碟，重建 RAID 1。")
    return worklog.entry_save(WorkLogEntry(**values), actor=by)


def imported(**values) -> WorkLogEntry:
    """An entry as the repair-ticket import leaves it (no login: the repair system's name)."""
    values.setdefault("operated_at", taipei(2026, 11, 27, 10, 0))
    values.setdefault("system_name", "電腦教室 3 號機")
    values.setdefault("kind", Kind.OTHER)
    values.setdefault("kind_other", "報修")
    values.setdefault("description", "無法開機")
    values.setdefault("administrator_name", "林工程師")
    values.setdefault("ticket_number", "R1150001")
    return WorkLogEntry.objects.create(**values)


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    c.user = user
    return c


def token_client(user) -> Client:
    _token, key = core_services.token_create(user=user, name="test", actor=user)
    c = Client()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    c.user = user
    return c


@pytest.fixture
def admin(make_user):
    return make_user("admin", SYSADMIN)


@pytest.fixture
def boss(make_user):
    return make_user("boss", SUPERVISOR)


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# The register: pages and API for every role -------------------------------------------------
class TestWorkLogEntryRegister(RegisterContract):
    register = WorkLogEntryRegister
    api_prefix = "work-log"
    readers = READERS
    writers = WRITERS
    voiders = VOIDERS

    def administrator(self):
        """The one administrator of the samples: only the administrator edits an entry."""
        from django.contrib.auth.models import Group

        from isms.core.models import Person, User

        user = User.objects.filter(username="a2-admin").first()
        if user is None:
            user = User.objects.create_user(
                username="a2-admin",
                password="Xk7#pq92mv",
                person=Person.objects.create(name="陳志明"),
                password_changed_at=NOW,
            )
            user.groups.add(Group.objects.get_or_create(name=SYSADMIN)[0])
        return user

    def writer(self, client_for):
        return login(self.administrator())

    def make_sample(self, **overrides):
        return entry(self.administrator(), **overrides)

    def form_data(self):
        return {
            "operated_at": "115/11/28 09:30",
            "system": system("電子郵件系統").pk,
            "kind": Kind.UPDATE,
            "description": "安裝 11 月安全性更新並重新開機。",
            "correction": "",
        }

    def change_data(self, obj):
        return {
            "operated_at": "115/11/28 10:00",
            "system": obj.system_id,
            "kind": obj.kind,
            "description": "更換硬碟並重建 RAID，確認資料完整。",
        }

    def api_data(self):
        return {
            "operated_at": "2026-11-28T09:30:00+08:00",
            "system": system("電子郵件系統").pk,
            "kind": Kind.UPDATE,
            "description": "安裝 11 月安全性更新並重新開機。",
        }

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        # Only the entry's administrator edits it: another system administrator is refused.
        obj = self.make_sample()
        response = client_for(*roles_for(role)).get(self.url("edit", obj.pk))
        assert response.status_code == 403

    def test_the_administrator_may_open_the_edit_page(self):
        obj = self.make_sample()
        assert self.writer(None).get(self.url("edit", obj.pk)).status_code == 200

    def test_api_update_writes_one_audit_entry(self, client_for):
        obj = self.make_sample()
        c = token_client(self.administrator())
        entries = self.entries()
        body = json.dumps({"description": "更正：更換兩顆硬碟。"})
        response = c.patch(self.api_url(obj.pk), body, content_type="application/json")
        assert response.status_code == 200, response.content
        assert self.entries() == entries + 1
        other = self.api_client(client_for, SYSADMIN)
        response = other.patch(self.api_url(obj.pk), body, content_type="application/json")
        assert response.status_code == 403


# Recording: the rules of A-2 ----------------------------------------------------------------
class TestRecording:
    def test_the_administrator_is_the_person_signed_in(self, admin, make_user):
        other = make_user("other", SYSADMIN)
        e = entry(admin, administrator=other, administrator_name="別人", ticket_number="X-1")
        e.refresh_from_db()
        assert e.administrator == admin and e.administrator_name == ""
        assert e.ticket_number is None and e.reviewed_at is None

    @pytest.mark.parametrize("role", [SUPERVISOR, SECURITY_OFFICER, PRINCIPAL, STAFF])
    def test_only_system_administrators_record(self, make_user, role):
        with pytest.raises(PermissionDenied):
            entry(make_user(f"u-{role}", role))
        assert not WorkLogEntry.objects.exists()

    def test_other_names_what_was_done(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, kind=Kind.OTHER, kind_other="  ")
        assert list(errors_of(excinfo)) == ["kind_other"]
        assert "其它" in errors_of(excinfo)["kind_other"][0]
        assert not WorkLogEntry.objects.exists()
        e = entry(admin, kind=Kind.OTHER, kind_other="機房巡檢")
        assert e.kind_other == "機房巡檢"

    def test_the_other_text_goes_with_other_only(self, admin):
        e = entry(admin, kind=Kind.UPDATE, kind_other="留在隱藏欄位的字")
        assert e.kind_other == ""

    def test_a_kind_must_be_one_of_the_four(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, kind="reboot")
        assert "kind" in errors_of(excinfo)

    def test_the_moment_is_not_in_the_future(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, operated_at=NOW + dt.timedelta(minutes=1))
        assert "2.5.1" in errors_of(excinfo)["operated_at"][0]
        assert entry(admin, operated_at=NOW).pk  # this very minute is fine
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, operated_at=None)
        assert "operated_at" in errors_of(excinfo)
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, operated_at=dt.datetime(1900, 1, 1, tzinfo=dt.UTC))
        assert "民國元年" in errors_of(excinfo)["operated_at"][0]

    def test_a_registered_system_or_the_name_of_one_not_registered(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, system=None, system_name=" ")
        assert "2.5.1" in errors_of(excinfo)["system"][0]
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, system=system("網站"), system_name="另一個名稱")
        assert list(errors_of(excinfo)) == ["system_name"]
        e = entry(admin, system=None, system_name=" 機房 UPS ")
        assert e.system is None and e.system_name == "機房 UPS"
        assert worklog.system_label(e) == "機房 UPS"

    def test_the_name_of_a_registered_system_links_it(self, admin):
        mail = system("Google Workspace 郵件")
        e = entry(admin, system=None, system_name="ｇｏｏｇｌｅ workspace郵件")
        assert e.system == mail and e.system_name == ""
        mail.voided_at = NOW
        mail.save()
        kept = entry(admin, system=None, system_name="Google Workspace 郵件")
        assert kept.system is None and kept.system_name == "Google Workspace 郵件"

    def test_a_voided_system_is_not_chosen_but_stays_on_its_entries(self, admin):
        old = system("舊網站")
        e = entry(admin, system=old)
        old.voided_at = NOW
        old.save()
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, system=old)
        assert "已作廢" in errors_of(excinfo)["system"][0]
        e.description = "補記：已移除舊網站的管理帳號。"
        assert worklog.entry_save(e, actor=admin).system == old  # kept on its own entry

    def test_a_description_is_required(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, description="  \n ")
        assert list(errors_of(excinfo)) == ["description"]

    def test_text_longer_than_the_log_holds_is_refused(self, admin):
        with pytest.raises(ValidationError) as excinfo:
            entry(admin, system=None, system_name="長" * 201)
        assert "200" in errors_of(excinfo)["system_name"][0]

    def test_only_its_administrator_corrects_an_entry(self, admin, make_user):
        e = entry(admin)
        other = make_user("other", SYSADMIN)
        e.description = "別人改的"
        with pytest.raises(PermissionDenied):
            worklog.entry_save(e, actor=other)
        e = WorkLogEntry.objects.get(pk=e.pk)
        e.description = "本人更正"
        e.administrator_id = other.pk  # not the form's to change
        saved = worklog.entry_save(e, actor=admin)
        saved.refresh_from_db()
        assert saved.description == "本人更正" and saved.administrator == admin

    def test_an_imported_entry_without_a_login_is_corrected_by_any_administrator(self, admin):
        e = imported()
        e.description = "無法開機：更換電源供應器"
        worklog.entry_save(e, actor=admin)
        e.refresh_from_db()
        assert e.description == "無法開機：更換電源供應器"
        assert e.administrator is None and e.administrator_name == "林工程師"
        assert e.ticket_number == "R1150001"

    def test_a_voided_entry_is_not_changed(self, admin):
        e = entry(admin)
        core_services.record_void(e, actor=admin, reason="重複登錄")
        e.description = "改"
        with pytest.raises(ValidationError) as excinfo:
            worklog.entry_save(e, actor=admin)
        assert "已作廢" in errors_of(excinfo)["__all__"][0]


# Pages: recording and correcting --------------------------------------------------------------
class TestPages:
    def test_bad_input_shows_field_errors_in_zh_tw_and_saves_nothing(self, admin):
        c = login(admin)
        entries = AuditEntry.objects.count()
        response = c.post(
            reverse("operations:worklogentry_add"),
            {
                "operated_at": "115/11/29 09:00",  # tomorrow
                "system_name": "",
                "kind": Kind.OTHER,
                "kind_other": "",
                "description": "巡檢",
            },
        )
        assert response.status_code == 400
        form = response.context["form"]
        assert set(form.errors) == {"operated_at", "system", "kind_other"}
        page = response.content.decode()
        assert "請修正下列欄位的錯誤" in page and "操作日期不可晚於現在" in page
        assert not WorkLogEntry.objects.exists() and AuditEntry.objects.count() == entries

    def test_an_unreadable_moment_is_explained(self, admin):
        response = login(admin).post(
            reverse("operations:worklogentry_add"),
            {
                "operated_at": "昨天下午",
                "system_name": "網站",
                "kind": "update",
                "description": "x",
            },
        )
        assert response.status_code == 400
        assert "無法辨識的日期時間" in response.content.decode()

    def test_adding_records_the_person_signed_in(self, admin):
        c = login(admin)
        page = c.get(reverse("operations:worklogentry_add")).content.decode()
        assert "測試admin" in page and "115/11/28 14:05" in page  # now, as the first value
        response = c.post(
            reverse("operations:worklogentry_add"),
            {
                "operated_at": "115/11/28 下午 1:30",
                "system_name": "機房 UPS",
                "kind": Kind.ROUTINE_CHECK,
                "description": "檢查 UPS 電池與告警紀錄",
            },
        )
        assert response.status_code == 302
        e = WorkLogEntry.objects.get()
        assert e.administrator == admin and e.operated_at == taipei(2026, 11, 28, 13, 30)
        entry_audit = AuditEntry.objects.filter(model_label="operations.worklogentry").get()
        assert entry_audit.action == "create" and entry_audit.actor_id == admin.pk

    def test_a_reviewed_entry_is_read_only_on_the_pages(self, admin, boss):
        e = entry(admin)
        worklog.entry_review(e, actor=boss)
        c = login(admin)
        response = c.get(reverse("operations:worklogentry_edit", args=[e.pk]))
        assert response.status_code == 302 and response["Location"] == e.get_absolute_url()
        before = WorkLogEntry.objects.filter(pk=e.pk).values().get()
        response = c.post(
            reverse("operations:worklogentry_edit", args=[e.pk]),
            {
                "operated_at": "115/11/28 09:30",
                "system": e.system_id,
                "kind": Kind.UPDATE,
                "description": "覆核後才改",
            },
        )
        assert response.status_code == 400
        assert "已經主管覆核，不能修改" in response.content.decode()
        assert WorkLogEntry.objects.filter(pk=e.pk).values().get() == before
        page = c.get(e.get_absolute_url()).content.decode()
        assert reverse("operations:worklogentry_edit", args=[e.pk]) not in page

    def test_the_list_filters_and_searches(self, admin, boss):
        mail = system("電子郵件系統")
        a = entry(admin, kind=Kind.UPDATE, system=mail, operated_at=taipei(2026, 11, 1, 9, 0))
        b = entry(admin, kind=Kind.MAINTENANCE, description="更換 UPS 電池")
        c = imported(operated_at=taipei(2026, 10, 15, 8, 0))
        worklog.entry_review(a, actor=boss)
        qs = WorkLogEntry.objects.all()

        def ids(**data):
            filterset = WorkLogEntryFilterSet(data, queryset=qs)
            assert filterset.is_valid(), filterset.errors
            return set(filterset.qs.values_list("pk", flat=True))

        assert ids(kind="update") == {a.pk}
        assert ids(system=str(mail.pk)) == {a.pk}
        assert ids(reviewed="yes") == {a.pk}
        assert ids(reviewed="no") == {b.pk, c.pk}
        assert ids(source="ticket") == {c.pk} and ids(source="hand") == {a.pk, b.pk}
        assert ids(operated_from="115/11/01", operated_to="115/11/01") == {a.pk}
        assert ids(operated_to="115/10/31") == {c.pk}
        assert ids(q="UPS") == {b.pk}
        assert ids(q="林工程師") == {c.pk} and ids(q="R1150001") == {c.pk}
        assert ids(q="陳") == set() and ids(q="admin") == {a.pk, b.pk}
        page = login(boss).get(reverse("operations:worklogentry_list"), {"kind": "update"})
        text = page.content.decode()
        assert page.status_code == 200 and "電子郵件系統" in text and "更換 UPS 電池" not in text
        assert f"{reverse('operations:worklogentry_list_print')}?kind=update" in text

    def test_the_list_shows_who_and_the_review(self, admin, boss):
        e = entry(admin, kind=Kind.OTHER, kind_other="機房巡檢")
        imported()
        worklog.entry_review(e, actor=boss, note="已閱")
        text = login(boss).get(reverse("operations:worklogentry_list")).content.decode()
        assert "其它：機房巡檢" in text and "測試admin" in text and "林工程師" in text
        assert "測試boss 115/11/28 14:05" in text and "待覆核" in text

    def test_the_export_has_the_whole_texts(self, admin):
        entry(admin, description="很長的說明" * 20, correction="改正措施")
        response = login(admin).get(reverse("operations:worklogentry_export"), {"format": "csv"})
        body = b"".join(response.streaming_content).decode("utf-8-sig")
        assert "很長的說明" * 20 in body and "改正措施" in body


# The supervisor's review ------------------------------------------------------------------------
class TestReview:
    def test_a_supervisor_reviews_once(self, admin, boss):
        e = entry(admin)
        before = AuditEntry.objects.count()
        worklog.entry_review(e, actor=boss, note=" 已確認 ")
        e.refresh_from_db()
        assert e.reviewed_by == boss and e.reviewed_at == NOW and e.review_note == "已確認"
        audit = AuditEntry.objects.filter(id__gt=before, model_label="operations.worklogentry")
        assert audit.count() == 1 and audit.get().actor_id == boss.pk
        with pytest.raises(ValidationError) as excinfo:
            worklog.entry_review(e, actor=boss)
        assert "已經主管覆核" in errors_of(excinfo)["__all__"][0]

    @pytest.mark.parametrize("role", [SYSADMIN, SECURITY_OFFICER, PRINCIPAL, STAFF])
    def test_only_a_supervisor_reviews(self, make_user, admin, role):
        with pytest.raises(PermissionDenied):
            worklog.entry_review(entry(admin), actor=make_user(f"r-{role}", role))

    def test_nobody_reviews_their_own_work(self, make_user, boss):
        both = make_user("both", SYSADMIN, SUPERVISOR)
        e = entry(both)
        assert not worklog.may_review_entry(both, e)
        with pytest.raises(ValidationError) as excinfo:
            worklog.entry_review(e, actor=both)
        assert "本人" in errors_of(excinfo)["__all__"][0]
        assert worklog.entry_review(e, actor=boss).reviewed_by == boss

    def test_an_imported_entry_of_the_supervisor_by_name_is_not_theirs_to_review(self, boss):
        e = imported(administrator_name="測試 boss")  # the repair system wrote the name so
        with pytest.raises(ValidationError):
            worklog.entry_review(e, actor=boss)
        by_username = imported(ticket_number="R-2", administrator_name="BOSS")
        with pytest.raises(ValidationError):
            worklog.entry_review(by_username, actor=boss)
        other = imported(ticket_number="R-3", administrator_name="林工程師")
        assert worklog.entry_review(other, actor=boss).reviewed_at == NOW

    def test_a_voided_entry_is_not_reviewed(self, admin, boss):
        e = entry(admin)
        core_services.record_void(e, actor=boss, reason="重複登錄")
        with pytest.raises(ValidationError) as excinfo:
            worklog.entry_review(e, actor=boss)
        assert "已作廢" in errors_of(excinfo)["__all__"][0]

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_review_page_answers_by_role(self, role, client_for, admin):
        e = entry(admin)
        response = client_for(*roles_for(role)).post(
            reverse("operations:worklogentry_review", args=[e.pk]), {"note": "已閱"}
        )
        e.refresh_from_db()
        if role == SUPERVISOR:
            assert response.status_code == 302 and e.reviewed_at == NOW
        else:
            assert response.status_code == 403 and e.reviewed_at is None

    def test_the_entry_page_offers_the_review_to_a_supervisor_only(self, admin, boss):
        e = entry(admin)
        url = reverse("operations:worklogentry_review", args=[e.pk])
        assert url in login(boss).get(e.get_absolute_url()).content.decode()
        assert url not in login(admin).get(e.get_absolute_url()).content.decode()

    def test_a_refused_review_shows_the_reason(self, make_user):
        both = make_user("both", SYSADMIN, SUPERVISOR)
        e = entry(both)
        response = login(both).post(reverse("operations:worklogentry_review", args=[e.pk]), {})
        assert response.status_code == 400
        assert "覆核者不可為執行操作的系統管理人員本人" in response.content.decode()
        e.refresh_from_db()
        assert e.reviewed_at is None

    def test_a_get_of_the_review_goes_back_to_the_entry(self, admin, boss):
        e = entry(admin)
        response = login(boss).get(reverse("operations:worklogentry_review", args=[e.pk]))
        assert response.status_code == 302 and response["Location"] == e.get_absolute_url()


# The API ------------------------------------------------------------------------------------
class TestApi:
    URL = "/api/work-log/"

    def post(self, c, body):
        return c.post(self.URL, json.dumps(body), content_type="application/json")

    def test_roc_moments_are_accepted_and_the_administrator_is_the_caller(self, admin, boss):
        c = token_client(admin)
        response = self.post(
            c,
            {
                "operated_at": "115/11/28 09:30",
                "system_name": "機房 UPS",
                "kind": "routine_check",
                "description": "檢查 UPS",
                "administrator": boss.pk,
                "ticket_number": "X-9",
            },
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["administrator"] == admin.pk and body["ticket_number"] is None
        assert body["operated_at"] == "2026-11-28T09:30:00+08:00"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "other", "kind_other": ""}, "kind_other"),
            ({"operated_at": "2026-11-29T09:00:00+08:00"}, "operated_at"),
            ({"operated_at": "115/02/30 09:00"}, "operated_at"),
            ({"operated_at": "not a time"}, "operated_at"),
            ({"system_name": "", "system": None}, "system"),
            ({"system": 999999}, "system"),
            ({"description": ""}, "description"),
            ({"kind": "explode"}, "kind"),
            ({"system_name": "長" * 201}, "system_name"),
        ],
    )
    def test_bad_input_is_400_with_field_errors_and_nothing_saved(self, admin, body, field):
        c = token_client(admin)
        data = {
            "operated_at": "115/11/28 09:30",
            "system_name": "機房 UPS",
            "kind": "routine_check",
            "description": "檢查 UPS",
            **body,
        }
        entries = AuditEntry.objects.count()
        response = self.post(c, data)
        assert response.status_code == 400, response.content
        assert field in response.json(), response.json()
        assert not WorkLogEntry.objects.exists() and AuditEntry.objects.count() == entries

    def test_a_supervisor_reviews_through_the_api(self, admin, boss):
        e = entry(admin)
        url = f"{self.URL}{e.pk}/review/"
        refused = token_client(admin).post(url, "{}", content_type="application/json")
        assert refused.status_code == 403
        c = token_client(boss)
        response = c.post(url, json.dumps({"note": "已閱"}), content_type="application/json")
        assert response.status_code == 200, response.content
        assert response.json()["reviewed_by"] == boss.pk
        again = c.post(url, "{}", content_type="application/json")
        assert again.status_code == 400 and "non_field_errors" in again.json()
        patch = token_client(admin).patch(
            f"{self.URL}{e.pk}/", json.dumps({"description": "改"}), content_type="application/json"
        )
        assert patch.status_code == 400 and "已經主管覆核" in patch.json()["non_field_errors"][0]


# The paper A-2 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (taipei(2026, 11, 28, 14, 5), "民國 115 年 11 月 28 日 下午 2 時 05 分"),
        (taipei(2026, 11, 28, 9, 5), "民國 115 年 11 月 28 日 上午 9 時 05 分"),
        (taipei(2026, 1, 2, 0, 30), "民國 115 年 1 月 2 日 上午 12 時 30 分"),
        (taipei(2026, 1, 2, 12, 0), "民國 115 年 1 月 2 日 下午 12 時 00 分"),
        (
            dt.datetime(2026, 12, 31, 16, 10, tzinfo=dt.UTC),
            "民國 116 年 1 月 1 日 上午 12 時 10 分",
        ),
    ],
)
def test_the_paper_moment_is_roc_in_taipei_with_morning_and_afternoon(moment, expected):
    from isms.core import roc

    text = worklog.paper_moment(moment)
    assert text == expected
    # …and reads back as the same moment.
    assert roc.parse_roc_datetime(text.replace(" ", "").replace("日", "日 ")) == (
        moment.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    )


class TestPrint:
    def url(self, e):
        return reverse("operations:worklogentry_print", args=[e.pk])

    def test_a_reviewed_entry_prints_as_the_paper_form(self, admin, boss):
        e = entry(
            admin,
            operated_at=taipei(2026, 11, 28, 14, 5),
            kind=Kind.MAINTENANCE,
            description="更換故障硬碟",
            correction="RAID 重建完成，已檢查資料",
        )
        with time_machine.travel(NOW + dt.timedelta(minutes=55), tick=False):
            worklog.entry_review(e, actor=boss, note="已確認")
            text = login(boss).get(self.url(e)).content.decode()
        for expected in (
            "文件編號：A-2",
            "資訊工作日誌",
            "操作日期：民國 115 年 11 月 28 日 下午 2 時 05 分",
            "系統名稱：校務行政系統",
            "操作事項",
            "&#9744; 系統例行檢查",
            "&#9745; 系統維護",
            "&#9744; 系統更新操作",
            "&#9744; 其它：</span>",
            "操作說明",
            "更換故障硬碟",
            "系統錯誤改正措施說明",
            "RAID 重建完成，已檢查資料",
            "系統管理人員(簽名)：測試admin",
            "主管覆核(簽名)：測試boss <small>115/11/28 15:00",
            "已確認",
        ):
            assert expected in text, expected
        assert "window.print()" in text and 'class="paper a2-sheet"' in text

    def test_other_and_a_morning_and_an_unreviewed_entry(self, admin):
        e = entry(
            admin, operated_at=taipei(2026, 11, 3, 8, 7), kind=Kind.OTHER, kind_other="機房巡檢"
        )
        text = login(admin).get(self.url(e)).content.decode()
        assert "民國 115 年 11 月 3 日 上午 8 時 07 分" in text
        assert "&#9745; 其它：機房巡檢" in text and "&#9744; 系統維護" in text
        assert "（尚待主管覆核）" in text

    def test_an_imported_ticket_prints_with_its_number_and_handler(self, admin):
        e = imported()
        text = login(admin).get(self.url(e)).content.decode()
        assert "系統名稱：電腦教室 3 號機" in text
        assert "系統管理人員(簽名)：林工程師" in text and "報修單號 R1150001" in text
        assert "&#9745; 其它：報修" in text

    def test_a_voided_entry_says_so(self, admin):
        e = entry(admin)
        core_services.record_void(e, actor=admin, reason="重複登錄")
        text = login(admin).get(self.url(e)).content.decode()
        assert "此日誌已作廢。" in text and "重複登錄" in text

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_the_print_answers_by_role(self, role, client_for, admin):
        e = entry(admin)
        c = client_for(*roles_for(role))
        expected = 200 if role in READERS else 403
        assert c.get(self.url(e)).status_code == expected
        assert c.get(reverse("operations:worklogentry_list_print")).status_code == expected

    def test_anonymous_is_sent_to_sign_in_and_a_missing_entry_is_404(self, client, admin):
        e = entry(admin)
        response = client.get(self.url(e))
        assert response.status_code == 302 and "/login/" in response["Location"]
        missing = reverse("operations:worklogentry_print", args=[99999])
        assert login(admin).get(missing).status_code == 404

    def test_the_list_prints_one_a2_per_entry_oldest_first(self, admin):
        first = entry(admin, operated_at=taipei(2026, 11, 2, 9, 0), description="第一筆")
        entry(admin, kind=Kind.UPDATE, description="更新不列印")
        second = entry(admin, operated_at=taipei(2026, 11, 20, 16, 0), description="第二筆")
        voided = entry(admin, description="作廢的")
        core_services.record_void(voided, actor=admin, reason="重複")
        response = login(admin).get(
            reverse("operations:worklogentry_list_print"), {"kind": "maintenance"}
        )
        text = response.content.decode()
        assert response.status_code == 200
        assert text.count("文件編號：A-2") == 2
        assert text.index("第一筆") < text.index("第二筆")
        assert "更新不列印" not in text and "作廢的" not in text
        assert f'data-entry="{first.pk}"' in text and f'data-entry="{second.pk}"' in text
        assert "break-before: page" in text  # each A-2 on a page of its own
        with_voided = login(admin).get(
            reverse("operations:worklogentry_list_print"), {"kind": "maintenance", "voided": "1"}
        )
        assert with_voided.content.decode().count("文件編號：A-2") == 3

    def test_the_list_print_is_limited_and_bad_filters_are_refused(self, admin, monkeypatch):
        monkeypatch.setattr(views_worklog, "PRINT_LIMIT", 2)
        for hour in (8, 9, 10):
            entry(admin, operated_at=taipei(2026, 11, 28, hour, 0))
        c = login(admin)
        text = c.get(reverse("operations:worklogentry_list_print")).content.decode()
        assert text.count("文件編號：A-2") == 2 and "僅列出前 2 筆" in text
        bad = c.get(reverse("operations:worklogentry_list_print"), {"operated_from": "115/13/40"})
        assert bad.status_code == 400 and "篩選條件有誤" in bad.content.decode()


# The review duty (2.5.1) -------------------------------------------------------------------
def state_of(subject):
    return ObligationState.objects.filter(key=DUTY, subject_id=str(subject.pk)).first()


class TestDuty:
    def test_an_entry_is_reviewed_by_the_end_of_the_14th_day(self, admin, boss, settings):
        e = entry(admin, operated_at=taipei(2026, 11, 28, 14, 5))
        due = dt.datetime(2026, 12, 12, 15, 59, 59, tzinfo=dt.UTC)  # 12/12 23:59:59 Taipei
        state = state_of(e)  # refreshed when the entry was saved
        assert state.status == "ok" and state.next_due_at == due
        assert state.clause == "2.5.1" and state.responsible_role == SUPERVISOR
        for moment, status in (
            (due - dt.timedelta(days=3, seconds=1), "ok"),
            (due - dt.timedelta(days=3), "due_soon"),
            (due - dt.timedelta(seconds=1), "due_soon"),
            (due, "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(DUTY)
                assert state_of(e).status == status, moment
        with time_machine.travel(due + dt.timedelta(days=1), tick=False):
            worklog.entry_review(e, actor=boss)
            state = state_of(e)
            assert state.status == "ok" and state.last_done_at == due + dt.timedelta(days=1)

    def test_the_day_is_the_taipei_day_of_the_operation(self, admin):
        late = entry(admin, operated_at=taipei(2026, 11, 27, 23, 30))  # 15:30 UTC on the 27th
        early = entry(admin, operated_at=taipei(2026, 11, 28, 0, 30))  # 16:30 UTC on the 27th
        assert state_of(late).next_due_at == dt.datetime(2026, 12, 11, 15, 59, 59, tzinfo=dt.UTC)
        assert state_of(early).next_due_at == dt.datetime(2026, 12, 12, 15, 59, 59, tzinfo=dt.UTC)

    def test_the_days_are_a_setting(self, admin, settings):
        settings.ISMS_WORKLOG_REVIEW_DAYS = 7
        e = entry(admin, operated_at=taipei(2026, 11, 28, 14, 5))
        assert state_of(e).next_due_at == dt.datetime(2026, 12, 5, 15, 59, 59, tzinfo=dt.UTC)

    def test_imported_entries_are_due_as_well_and_voided_ones_leave(self, admin):
        ticket = imported(operated_at=taipei(2026, 11, 1, 10, 0))
        engine.refresh(DUTY)
        assert state_of(ticket).status == "overdue"  # due 115/11/15
        core_services.record_void(ticket, actor=admin, reason="測試報修單")
        engine.refresh(DUTY)
        assert state_of(ticket) is None

    def test_the_states_link_to_the_entry(self, admin):
        e = entry(admin)
        ob = registry.REGISTRY[DUTY]
        assert ob.subject_url(state_of(e)) == e.get_absolute_url()
        assert ob.evidence_url(state_of(e)) == e.get_absolute_url()

    def test_history_gives_the_reviews_in_range(self, admin, boss):
        e = entry(admin)
        worklog.entry_review(e, actor=boss)
        ob = registry.REGISTRY[DUTY]
        subjects = ob.all_subjects()
        since, until = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
        assert ob.history(subjects, since, until) == [(e.pk, NOW)]
        assert ob.history(subjects, NOW + dt.timedelta(seconds=1), until) == []

    def test_the_work_log_is_in_the_evidence_binder(self):
        records = registry.RECORDS["operations.worklogentry"]
        assert records.clause == "2.5.1" and records.date_field == "operated_at"
        assert DUTY in records.obligations
        labels = [str(c.label) for c in records.columns]
        assert "操作說明" in labels and "系統錯誤改正措施說明" in labels and "主管覆核" in labels
