"""Paper personal-data transfers (紙本個資轉交紀錄; clause 7.6): the register per role and
scope, the rules of a transfer, the receipt (only the recipient confirms), the lock after
it, the 逾期未確認 flag, 待我確認收件, the recipient's notice, the duty and the sheet."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core.models import SchoolProfile
from isms.core.roles import (
    ALL_ROLES,
    GUARD,
    MANAGERS,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.notifications.models import Notification
from isms.privacy import transfers
from isms.privacy.models import PaperTransfer
from isms.privacy.views_transfers import TransferRegister

from .helpers import client_as as login
from .helpers import frozen_at, taipei, the_user, token_client

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)  # 115/11/28 14:05 in Taipei
_frozen = frozen_at(NOW)
DUTY = "privacy.transfer_confirmed"
CLIENT_ROLES = frozenset(ALL_ROLES - MANAGERS)


def sender():
    return the_user("t-sender", STAFF, name="劉雅婷")


def receiver():
    return the_user("t-recipient", STAFF, name="王淑芬")


def officer_user():
    return the_user("t-officer", SECURITY_OFFICER, STAFF, name="陳怡君")


def values_for(**values) -> dict:
    values.setdefault("what", "101 班學生緊急聯絡名冊")
    values.setdefault("copies", 1)
    values.setdefault("sealed", True)
    values.setdefault("handed_at", taipei(2026, 11, 28, 9, 30))
    if "external_recipient" not in values:
        values.setdefault("recipient", receiver())
    return values


def transfer(by=None, **values) -> PaperTransfer:
    """A transfer recorded through the service (by default by its sender)."""
    return transfers.transfer_save(PaperTransfer(**values_for(**values)), actor=by or sender())


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


@pytest.fixture
def officer():
    return officer_user()


# The register: pages and API for every role ----------------------------------------------------
class TestTransferRegister(RegisterContract):
    register = TransferRegister
    api_prefix = "paper-transfers"
    readers = MANAGERS
    scoped_readers = CLIENT_ROLES
    writers = ALL_ROLES
    voiders = frozenset({SECURITY_OFFICER})
    exporters = MANAGERS

    def make_sample(self, **overrides):
        return transfer(**overrides)

    def form_data(self):
        return {
            "what": "教師甄選口試評分表",
            "copies": "2",
            "sealed": "True",
            "recipient": receiver().pk,
            "handed_at": "115/11/28 09:30",
        }

    def change_data(self, obj):
        return {**self.form_data(), "notes": "由工友代送"}

    def invalid_form_data(self):
        return {"what": "", "copies": "0", "sealed": "False", "handed_at": "115/11/28 09:30"}

    def api_data(self):
        return {
            "what": "高三升學輔導調查名冊",
            "copies": 1,
            "sealed": False,
            "protection": "裝入機密公文袋由專人遞送",
            "external_recipient": "新北市政府教育局中等教育科",
            "handed_at": "2026-11-28T09:30:00+08:00",
        }

    def writer(self, client_for):
        # Any role records its own transfers; the officer also corrects anyone's (the sample's).
        return client_for(SECURITY_OFFICER)

    def assert_one_write_audited(self, entries_before, user):
        # A transfer to a school login also queues the recipient's notice (its own entry).
        new = list(AuditEntry.objects.order_by("id")[entries_before:])
        assert [e.model_label for e in new if e.model_label == "privacy.papertransfer"]
        assert all(e.actor_id == user.pk for e in new)

    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        c = client_for(STAFF)
        data = self.form_data()
        entries = self.entries()
        response = c.post(self.url("add"), data)
        assert response.status_code == 302, response.context["form"].errors
        saved = PaperTransfer.objects.get()
        assert saved.sender == c.user and saved.copies == 2 and saved.sealed
        new = list(AuditEntry.objects.order_by("id")[entries:])
        assert [(e.model_label, e.action) for e in new] == [
            ("privacy.papertransfer", "create"),
            ("notifications.notification", "create"),
        ]
        assert all(e.actor_id == c.user.pk for e in new)

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        # Only the sender (not this new person) or the officer corrects a transfer.
        obj = self.make_sample()
        response = client_for(*roles_for(role)).get(self.url("edit", obj.pk))
        expected = 200 if role == SECURITY_OFFICER else 403 if role == "none" else 404
        assert response.status_code == expected

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_void_answers_by_role(self, role, client_for):
        obj = self.make_sample()
        c = client_for(*roles_for(role))
        response = c.post(self.url("void", obj.pk), {"reason": "重複建檔"})
        obj.refresh_from_db()
        if role == SECURITY_OFFICER:
            assert response.status_code == 302 and obj.void_reason == "重複建檔"
        else:
            assert response.status_code == (403 if role == "none" else 404)
            assert obj.voided_at is None

    def test_api_update_writes_one_audit_entry(self, client_for):
        obj = self.make_sample()
        c = self.api_client(client_for, SECURITY_OFFICER)
        entries = self.entries()
        response = c.patch(
            self.api_url(obj.pk), json.dumps({"notes": "補註"}), content_type="application/json"
        )
        assert response.status_code == 200, response.content
        self.assert_one_write_audited(entries, c.user)


# Who sees and changes what ------------------------------------------------------------------------
class TestScope:
    def test_a_person_reads_what_they_sent_and_received_only(self):
        mine = transfer()
        other = transfer(the_user("someone", STAFF), recipient=the_user("else", GUARD))
        for who in (sender(), receiver()):
            c = login(who)
            page = c.get(reverse("privacy:papertransfer_list")).content.decode()
            assert mine.what in page
            assert c.get(mine.get_absolute_url()).status_code == 200
            assert c.get(other.get_absolute_url()).status_code == 404
            api = token_client(who).get("/api/paper-transfers/").json()
            assert [row["id"] for row in api["results"]] == [mine.pk]

    @pytest.mark.parametrize("role", sorted(MANAGERS))
    def test_the_managers_read_every_transfer(self, make_user, role):
        t = transfer()
        c = login(make_user(f"m-{role}", role))
        assert c.get(t.get_absolute_url()).status_code == 200
        assert "101 班" in c.get(reverse("privacy:papertransfer_list")).content.decode()

    @pytest.mark.parametrize("role", [SUPERVISOR, PRINCIPAL])
    def test_a_manager_other_than_the_officer_does_not_correct_others_transfers(
        self, make_user, role
    ):
        t = transfer()
        c = login(make_user(f"m-{role}", role))
        assert c.get(reverse("privacy:papertransfer_edit", args=[t.pk])).status_code == 404
        with pytest.raises(PermissionDenied):
            transfers.transfer_save(t, actor=c.user)

    def test_the_recipient_neither_edits_nor_voids(self):
        t = transfer()
        c = login(receiver())
        assert c.get(reverse("privacy:papertransfer_edit", args=[t.pk])).status_code == 404
        response = c.post(reverse("privacy:papertransfer_void", args=[t.pk]), {"reason": "錯"})
        assert response.status_code == 404
        page = c.get(t.get_absolute_url()).content.decode()
        assert reverse("privacy:papertransfer_edit", args=[t.pk]) not in page

    def test_the_sender_corrects_and_voids_their_own(self):
        t = transfer()
        c = login(sender())
        data = {
            "what": "101 班學生緊急聯絡名冊（更正）",
            "copies": "1",
            "sealed": "True",
            "recipient": receiver().pk,
            "handed_at": "115/11/28 09:30",
        }
        assert c.post(reverse("privacy:papertransfer_edit", args=[t.pk]), data).status_code == 302
        t.refresh_from_db()
        assert t.what.endswith("（更正）") and t.sender == sender()
        response = c.post(reverse("privacy:papertransfer_void", args=[t.pk]), {"reason": "登錯"})
        assert response.status_code == 302
        t.refresh_from_db()
        assert t.voided_by == sender()

    def test_only_the_managers_export(self):
        transfer()
        response = login(sender()).get(reverse("privacy:papertransfer_export"), {"format": "csv"})
        assert response.status_code == 403

    def test_a_login_without_a_role_is_refused(self, client_for):
        c = client_for()
        assert c.get(reverse("privacy:papertransfer_list")).status_code == 403
        assert c.get(reverse("privacy:papertransfer_awaiting")).status_code == 403


# Recording: the rules of 7.6 ----------------------------------------------------------------------
class TestRecording:
    def test_the_sender_is_the_person_recording_and_it_is_audited(self):
        sender()
        before = AuditEntry.objects.count()
        t = transfer(external_recipient="新北市政府教育局")
        assert t.sender == sender() and t.received_at is None
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == before + 1
        assert (entry.action, entry.actor_id, entry.object_id) == ("create", sender().pk, str(t.pk))

    def test_the_officer_may_record_for_another_sender(self, officer):
        t = transfer(officer, sender=sender())
        assert t.sender == sender()
        form = login(officer).get(reverse("privacy:papertransfer_add")).content.decode()
        assert 'name="sender"' in form

    def test_nobody_else_records_for_another_sender(self):
        with pytest.raises(ValidationError) as excinfo:
            transfer(receiver(), sender=sender(), recipient=the_user("third", STAFF))
        assert "資安業務承辦人" in errors_of(excinfo)["sender"][0]
        page = login(sender()).get(reverse("privacy:papertransfer_add")).content.decode()
        assert 'name="sender"' not in page

    def test_a_login_without_a_role_records_nothing(self, make_user):
        with pytest.raises(PermissionDenied):
            transfer(make_user("nobody"))

    def test_what_and_copies_are_required(self):
        with pytest.raises(ValidationError) as excinfo:
            transfer(what="  ", copies=0)
        errors = errors_of(excinfo)
        assert "7.6" in errors["what"][0]
        assert errors["copies"] == ["份數至少為 1 份。"]

    def test_unsealed_needs_the_other_confidential_way(self):
        with pytest.raises(ValidationError) as excinfo:
            transfer(sealed=False, protection=" ")
        message = errors_of(excinfo)["protection"][0]
        assert "須採取彌封或其他具備保密機制之傳遞方式" in message and "7.6" in message
        t = transfer(sealed=False, protection="裝入機密公文袋由專人遞送")
        assert t.protection == "裝入機密公文袋由專人遞送"
        assert transfer(sealed=True, protection="不相干").protection == ""

    def test_exactly_one_recipient(self):
        with pytest.raises(ValidationError) as both:
            transfer(recipient=receiver(), external_recipient="新北市政府教育局")
        assert "擇一" in errors_of(both)["recipient"][0]
        with pytest.raises(ValidationError) as none:
            transfer(recipient=None, external_recipient="")
        assert "7.6" in errors_of(none)["recipient"][0]
        assert transfer(recipient=None, external_recipient="新北市政府教育局").pk

    def test_the_school_recipient_is_an_active_login_and_not_the_sender(self, make_user):
        gone = the_user("gone", STAFF, is_active=False)
        with pytest.raises(ValidationError) as inactive:
            transfer(recipient=gone)
        assert "在職" in errors_of(inactive)["recipient"][0]
        with pytest.raises(ValidationError) as roleless:
            transfer(recipient=make_user("roleless"))
        assert "recipient" in errors_of(roleless)
        with pytest.raises(ValidationError) as itself:
            transfer(recipient=sender())
        assert errors_of(itself)["recipient"] == ["轉交人與收件人不可為同一人。"]

    def test_the_moment_is_required_and_not_in_the_future(self):
        assert transfer(handed_at=NOW + dt.timedelta(minutes=4)).pk
        with pytest.raises(ValidationError) as future:
            transfer(handed_at=NOW + dt.timedelta(minutes=6))
        assert "晚於現在" in errors_of(future)["handed_at"][0]
        with pytest.raises(ValidationError) as missing:
            transfer(handed_at=None)
        assert "handed_at" in errors_of(missing)

    def test_a_refusal_saves_nothing(self):
        sender(), receiver()
        entries = AuditEntry.objects.count()
        with pytest.raises(ValidationError):
            transfer(sealed=False, protection="")
        assert not PaperTransfer.objects.exists() and AuditEntry.objects.count() == entries
        assert not Notification.objects.exists()

    def test_the_page_refuses_bad_input_with_the_clause(self):
        c = login(sender())
        data = {"what": "名冊", "copies": "1", "sealed": "False", "handed_at": "115/11/28 09:30"}
        response = c.post(reverse("privacy:papertransfer_add"), data)
        assert response.status_code == 400
        page = response.content.decode()
        assert "須採取彌封或其他具備保密機制之傳遞方式" in page
        assert "請選擇本校收件人或填寫校外收件人" in page
        assert not PaperTransfer.objects.exists()

    def test_an_edit_without_a_moment_is_refused_not_a_500(self):
        t = transfer()
        data = {"what": "名冊", "copies": "1", "sealed": "True", "recipient": receiver().pk}
        response = login(sender()).post(reverse("privacy:papertransfer_edit", args=[t.pk]), data)
        assert response.status_code == 400 and "請填寫轉交時間" in response.content.decode()

    def test_the_api_refuses_bad_input_with_field_errors(self):
        c = token_client(sender())
        body = {"what": "名冊", "sealed": False, "recipient": sender().pk}
        response = c.post(
            "/api/paper-transfers/", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 400
        errors = response.json()
        assert {"protection", "recipient", "handed_at"} <= set(errors)
        assert not PaperTransfer.objects.exists()

    def test_the_school_recipient_is_notified_once(self):
        t = transfer()
        note = Notification.objects.get()
        assert note.recipient == receiver()
        assert t.what in note.subject and "7.6" in note.body
        assert reverse("privacy:papertransfer_awaiting") in note.body
        transfers.transfer_save(t, actor=sender())  # saved again: no second notice
        assert Notification.objects.count() == 1
        third = the_user("third", STAFF)
        t.recipient = third
        transfers.transfer_save(t, actor=sender())  # a new recipient hears of it
        assert Notification.objects.filter(recipient=third).count() == 1

    def test_an_outside_recipient_is_not_notified(self):
        transfer(external_recipient="新北市政府教育局", recipient=None)
        assert not Notification.objects.exists()


# The receipt --------------------------------------------------------------------------------------
class TestReceipt:
    def test_the_recipient_confirms_with_one_button_on_the_transfer_page(self):
        t = transfer()
        c = login(receiver())
        page = c.get(t.get_absolute_url()).content.decode()
        assert reverse("privacy:papertransfer_confirm", args=[t.pk]) in page
        response = c.post(reverse("privacy:papertransfer_confirm", args=[t.pk]))
        assert response.status_code == 302
        t.refresh_from_db()
        assert t.received_at == NOW and t.received_by == receiver()
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.action == "update" and entry.actor_id == receiver().pk

    @pytest.mark.parametrize("who", ["sender", "officer", "supervisor"])
    def test_only_the_recipient_confirms_a_school_recipients_transfer(self, who, make_user):
        t = transfer()
        actor = {
            "sender": sender(),
            "officer": officer_user(),
            "supervisor": make_user("sup", SUPERVISOR),
        }[who]
        with pytest.raises(PermissionDenied):
            transfers.transfer_confirm(t, actor=actor)
        response = login(actor).post(reverse("privacy:papertransfer_confirm", args=[t.pk]))
        assert response.status_code == 403
        assert "確認收件" not in _confirm_card(login(actor).get(t.get_absolute_url()))
        t.refresh_from_db()
        assert t.received_at is None

    def test_an_outsider_cannot_even_see_it(self):
        t = transfer()
        c = login(the_user("outsider", STAFF))
        assert c.post(reverse("privacy:papertransfer_confirm", args=[t.pk])).status_code == 404

    def test_a_second_confirmation_is_refused_with_who_and_when(self):
        t = transfer()
        transfers.transfer_confirm(t, actor=receiver())
        response = login(receiver()).post(reverse("privacy:papertransfer_confirm", args=[t.pk]))
        assert response.status_code == 400
        assert "不需再次確認" in response.content.decode()

    def test_a_voided_transfer_is_not_confirmed(self):
        t = transfer()
        transfers.transfer_void(t, actor=sender(), reason="登錯")
        with pytest.raises(ValidationError):
            transfers.transfer_confirm(t, actor=receiver())

    def test_the_sender_records_an_outside_recipients_receipt_with_how(self):
        t = transfer(recipient=None, external_recipient="新北市政府教育局")
        with pytest.raises(ValidationError) as no_note:
            transfers.transfer_confirm(t, actor=sender())
        assert "簽收單" in errors_of(no_note)["receipt_note"][0]
        with pytest.raises(ValidationError) as early:
            transfers.transfer_confirm(
                t, actor=sender(), receipt_note="簽收單", received_at=taipei(2026, 11, 28, 9, 0)
            )
        assert errors_of(early)["received_at"] == ["收件時間不可早於轉交時間。"]
        c = login(sender())
        response = c.post(
            reverse("privacy:papertransfer_confirm", args=[t.pk]),
            {"received_at": "115/11/28 11:00", "receipt_note": "教育局收發室簽收單"},
        )
        assert response.status_code == 302
        t.refresh_from_db()
        assert t.received_at == taipei(2026, 11, 28, 11, 0) and t.received_by == sender()
        assert t.receipt_note == "教育局收發室簽收單"

    def test_the_officer_may_record_an_outside_receipt_and_the_page_shows_a_refusal(self, officer):
        t = transfer(recipient=None, external_recipient="新北市政府教育局")
        c = login(officer)
        response = c.post(reverse("privacy:papertransfer_confirm", args=[t.pk]), {})
        assert response.status_code == 400
        assert "回覆郵件" in response.content.decode()
        response = c.post(
            reverse("privacy:papertransfer_confirm", args=[t.pk]), {"receipt_note": "回覆郵件"}
        )
        assert response.status_code == 302

    def test_the_api_confirms(self):
        t = transfer()
        url = f"/api/paper-transfers/{t.pk}/confirm/"
        assert (
            token_client(sender()).post(url, "{}", content_type="application/json").status_code
            == 403
        )
        response = token_client(receiver()).post(url, "{}", content_type="application/json")
        assert response.status_code == 200 and response.json()["status"] == "confirmed"
        again = token_client(receiver()).post(url, "{}", content_type="application/json")
        assert again.status_code == 400

    def test_after_the_receipt_only_the_notes_change(self):
        t = transfer()
        transfers.transfer_confirm(t, actor=receiver())
        t.refresh_from_db()
        t.what = "改過的內容"
        with pytest.raises(ValidationError) as excinfo:
            transfers.transfer_save(t, actor=sender())
        assert "只能修改備註" in errors_of(excinfo)["what"][0]
        t.refresh_from_db()
        t.notes = "收件人已歸檔"
        transfers.transfer_save(t, actor=sender())
        t.refresh_from_db()
        assert t.notes == "收件人已歸檔" and t.what == "101 班學生緊急聯絡名冊"
        form = login(sender()).get(reverse("privacy:papertransfer_edit", args=[t.pk]))
        assert form.context["form"].fields["what"].disabled
        assert not form.context["form"].fields["notes"].disabled


def _confirm_card(response) -> str:
    page = response.content.decode()
    start = page.find('id="confirm"')
    return page[start : start + 600] if start >= 0 else ""


# 待我確認收件 -----------------------------------------------------------------------------------
class TestAwaiting:
    def test_the_page_lists_only_my_open_transfers_and_confirms_them(self):
        mine = transfer()
        done = transfer(what="已確認的文件")
        transfers.transfer_confirm(done, actor=receiver())
        transfer(the_user("someone", STAFF), what="別人的文件", recipient=the_user("else", STAFF))
        c = login(receiver())
        page = c.get(reverse("privacy:papertransfer_awaiting")).content.decode()
        assert mine.what in page and "已確認的文件" not in page and "別人的文件" not in page
        response = c.post(
            reverse("privacy:papertransfer_confirm", args=[mine.pk]), {"from": "awaiting"}
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("privacy:papertransfer_awaiting")
        mine.refresh_from_db()
        assert mine.received_by == receiver()
        assert (
            "沒有待您確認收件" in c.get(reverse("privacy:papertransfer_awaiting")).content.decode()
        )

    def test_a_refusal_shows_the_page_again_with_the_reason(self):
        t = transfer()
        transfers.transfer_confirm(t, actor=receiver())
        response = login(receiver()).post(
            reverse("privacy:papertransfer_confirm", args=[t.pk]), {"from": "awaiting"}
        )
        assert response.status_code == 400 and "不需再次確認" in response.content.decode()

    def test_it_is_in_the_menu_and_counted_on_the_list(self):
        transfer()
        c = login(receiver())
        home = c.get("/").content.decode()
        assert reverse("privacy:papertransfer_awaiting") in home
        page = c.get(reverse("privacy:papertransfer_list")).content.decode()
        assert 'data-awaiting>待我確認收件 <span class="badge text-bg-danger">1</span>' in page


# 逾期未確認 ---------------------------------------------------------------------------------------
class TestOverdue:
    def test_due_by_the_end_of_the_third_day_after_the_hand_over(self, settings):
        assert transfers.confirm_due(taipei(2026, 11, 24, 16, 30)) == taipei(2026, 11, 28, 0, 0)
        assert transfers.confirm_due(taipei(2026, 11, 24, 0, 0)) == taipei(2026, 11, 28, 0, 0)
        settings.ISMS_TRANSFER_CONFIRM_DAYS = 1
        assert transfers.confirm_due(taipei(2026, 11, 24, 16, 30)) == taipei(2026, 11, 26, 0, 0)

    def test_the_list_flags_open_transfers_past_their_day_in_red(self):
        old = transfer(what="舊的轉交", handed_at=taipei(2026, 11, 24, 23, 59))
        recent = transfer(what="新的轉交", handed_at=taipei(2026, 11, 25, 0, 0))
        confirmed = transfer(what="已確認", handed_at=taipei(2026, 11, 20, 9, 0))
        confirmed = transfers.transfer_confirm(confirmed, actor=receiver())
        assert transfers.status(old) == "overdue"
        assert transfers.status(recent) == "open"
        assert transfers.status(confirmed) == "confirmed"
        c = login(sender())
        page = c.get(reverse("privacy:papertransfer_list")).content.decode()
        assert page.count('class="table-danger"') == 1
        assert 'data-status="overdue" class="text-danger fw-bold">逾期未確認' in page
        for code, what in (("overdue", "舊的轉交"), ("open", "新的轉交"), ("confirmed", "已確認")):
            rows = c.get(reverse("privacy:papertransfer_list"), {"state": code}).context["rows"]
            assert what in rows and rows.count("<tr") == 1, code

    def test_the_flag_follows_the_setting(self, settings):
        t = transfer(handed_at=taipei(2026, 11, 26, 9, 0))
        assert transfers.status(t) == "open"
        settings.ISMS_TRANSFER_CONFIRM_DAYS = 1
        assert transfers.status(t) == "overdue"
        rows = login(sender()).get(reverse("privacy:papertransfer_list"), {"state": "overdue"})
        assert t.what in rows.context["rows"]


# The duty ----------------------------------------------------------------------------------------
def state_of(t):
    return ObligationState.objects.filter(key=DUTY, subject_id=str(t.pk)).first()


class TestDuty:
    def test_due_at_the_end_of_the_confirmation_day(self):
        t = transfer(handed_at=taipei(2026, 11, 28, 9, 30))
        due = taipei(2026, 12, 2, 0, 0)
        state = state_of(t)  # refreshed when the transfer was recorded
        assert state.status == "ok" and state.next_due_at == due and state.clause == "7.6"
        for moment, status in (
            (due - dt.timedelta(days=1, seconds=1), "ok"),
            (due - dt.timedelta(days=1), "due_soon"),
            (due - dt.timedelta(seconds=1), "due_soon"),
            (due, "overdue"),
        ):
            with time_machine.travel(moment, tick=False):
                engine.refresh(DUTY)
                assert state_of(t).status == status, moment

    def test_the_receipt_is_the_evidence(self):
        t = transfer(handed_at=taipei(2026, 11, 20, 9, 0))
        assert state_of(t).status == "overdue"
        transfers.transfer_confirm(t, actor=receiver())
        state = state_of(t)
        assert state.status == "ok" and state.last_done_at == NOW
        ob = registry.REGISTRY[DUTY]
        since, until = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
        assert ob.history(ob.all_subjects(), since, until) == [(t.pk, NOW)]

    def test_a_voided_transfer_leaves(self):
        t = transfer(handed_at=taipei(2026, 11, 20, 9, 0))
        transfers.transfer_void(t, actor=sender(), reason="重複登錄")
        assert state_of(t) is None

    def test_reminders_reach_the_recipient_and_the_sender(self):
        t = transfer(handed_at=taipei(2026, 11, 20, 9, 0))
        ob = registry.REGISTRY[DUTY]
        assert {u.username for u in ob.recipients(state_of(t))} == {"t-sender", "t-recipient"}
        outside = transfer(recipient=None, external_recipient="教育局")
        assert [u.username for u in ob.recipients(state_of(outside))] == ["t-sender"]
        engine.run_due()
        sent = Notification.objects.filter(dedup_key__startswith=f"obl:{DUTY}:{t.pk}:")
        assert {n.recipient.username for n in sent} == {"t-sender", "t-recipient"}
        assert "7.6" in sent.first().subject

    def test_the_officers_are_reminded_when_nobody_is_left(self, officer):
        t = transfer(recipient=None, external_recipient="教育局")
        sender().__class__.objects.filter(pk=sender().pk).update(is_active=False)
        ob = registry.REGISTRY[DUTY]
        assert [u.username for u in ob.recipients(state_of(t))] == ["t-officer"]

    def test_the_transfers_are_in_the_evidence_binder(self):
        record = registry.RECORDS["privacy.papertransfer"]
        assert record.date_field == "handed_at" and record.obligations == (DUTY,)
        assert record.clause == "7.6"


# The month's sheet -------------------------------------------------------------------------------
class TestPrint:
    def url(self, **params):
        from django.utils.http import urlencode

        return f"{reverse('privacy:papertransfer_print')}?{urlencode(params)}"

    def test_the_sheet_of_the_month(self, officer):
        profile = SchoolProfile.load()
        profile.name = "新北市穀保高級家事商業職業學校"
        profile.save()
        sealed = transfer()
        transfers.transfer_confirm(sealed, actor=receiver())
        transfer(
            recipient=None,
            external_recipient="新北市政府教育局",
            sealed=False,
            protection="機密公文袋專人遞送",
        )
        transfer(what="上個月的", handed_at=taipei(2026, 10, 30, 9, 0))
        gone = transfer(what="登錯的文件")
        transfers.transfer_void(gone, actor=sender(), reason="登錯")
        response = login(officer).get(self.url(month="115-11"))
        assert response.status_code == 200
        page = response.content.decode()
        assert "新北市穀保高級家事商業職業學校 紙本個資轉交紀錄" in page
        assert "民國 115 年 11 月" in page and "115/11/28" in page
        assert (
            page.count("data-transfer=") == 2
            and "上個月的" not in page
            and "登錯的文件" not in page
        )
        assert "&#9745;彌封" in page and "機密公文袋專人遞送" in page
        assert "新北市政府教育局" in page and "王淑芬" in page and "劉雅婷" in page
        assert page.count("data-empty") == 8  # ten lines a page

    def test_a_person_prints_only_their_own(self):
        transfer()
        transfer(the_user("someone", STAFF), what="別人的文件", recipient=the_user("else", STAFF))
        page = login(receiver()).get(self.url(month="115-11")).content.decode()
        assert page.count("data-transfer=") == 1 and "別人的文件" not in page

    def test_a_bad_month_is_refused(self, officer):
        response = login(officer).get(self.url(month="11月"))
        assert response.status_code == 400
        assert "月份請以民國年-月填寫" in response.content.decode()

    @pytest.mark.parametrize("role", [GUARD, SYSADMIN])
    def test_every_role_may_print(self, make_user, role):
        assert login(make_user(f"p-{role}", role)).get(self.url()).status_code == 200


# The demo -----------------------------------------------------------------------------------
def test_the_demo_shows_each_case_once():
    from isms.core import demo as school
    from isms.privacy import demo_transfers

    school.load()
    demo_transfers.load_demo()
    demo_transfers.load_demo()  # idempotent
    rows = {t.what.split("（")[0]: t for t in PaperTransfer.objects.all()}
    assert len(rows) == 3
    sealed = rows["114 學年度教師成績考核資料"]
    bureau = rows["高三學生升學輔導調查名冊"]
    late = rows["圖書館借閱逾期學生名單"]
    assert sealed.sealed and transfers.status(sealed) == "confirmed"
    assert sealed.received_by.username == "principal"
    assert not bureau.sealed and bureau.protection and bureau.external_recipient
    assert bureau.receipt_note and transfers.status(bureau) == "confirmed"
    assert transfers.status(late) == "overdue" and late.recipient.username == "teacher"
