"""Compliance pages and API: dashboard, settings within the policy's limits, A-6 review."""

import datetime as dt

import pytest
from django.utils import timezone

from isms.compliance import engine
from isms.compliance.models import ContactReview, ObligationSetting, ObligationState, PolicyRevision
from isms.compliance.views import PolicyRevisionRegister
from isms.core.models import ContactEntry
from isms.core.roles import (
    ALL_ROLES,
    MANAGERS,
    PERSONNEL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
)
from isms.core.testing import RegisterContract


@pytest.mark.django_db
class TestPolicyRevisionRegister(RegisterContract):
    register = PolicyRevisionRegister
    api_prefix = "policy-revisions"
    readers = ALL_ROLES
    writers = frozenset({SECURITY_OFFICER})
    counter = 0

    def make_sample(self, **overrides):
        TestPolicyRevisionRegister.counter += 1
        fields = {
            "version": f"v{TestPolicyRevisionRegister.counter}",
            "adopted_on": dt.date(2018, 6, 29),
            "approved_on": dt.date(2018, 7, 2),
        }
        fields.update(overrides)
        return PolicyRevision.objects.create(**fields)

    def form_data(self):
        return {
            "kind": "revision",
            "version": "115-1",
            "adopted_on": "115/06/29",
            "approved_on": "115/07/02",
            "summary": "依教育部新版範本修訂",
        }

    def change_data(self, obj):
        return self.form_data() | {"version": obj.version, "summary": "修正文字"}

    def invalid_form_data(self):
        return {"kind": "x", "version": "", "adopted_on": "115/02/30"}

    def api_data(self):
        return {"kind": "revision", "version": "115-2", "adopted_on": "2026-06-29"}

    def test_approval_cannot_precede_adoption(self, client_for):
        c = client_for(SECURITY_OFFICER)
        data = self.form_data() | {"approved_on": "115/06/01"}
        response = c.post(self.url("add"), data)
        assert response.status_code == 400 and "條文 9" in response.content.decode()

    def test_the_current_version_is_the_latest_approved_revision(self):
        self.make_sample(version="107-1")
        self.make_sample(
            version="113-1", adopted_on=dt.date(2024, 6, 1), approved_on=dt.date(2024, 6, 5)
        )
        self.make_sample(
            version="114-review",
            kind="review",
            adopted_on=dt.date(2025, 6, 1),
            approved_on=dt.date(2025, 6, 2),
        )
        self.make_sample(version="115-draft", adopted_on=dt.date(2026, 6, 1), approved_on=None)
        assert PolicyRevision.current().version == "113-1"


@pytest.mark.django_db
class TestDashboard:
    def test_the_landing_page_shows_state_per_clause_to_the_isms_office(self, client_for):
        c = client_for(SECURITY_OFFICER)
        engine.refresh()
        body = c.get("/").content.decode()
        assert "各條文狀態" in body and "2.10.4" in body
        assert "每學期覆核資安事件通報聯絡人" in body  # in my tasks: never done

    def test_overdue_lines_link_to_the_subject_and_the_evidence_form(self, client_for):
        from isms.incidents import services as incidents

        c = client_for(SECURITY_OFFICER)
        incident = incidents.report_suspected(
            actor=c.user,
            description="可疑信件",
            seen_at=timezone.now() - dt.timedelta(hours=2),
            contact="分機 1",
        )
        body = c.get("/").content.decode()
        assert "逾期清單" in body
        assert f'href="{incident.get_absolute_url()}"' in body

    def test_staff_see_their_own_tasks_only(self, client_for, settings):
        staff = client_for(STAFF)
        client_for(SECURITY_OFFICER)
        engine.refresh()
        body = staff.get("/").content.decode()
        assert "各條文狀態" not in body and "每學期覆核資安事件通報聯絡人" not in body

    def test_the_monthly_report_prints_for_managers(self, client_for):
        engine.refresh()
        for role in sorted(ALL_ROLES):
            expected = 200 if role in MANAGERS else 403
            assert client_for(role).get("/compliance/report/").status_code == expected
        body = client_for(SUPERVISOR).get("/compliance/report/").content.decode()
        assert "資訊安全法遵月報" in body and "主管覆核" in body


