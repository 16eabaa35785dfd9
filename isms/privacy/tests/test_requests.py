"""Data-subject requests (當事人權利請求; 7.8; PDPA arts. 3, 10, 11, 13): the register per
role, the number, the legal deadlines at both ends of the day, and the rules of each step
(identity, extension, decision, reply), each refused with nothing saved."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError

from isms.audit.models import AuditEntry
from isms.core import numbering
from isms.core import services as core_services
from isms.core.models import Unit
from isms.core.roles import MANAGERS, SECURITY_OFFICER, STAFF, SUPERVISOR, SYSADMIN
from isms.core.testing import RegisterContract
from isms.privacy import requests
from isms.privacy.models import PersonalDataFile, SubjectRequest
from isms.privacy.views_requests import SubjectRequestRegister

from . import helpers
from .helpers import frozen_at, taipei

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
_frozen = frozen_at(NOW)
Kind = SubjectRequest.Kind
Channel = SubjectRequest.Channel
Decision = SubjectRequest.Decision


def the_user(username, *roles, name=None):
    """One login per username (made once), with a person named ``name``."""
    return helpers.the_user(username, *roles, name=name, email=False)


def officer():
    return the_user("pd-officer", SECURITY_OFFICER, name="李淑芬")


def values_for(**values) -> dict:
    values.setdefault("kind", Kind.VIEW)
    values.setdefault("received_at", taipei(2026, 11, 28, 9, 30))
    values.setdefault("channel", Channel.COUNTER)
    values.setdefault("requester_name", "林怡君")
    values.setdefault("requester_contact", "新北市板橋區文化路一段 188 號")
    values.setdefault("details", "請求閱覽本人在校期間之學籍資料。")
    return values


def make_request(by=None, *, files=None, **values) -> SubjectRequest:
    """A request recorded through the service."""
    return requests.save_request(
        SubjectRequest(**values_for(**values)), actor=by or officer(), files=files
    )


def personal_file(name="學生學籍資料") -> PersonalDataFile:
    unit = Unit.objects.get_or_create(name="教務處", defaults={"code": "academic"})[0]
    return PersonalDataFile.objects.create(
        name=name, unit=unit, legal_basis="高級中等教育法第 43 條", retention="永久", users="註冊組"
    )


def identified(req=None, **values) -> SubjectRequest:
    req = req or make_request(**values)
    return requests.check_identity(req, actor=officer(), method="國民身分證正本核對")


def decided(req=None, decision=Decision.GRANTED, reason="", **values) -> SubjectRequest:
    req = identified(req, **values)
    return requests.decide(req, actor=officer(), decision=decision, reason=reason)


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def unchanged(req):
    """The stored row and the number of audit entries, to compare after a refusal."""
    return SubjectRequest.objects.filter(pk=req.pk).values().get(), AuditEntry.objects.count()


# The register: pages and API for every role ------------------------------------------------------
class TestSubjectRequestRegister(RegisterContract):
    register = SubjectRequestRegister
    api_prefix = "data-subject-requests"
    readers = MANAGERS
    writers = frozenset({SECURITY_OFFICER})
    voiders = frozenset({SECURITY_OFFICER})

    def make_sample(self, **overrides):
        return make_request(**overrides)

    def form_data(self):
        return {
            "kind": Kind.VIEW,
            "received_at": "115/11/28 09:30",
            "channel": Channel.COUNTER,
            "requester_name": "林怡君",
            "requester_contact": "新北市板橋區文化路一段 188 號",
            "details": "請求閱覽本人在校期間之學籍資料。",
        }

    def change_data(self, obj):
        return {
            **self.form_data(),
            "handler": obj.handler_id,
            "details": "請求閱覽本人 110 至 112 學年度之學籍資料。",
        }

    def api_data(self):
        return {
            "kind": Kind.COPY,
            "received_at": "2026-11-28T09:30:00+08:00",
            "channel": Channel.EMAIL,
            "requester_name": "黃冠宇",
            "requester_contact": "kuanyu@example.com",
            "details": "請求製給成績單複製本。",
        }


# The number --------------------------------------------------------------------------------------
class TestNumber:
    def test_numbers_run_per_roc_year_of_receipt(self):
        first = make_request()
        second = make_request()
        assert (first.number, second.number) == ("PD-115-0001", "PD-115-0002")
        # Received on the last evening of 2025 (Taipei): ROC year 114, whatever today is.
        late = make_request(received_at=taipei(2025, 12, 31, 23, 30))
        assert late.number == "PD-114-0001"
        # 2026-01-01 00:10 Taipei is still 2025-12-31 in UTC: the local year counts.
        early = make_request(received_at=dt.datetime(2025, 12, 31, 16, 10, tzinfo=dt.UTC))
        assert early.number == "PD-115-0003"

    def test_a_number_taken_meanwhile_is_skipped(self):
        make_request()
        real = numbering.next_number
        calls = []

        def stale(model, prefix, width, field="number"):
            calls.append(prefix)
            # The first answer is what a concurrent writer also got: already taken.
            return "PD-115-0001" if len(calls) == 1 else real(model, prefix, width, field)

        with mock.patch.object(numbering, "next_number", stale):
            req = make_request()
        assert req.number == "PD-115-0002" and len(calls) == 2
        assert SubjectRequest.objects.count() == 2

    def test_giving_up_after_repeated_collisions_saves_nothing(self):
        make_request()
        with (
            mock.patch.object(numbering, "next_number", lambda *a, **k: "PD-115-0001"),
            pytest.raises(IntegrityError),
        ):
            make_request()
        assert SubjectRequest.objects.count() == 1

    def test_the_number_and_the_steps_cannot_be_forged_by_an_edit(self):
        req = make_request()
        req.number = "PD-999-9999"
        req.identity_checked_at = NOW
        req.decision = Decision.GRANTED
        req.replied_at = NOW
        requests.save_request(req, actor=officer())
        req.refresh_from_db()
        assert req.number == "PD-115-0001"
        assert req.identity_checked_at is None and req.decision == "" and req.replied_at is None

    def test_a_new_request_starts_without_steps_whatever_it_carries(self):
        req = make_request(identity_checked_at=NOW, decision=Decision.REFUSED, extended_at=NOW)
        req.refresh_from_db()
        assert req.identity_checked_at is None and req.decision == "" and req.extended_at is None


# Recording ---------------------------------------------------------------------------------------
class TestRecording:
    def test_a_request_is_recorded_with_its_handler_and_audited(self):
        who = officer()
        before = AuditEntry.objects.count()
        req = make_request(who)
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == before + 1
        assert entry.action == "create" and entry.actor_id == who.pk
        assert req.handler == who
        assert requests.status(req) == requests.Status.IDENTITY

    @pytest.mark.parametrize("role", [SUPERVISOR, SYSADMIN, STAFF])
    def test_only_the_security_officer_records(self, make_user, role):
        with pytest.raises(PermissionDenied):
            make_request(make_user(f"u-{role}", role))
        assert not SubjectRequest.objects.exists()

    def test_what_the_request_needs(self):
        with pytest.raises(ValidationError) as excinfo:
            make_request(
                kind="erase",
                channel="fax",
                requester_name=" ",
                requester_contact="",
                details="",
                received_at=None,
            )
        errors = errors_of(excinfo)
        assert "第 3 條" in errors["kind"][0]
        assert set(errors) >= {
            "channel",
            "requester_name",
            "requester_contact",
            "details",
            "received_at",
        }
        assert "第 13 條" in errors["received_at"][0]
        assert not SubjectRequest.objects.exists()

    def test_the_receipt_is_not_in_the_future(self):
        assert make_request(received_at=NOW + dt.timedelta(minutes=4)).pk
        with pytest.raises(ValidationError) as excinfo:
            make_request(received_at=NOW + dt.timedelta(hours=1))
        assert errors_of(excinfo)["received_at"] == ["受理時間不可晚於現在。"]

    def test_an_agent_is_named_else_cleared(self):
        with pytest.raises(ValidationError) as excinfo:
            make_request(by_agent=True, agent_name=" ")
        assert "代理人姓名" in errors_of(excinfo)["agent_name"][0]
        assert make_request(by_agent=False, agent_name="張志明").agent_name == ""
        req = make_request(by_agent=True, agent_name="張志明")
        assert requests.requester_label(req) == "林怡君（代理人：張志明）"

    def test_the_handler_is_an_active_login(self, make_user):
        gone = make_user("gone", STAFF, is_active=False)
        with pytest.raises(ValidationError) as excinfo:
            make_request(handler=gone)
        assert "handler" in errors_of(excinfo)
        other = make_user("other-officer", SECURITY_OFFICER)
        assert make_request(handler=other).handler == other

    def test_files_concerned_are_kept_and_audited_and_a_voided_one_refused(self):
        held = personal_file()
        req = make_request(files=[held])
        assert list(req.files.all()) == [held]
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.changes == {"files": [None, ["學生學籍資料"]]}
        old = personal_file("舊檔案")
        core_services.record_void(old, actor=officer(), reason="已銷毀")
        with pytest.raises(ValidationError) as excinfo:
            make_request(files=[old])
        assert "files" in errors_of(excinfo)

    def test_kind_and_receipt_are_fixed_once_extended_or_decided(self):
        req = make_request()
        requests.extend(req, actor=officer(), reason="需調閱檔案", notified_on=NOW.date())
        req.refresh_from_db()
        req.kind = Kind.DELETE
        with pytest.raises(ValidationError) as excinfo:
            requests.save_request(req, actor=officer())
        assert "第 13 條" in errors_of(excinfo)["kind"][0]
        req.refresh_from_db()
        req.details = "補充說明"
        requests.save_request(req, actor=officer())
        req.refresh_from_db()
        assert req.kind == Kind.VIEW and req.details == "補充說明"

    def test_after_the_reply_only_the_files_change(self):
        req = decided()
        requests.reply(req, actor=officer(), method="當面交付", text="已提供閱覽。")
        req.refresh_from_db()
        req.requester_name = "別人"
        with pytest.raises(ValidationError) as excinfo:
            requests.save_request(req, actor=officer())
        assert "作廢後重新登錄" in errors_of(excinfo)["requester_name"][0]
        req.refresh_from_db()
        held = personal_file()
        requests.save_request(req, actor=officer(), files=[held])
        assert list(req.files.all()) == [held]

    def test_a_voided_request_is_not_changed_nor_handled(self):
        req = make_request()
        requests.void_request(req, actor=officer(), reason="重複登錄")
        req.refresh_from_db()
        with pytest.raises(ValidationError):
            requests.save_request(req, actor=officer())
        with pytest.raises(ValidationError) as excinfo:
            requests.check_identity(req, actor=officer(), method="國民身分證正本核對")
        assert "已作廢" in errors_of(excinfo)["__all__"][0]


# The legal deadline ------------------------------------------------------------------------------
class TestDeadline:
    @pytest.mark.parametrize(
        ("kind", "days"),
        [
            (Kind.QUERY, 15),
            (Kind.VIEW, 15),
            (Kind.COPY, 15),
            (Kind.CORRECT, 30),
            (Kind.STOP, 30),
            (Kind.DELETE, 30),
        ],
    )
    def test_articles_10_and_11_give_15_and_30_days(self, kind, days):
        req = make_request(kind=kind)
        assert requests.period_days(kind) == days
        assert requests.last_day(req) == dt.date(2026, 11, 28) + dt.timedelta(days=days)
        assert requests.article(kind) == (10 if days == 15 else 11)

    def test_a_receipt_at_2350_taipei_counts_from_that_taipei_day(self):
        # 23:50 in Taipei is 15:50 UTC of the same day.
        received = dt.datetime(2026, 11, 28, 15, 50, tzinfo=dt.UTC)
        with time_machine.travel(received + dt.timedelta(minutes=1), tick=False):
            req = make_request(received_at=received)
        assert requests.last_day(req) == dt.date(2026, 12, 13)
        assert requests.deadline(req) == taipei(2026, 12, 13, 23, 59, 59, 999999)
        last_second = taipei(2026, 12, 13, 23, 59, 59)
        assert requests.countdown(req, last_second) == (requests.Countdown.TODAY, "今日到期")
        assert not requests.overdue(req, last_second)
        midnight = taipei(2026, 12, 14, 0, 0)
        assert requests.countdown(req, midnight) == (requests.Countdown.OVERDUE, "逾期 1 天")
        assert requests.overdue(req, midnight)
        assert requests.countdown(req, taipei(2026, 12, 12, 9, 0))[1] == "剩 1 天"

    def test_a_receipt_just_after_taipei_midnight_counts_from_the_next_day(self):
        # 00:10 on 11/29 in Taipei is still 11/28 in UTC.
        received = dt.datetime(2026, 11, 28, 16, 10, tzinfo=dt.UTC)
        with time_machine.travel(received + dt.timedelta(minutes=1), tick=False):
            req = make_request(received_at=received)
        assert requests.last_day(req) == dt.date(2026, 12, 14)
        assert not requests.overdue(req, taipei(2026, 12, 14, 23, 59))
        assert requests.overdue(req, taipei(2026, 12, 15, 0, 0))

    def test_the_list_filter_agrees_with_the_deadline_at_both_ends(self):
        received = dt.datetime(2026, 11, 28, 15, 50, tzinfo=dt.UTC)  # 23:50 Taipei
        with time_machine.travel(received + dt.timedelta(minutes=1), tick=False):
            short = make_request(received_at=received)
            long = make_request(received_at=received, kind=Kind.DELETE)
        for moment, expected in (
            (taipei(2026, 12, 13, 23, 59, 59), set()),
            (taipei(2026, 12, 14, 0, 0), {short.pk}),
            (taipei(2026, 12, 28, 23, 59, 59), {short.pk}),
            (taipei(2026, 12, 29, 0, 0), {short.pk, long.pk}),
        ):
            found = set(
                SubjectRequest.objects.filter(requests.overdue_q(moment)).values_list(
                    "pk", flat=True
                )
            )
            assert found == expected, moment
        soon = SubjectRequest.objects.filter(requests.due_soon_q(taipei(2026, 12, 8, 9, 0)))
        assert list(soon.values_list("pk", flat=True)) == [short.pk]

    def test_an_extension_adds_the_same_period_once(self):
        short = make_request(kind=Kind.COPY)
        long = make_request(kind=Kind.STOP)
        for req in (short, long):
            requests.extend(req, actor=officer(), reason="需調閱歷年檔案", notified_on=NOW.date())
            req.refresh_from_db()
        assert requests.last_day(short) == dt.date(2026, 12, 28)  # 11/28 + 15 + 15
        assert requests.last_day(long) == dt.date(2027, 1, 27)  # 11/28 + 30 + 30
        assert requests.original_last_day(short) == dt.date(2026, 12, 13)
        found = SubjectRequest.objects.filter(requests.overdue_q(taipei(2026, 12, 20, 9, 0)))
        assert not found.exists()

    def test_a_reply_ends_the_countdown(self):
        req = decided()
        with time_machine.travel(taipei(2026, 12, 16, 10, 0), tick=False):
            requests.reply(req, actor=officer(), method="郵寄", text="已寄送。")
        req.refresh_from_db()
        assert requests.countdown(req, taipei(2027, 1, 1)) == (
            requests.Countdown.REPLIED_LATE,
            "逾期 3 天回覆",
        )
        assert not requests.overdue(req, taipei(2027, 1, 1))


# The steps ---------------------------------------------------------------------------------------
class TestIdentity:
    def test_the_check_records_how_who_and_when_audited(self):
        req = make_request()
        entries = AuditEntry.objects.count()
        requests.check_identity(
            req,
            actor=officer(),
            method="國民身分證正本核對",
            checked_at=taipei(2026, 11, 28, 9, 35),
        )
        req.refresh_from_db()
        assert req.identity_method == "國民身分證正本核對"
        assert req.identity_checked_by == officer()
        assert req.identity_checked_at == taipei(2026, 11, 28, 9, 35)
        assert requests.status(req) == requests.Status.PROCESSING
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == entries + 1
        assert entry.action == "update" and entry.actor_id == officer().pk
        assert "identity_method" in entry.changes

    def test_refusals_save_nothing(self):
        req = make_request()
        before = unchanged(req)
        cases = [
            ({"method": " "}, "identity_method", "國民身分證正本核對"),
            (
                {"method": "核對", "checked_at": taipei(2026, 11, 28, 9, 0)},
                "identity_checked_at",
                "不可早於受理時間",
            ),
            (
                {"method": "核對", "checked_at": NOW + dt.timedelta(hours=1)},
                "identity_checked_at",
                "不可晚於現在",
            ),
        ]
        for kwargs, field, text in cases:
            with pytest.raises(ValidationError) as excinfo:
                requests.check_identity(req, actor=officer(), **kwargs)
            assert text in errors_of(excinfo)[field][0]
            assert unchanged(req) == before

    def test_a_second_check_is_refused(self):
        req = identified()
        with pytest.raises(ValidationError) as excinfo:
            requests.check_identity(req, actor=officer(), method="再核對")
        assert "不需再次查核" in errors_of(excinfo)["identity_checked_at"][0]

    @pytest.mark.parametrize("role", [SUPERVISOR, SYSADMIN])
    def test_only_the_officer_checks(self, make_user, role):
        req = make_request()
        with pytest.raises(PermissionDenied):
            requests.check_identity(req, actor=make_user(f"r-{role}", role), method="核對")


class TestExtension:
    def extend(self, req, **kwargs):
        kwargs.setdefault("reason", "需向畢業年度導師查證原始紀錄")
        kwargs.setdefault("notified_on", dt.date(2026, 11, 28))
        return requests.extend(req, actor=officer(), **kwargs)

    def test_an_extension_records_the_reason_and_the_notice_audited(self):
        req = make_request(kind=Kind.CORRECT)
        entries = AuditEntry.objects.count()
        self.extend(req)
        req.refresh_from_db()
        assert req.extended_at == NOW and req.extension_notified_on == dt.date(2026, 11, 28)
        assert requests.status(req) == requests.Status.EXTENDED
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == entries + 1 and entry.actor_id == officer().pk

    def test_an_extension_without_a_written_reason_is_refused_citing_article_13(self):
        req = make_request()
        before = unchanged(req)
        with pytest.raises(ValidationError) as excinfo:
            self.extend(req, reason="  ")
        message = errors_of(excinfo)["extension_reason"][0]
        assert "延長須以書面通知請求人延長原因" in message
        assert "個人資料保護法第 13 條第 1 項" in message
        assert unchanged(req) == before
        long = make_request(kind=Kind.DELETE)
        with pytest.raises(ValidationError) as excinfo:
            self.extend(long, reason="")
        assert "第 13 條第 2 項" in errors_of(excinfo)["extension_reason"][0]

    def test_the_notice_date_is_given_not_before_receipt_not_in_the_future(self):
        req = make_request()
        before = unchanged(req)
        for notified_on, text in (
            (None, "書面通知請求人的日期"),
            (dt.date(2026, 11, 27), "不可早於受理日期"),
            (dt.date(2026, 11, 29), "不可晚於今天"),
        ):
            with pytest.raises(ValidationError) as excinfo:
                self.extend(req, notified_on=notified_on)
            assert text in errors_of(excinfo)["extension_notified_on"][0]
            assert unchanged(req) == before

    def test_a_second_extension_is_refused(self):
        req = make_request()
        self.extend(req)
        before = unchanged(req)
        with pytest.raises(ValidationError) as excinfo:
            self.extend(req, reason="再延一次")
        message = errors_of(excinfo)["extended_at"][0]
        assert "僅得延長一次" in message and "第 13 條" in message
        assert unchanged(req) == before

    def test_an_extension_after_the_deadline_is_refused(self):
        req = make_request()  # due by the end of 115/12/13
        with time_machine.travel(taipei(2026, 12, 13, 23, 59), tick=False):
            assert self.extend(make_request(), notified_on=dt.date(2026, 12, 13)).extended_at
        with (
            time_machine.travel(taipei(2026, 12, 14, 0, 0), tick=False),
            pytest.raises(ValidationError) as excinfo,
        ):
            self.extend(req, notified_on=dt.date(2026, 12, 13))
        assert "已屆滿" in errors_of(excinfo)["extended_at"][0]
        req.refresh_from_db()
        assert req.extended_at is None

    def test_an_extension_after_the_decision_or_the_reply_is_refused(self):
        req = decided()
        with pytest.raises(ValidationError) as excinfo:
            self.extend(req)
        assert "准駁決定" in errors_of(excinfo)["extended_at"][0]
        requests.reply(req, actor=officer(), method="郵寄", text="已寄送。")
        with pytest.raises(ValidationError) as excinfo:
            self.extend(req)
        assert "已回覆" in errors_of(excinfo)["extended_at"][0]


class TestDecision:
    def test_a_decision_before_the_identity_check_is_refused(self):
        req = make_request()
        before = unchanged(req)
        with pytest.raises(ValidationError) as excinfo:
            requests.decide(req, actor=officer(), decision=Decision.GRANTED)
        message = errors_of(excinfo)["decision"][0]
        assert "請先查核請求人身分" in message and "第 3 條" in message
        assert unchanged(req) == before

    def test_a_refusal_or_partial_grant_states_its_reason_citing_the_article(self):
        view = identified()
        for decision in (Decision.REFUSED, Decision.PARTIAL):
            with pytest.raises(ValidationError) as excinfo:
                requests.decide(view, actor=officer(), decision=decision, reason=" ")
            assert "第 10 條但書" in errors_of(excinfo)["decision_reason"][0]
        correct = identified(kind=Kind.CORRECT)
        with pytest.raises(ValidationError) as excinfo:
            requests.decide(correct, actor=officer(), decision=Decision.REFUSED)
        assert "第 11 條" in errors_of(excinfo)["decision_reason"][0]
        view.refresh_from_db()
        assert view.decided_at is None

    def test_a_grant_needs_no_reason_and_is_audited_with_who_decided(self):
        req = identified()
        entries = AuditEntry.objects.count()
        requests.decide(req, actor=officer(), decision=Decision.GRANTED)
        req.refresh_from_db()
        assert req.decision == Decision.GRANTED and req.decided_by == officer()
        assert requests.status(req) == requests.Status.DECIDED
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == entries + 1 and entry.actor_id == officer().pk

    def test_a_refusal_with_its_basis_is_recorded(self):
        req = identified(kind=Kind.DELETE)
        reason = (
            "學籍資料依高級中等教育法須永久保存，屬執行職務所必須"
            "（個人資料保護法第 11 條第 3 項但書）。"
        )
        requests.decide(req, actor=officer(), decision=Decision.REFUSED, reason=reason)
        req.refresh_from_db()
        assert req.decision_reason == reason

    def test_the_decision_and_its_moment_are_checked(self):
        req = make_request()
        requests.check_identity(
            req, actor=officer(), method="核對", checked_at=taipei(2026, 11, 28, 10, 0)
        )
        before = unchanged(req)
        for kwargs, field, text in (
            ({"decision": "maybe"}, "decision", "准予、部分准予或駁回"),
            (
                {"decision": Decision.GRANTED, "decided_at": taipei(2026, 11, 28, 9, 50)},
                "decided_at",
                "不可早於身分查核時間",
            ),
            (
                {"decision": Decision.GRANTED, "decided_at": NOW + dt.timedelta(days=1)},
                "decided_at",
                "不可晚於現在",
            ),
        ):
            with pytest.raises(ValidationError) as excinfo:
                requests.decide(req, actor=officer(), **kwargs)
            assert text in errors_of(excinfo)[field][0]
            assert unchanged(req) == before

    def test_a_second_decision_is_refused(self):
        req = decided()
        with pytest.raises(ValidationError) as excinfo:
            requests.decide(req, actor=officer(), decision=Decision.REFUSED, reason="改變心意")
        assert "作廢後重新登錄" in errors_of(excinfo)["decision"][0]


class TestReply:
    def test_a_reply_before_the_decision_is_refused(self):
        req = identified()
        before = unchanged(req)
        with pytest.raises(ValidationError) as excinfo:
            requests.reply(req, actor=officer(), method="郵寄", text="已寄送。")
        assert "請先作成准駁決定" in errors_of(excinfo)["replied_at"][0]
        assert unchanged(req) == before

    def test_the_reply_says_when_how_and_what(self):
        req = decided()
        before = unchanged(req)
        for kwargs, field, text in (
            ({"method": "", "text": "已寄送。"}, "reply_method", "回覆方式"),
            ({"method": "郵寄", "text": " "}, "reply_text", "回覆內容"),
            (
                {"method": "郵寄", "text": "x", "replied_at": NOW + dt.timedelta(hours=2)},
                "replied_at",
                "不可晚於現在",
            ),
            (
                {"method": "郵寄", "text": "x", "replied_at": taipei(2026, 11, 28, 9, 0)},
                "replied_at",
                "不可早於決定時間",
            ),
        ):
            with pytest.raises(ValidationError) as excinfo:
                requests.reply(req, actor=officer(), **kwargs)
            assert text in errors_of(excinfo)[field][0]
            assert unchanged(req) == before

    def test_the_reply_closes_the_request_audited(self):
        req = decided()
        entries = AuditEntry.objects.count()
        requests.reply(req, actor=officer(), method="掛號郵寄", text="已寄送資料複製本。")
        req.refresh_from_db()
        assert req.replied_at == NOW and requests.status(req) == requests.Status.REPLIED
        assert requests.countdown(req) == (requests.Countdown.REPLIED, "已回覆")
        assert AuditEntry.objects.count() == entries + 1
        assert AuditEntry.objects.order_by("-id").first().actor_id == officer().pk
        with pytest.raises(ValidationError) as excinfo:
            requests.reply(req, actor=officer(), method="郵寄", text="再寄一次")
        assert "已於" in errors_of(excinfo)["replied_at"][0]


class TestStatusFilter:
    def test_each_status_filter_matches_the_status_function(self):
        fresh = make_request()
        checked = identified()
        extended = make_request()
        requests.extend(extended, actor=officer(), reason="查證中", notified_on=NOW.date())
        done = decided()
        answered = decided()
        requests.reply(answered, actor=officer(), method="郵寄", text="已寄送。")
        expected = {
            requests.Status.IDENTITY: fresh,
            requests.Status.PROCESSING: checked,
            requests.Status.EXTENDED: extended,
            requests.Status.DECIDED: done,
            requests.Status.REPLIED: answered,
        }
        for code, req in expected.items():
            found = list(SubjectRequest.objects.filter(requests.status_filter(code)))
            assert found == [req], code
            req.refresh_from_db()
            assert requests.status(req) == code