@pytest.mark.django_db
class TestObligationsApi:
    def test_it_lists_every_obligation_and_subject_with_filters(self, client_for):
        c = client_for(SECURITY_OFFICER)
        engine.refresh()
        data = c.get("/api/obligations/").json()
        assert data["count"] == ObligationState.objects.count()
        row = data["results"][0]
        for field in (
            "obligation",
            "clause",
            "subject",
            "status",
            "last_done_at",
            "next_due_at",
            "responsible_role",
        ):
            assert field in row
        never = c.get("/api/obligations/", {"status": "never_done", "clause": "2.10.4"}).json()
        assert [r["obligation"] for r in never["results"]] == ["compliance.contacts_review"]
        assert c.get("/api/obligations/", {"status": "bogus"}).status_code == 400

    def test_staff_cannot_list_everyones_obligations(self, client_for):
        assert client_for(STAFF).get("/api/obligations/").status_code == 403
        assert client_for(STAFF).get("/compliance/obligations/").status_code == 403


@pytest.mark.django_db
class TestSettings:
    def post(self, c, key, rhythm, days):
        prefix = key.replace(".", "-")
        return c.post(
            "/compliance/settings/",
            {"key": key, f"{prefix}-rhythm": rhythm, f"{prefix}-due_soon_days": days},
        )

    def test_a_stricter_rhythm_is_accepted_and_applied(self, client_for):
        c = client_for(SECURITY_OFFICER)
        assert self.post(c, "compliance.contacts_review", "quarterly", 10).status_code == 302
        setting = ObligationSetting.objects.get(key="compliance.contacts_review")
        assert (setting.rhythm, setting.due_soon_days) == ("quarterly", 10)

    def test_a_looser_rhythm_is_refused_with_the_clause(self, client_for):
        c = client_for(SECURITY_OFFICER)
        response = self.post(c, "compliance.contacts_review", "yearly", 10)
        assert response.status_code == 400
        assert "條文 2.10.4" in response.content.decode()
        assert not ObligationSetting.objects.exists()

    def test_rolling_limits_and_bad_input(self, client_for):
        c = client_for(SECURITY_OFFICER)
        assert self.post(c, "core.password_age", "every:60", 7).status_code == 302
        assert self.post(c, "core.password_age", "every:120", 7).status_code == 400
        assert self.post(c, "core.password_age", "whenever", 7).status_code == 400
        assert self.post(c, "core.password_age", "every:60", 999).status_code == 400
        assert self.post(c, "no.such", "weekly", 7).status_code == 404

    def test_event_deadlines_are_shown_but_not_changed(self, client_for):
        c = client_for(SECURITY_OFFICER)
        body = c.get("/compliance/settings/").content.decode()
        assert "資安事件於知悉後 1 小時內至平台通報" in body and "期限依事件而定" in body
        response = self.post(c, "incidents.report", "event", 1)
        assert response.status_code == 302
        assert not ObligationSetting.objects.exists()

    def test_only_the_officer_changes_settings(self, client_for):
        for role in sorted(ALL_ROLES - {SECURITY_OFFICER}):
            c = client_for(role)
            assert self.post(c, "compliance.contacts_review", "weekly", 3).status_code == 403
        assert not ObligationSetting.objects.exists()


@pytest.mark.django_db
class TestContactsReview:
    def test_an_incomplete_table_cannot_be_reviewed(self, client_for):
        c = client_for(SECURITY_OFFICER)
        response = c.post("/compliance/contacts-review/")
        assert response.status_code == 400
        assert not ContactReview.objects.exists()

    def test_a_complete_table_is_reviewed_and_the_duty_is_met(self, client_for):
        c = client_for(SECURITY_OFFICER)
        ContactEntry.objects.update(name="某人", phone="02-1234-5678")
        engine.refresh()
        assert c.post("/compliance/contacts-review/", {"note": "115-1"}).status_code == 302
        review = ContactReview.objects.get()
        assert review.reviewed_by == c.user
        state = ObligationState.objects.get(key="compliance.contacts_review")
        assert state.status == "ok"

    def test_only_the_officer_records_a_review(self, client_for):
        ContactEntry.objects.update(name="某人", phone="02-1234-5678")
        assert client_for(SUPERVISOR).post("/compliance/contacts-review/").status_code == 403
        assert client_for(PERSONNEL).get("/compliance/contacts-review/").status_code == 403
