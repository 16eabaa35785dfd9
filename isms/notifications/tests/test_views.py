"""The notification register (managers), re-sending (security officer), preferences (all)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from isms.audit.models import AuditEntry
from isms.core.roles import ALL_ROLES, MANAGERS, SECURITY_OFFICER
from isms.notifications import services
from isms.notifications.models import Notification, NotificationPreference

Status = Notification.Status
ROLE_CASES = [*sorted(ALL_ROLES), "none"]
LIST = "/notifications/outbox/"


def roles_for(role):
    return () if role == "none" else (role,)


@pytest.fixture
def failed(recipient):
    row = services.notify(
        recipient=recipient, subject="備份逾期提醒", body="請完成備份。", dedup_key="f1"
    )
    Notification.objects.filter(pk=row.pk).update(
        status=Status.FAILED, attempts=6, last_error="SMTPRecipientsRefused: 550 查無此人"
    )
    row.refresh_from_db()
    return row


def entries_for(row):
    return AuditEntry.objects.filter(
        model_label="notifications.notification", object_id=str(row.pk)
    )


@pytest.mark.django_db
class TestRegisterPages:
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_list_and_detail_answer_by_role(self, role, client_for, failed):
        c = client_for(*roles_for(role))
        expected = 200 if role in MANAGERS else 403
        assert c.get(LIST).status_code == expected
        assert c.get(f"{LIST}{failed.pk}/").status_code == expected
        assert c.get(f"{LIST}export/", {"format": "csv"}).status_code == expected

    def test_anonymous_people_are_sent_to_sign_in(self, client, failed):
        for url in (LIST, f"{LIST}{failed.pk}/", "/notifications/preferences/"):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

    def test_failures_are_shown_above_the_list_and_in_red(self, client_for, failed):
        page = client_for("supervisor").get(LIST).content.decode()
        assert "有 1 則通知寄送失敗" in page
        assert 'class="table-danger"' in page
        assert "550 查無此人" in page

    def test_a_queue_nobody_works_on_is_warned_about(self, client_for, recipient):
        row = services.notify(recipient=recipient, subject="s", body="b", dedup_key="late")
        Notification.objects.filter(pk=row.pk).update(
            next_attempt_at=row.next_attempt_at - dt.timedelta(hours=1)
        )
        page = client_for("security_officer").get(LIST).content.decode()
        assert "isms worker" in page

    def test_the_list_filters_by_status_recipient_and_date(self, client_for, failed, make_user):
        other = make_user("other", email="o@school.example.edu.tw")
        services.notify(recipient=other, subject="另一則通知", body="b", dedup_key="o1")
        c = client_for("security_officer")

        def subjects(**params):
            return c.get(LIST, params).content.decode()

        assert "另一則通知" not in subjects(status="failed")
        assert "備份逾期提醒" in subjects(status="failed")
        assert "備份逾期提醒" not in subjects(recipient=other.pk)
        assert "另一則通知" in subjects(recipient=other.pk)
        # The filter's dates are Taipei dates (the day in UTC differs from 16:00 to 24:00).
        today = timezone.localdate(failed.created_at)
        assert "備份逾期提醒" in subjects(created_after=today.isoformat())
        tomorrow = (today + dt.timedelta(days=1)).isoformat()
        assert "備份逾期提醒" not in subjects(created_after=tomorrow)

    def test_the_htmx_table_refresh_answers_with_the_table_only(self, client_for, failed):
        response = client_for("supervisor").get(
            LIST, {"status": "failed"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="register-table"
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert "備份逾期提醒" in body and "<html" not in body

    def test_list_query_count_does_not_grow_with_rows(self, client_for, make_user, failed):
        c = client_for("security_officer")
        with CaptureQueriesContext(connection) as few:
            assert c.get(LIST).status_code == 200
        for n in range(25):
            user = make_user(f"q{n}", email=f"q{n}@school.example.edu.tw")
            services.notify(recipient=user, subject="s", body="b", dedup_key=f"q{n}")
        with CaptureQueriesContext(connection) as many:
            assert c.get(LIST).status_code == 200
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
        assert len(many) <= 12

    def test_the_detail_page_shows_the_error_and_the_resend_button_to_the_officer(
        self, client_for, failed
    ):
        officer = client_for("security_officer").get(f"{LIST}{failed.pk}/").content.decode()
        assert "550 查無此人" in officer and "重新寄送" in officer
        supervisor = client_for("supervisor").get(f"{LIST}{failed.pk}/").content.decode()
        assert "550 查無此人" in supervisor and "重新寄送" not in supervisor


@pytest.mark.django_db
class TestResend:
    def url(self, row):
        return f"{LIST}{row.pk}/resend/"

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_only_the_security_officer_may_resend(self, role, client_for, failed):
        c = client_for(*roles_for(role))
        response = c.post(self.url(failed))
        failed.refresh_from_db()
        if role == SECURITY_OFFICER:
            assert response.status_code == 302
            assert failed.status == Status.QUEUED
        else:
            assert response.status_code == 403
            assert failed.status == Status.FAILED

    def test_resending_is_audited_with_who_did_it(self, client_for, failed):
        c = client_for("security_officer")
        before = entries_for(failed).count()
        c.post(self.url(failed))
        assert entries_for(failed).count() == before + 1
        entry = entries_for(failed).order_by("-id").first()
        assert entry.action == "update" and entry.actor_id == c.user.pk
        assert entry.changes["status"] == ["failed", "queued"]
        assert entry.changes["attempts"] == [6, 0]

    def test_only_failed_notifications_can_be_resent(self, client_for, recipient):
        row = services.notify(recipient=recipient, subject="s", body="b", dedup_key="q")
        c = client_for("security_officer")
        response = c.post(self.url(row), follow=True)
        assert "只有寄送失敗的通知可以重新寄送" in response.content.decode()
        row.refresh_from_db()
        assert row.status == Status.QUEUED

    def test_a_recipient_still_without_an_address_is_not_resent(self, client_for, make_user):
        nobody = make_user("nobody", email="")
        row = services.notify(recipient=nobody, subject="s", body="b", dedup_key="n")
        response = client_for("security_officer").post(self.url(row), follow=True)
        assert "沒有電子郵件地址" in response.content.decode()
        row.refresh_from_db()
        assert row.status == Status.FAILED

    def test_get_is_not_allowed(self, client_for, failed):
        assert client_for("security_officer").get(self.url(failed)).status_code == 405


@pytest.mark.django_db
class TestPreferences:
    URL = "/notifications/preferences/"

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_everyone_signed_in_may_choose(self, role, client_for):
        c = client_for(*roles_for(role))
        assert c.get(self.URL).status_code == 200
        response = c.post(self.URL, {"mode": "daily_digest", "digest_hour": "18"})
        assert response.status_code == 302
        pref = NotificationPreference.objects.get(user=c.user)
        assert (pref.mode, pref.digest_hour) == ("daily_digest", 18)

    def test_the_choice_is_audited(self, client_for):
        c = client_for()
        c.post(self.URL, {"mode": "daily_digest", "digest_hour": "7"})
        entry = AuditEntry.objects.filter(model_label="notifications.notificationpreference")
        assert entry.get().actor_id == c.user.pk

    def test_bad_input_is_refused(self, client_for):
        c = client_for()
        response = c.post(self.URL, {"mode": "hourly", "digest_hour": "25"})
        assert response.status_code == 400
        assert not NotificationPreference.objects.exists()

    def test_a_person_without_an_address_is_warned(self, client_for):
        page = client_for(email="").get(self.URL).content.decode()
        assert "通知無法寄給您" in page

    def test_it_is_in_the_menu(self, client_for):
        page = client_for().get("/").content.decode()
        assert self.URL in page


@pytest.mark.django_db
class TestApi:
    def api(self, client_for, role):
        from isms.core import services as core_services

        c = client_for(*roles_for(role))
        _token, key = core_services.token_create(user=c.user, name="t", actor=c.user)
        c.logout()
        c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
        return c

    @pytest.fixture(autouse=True)
    def _registered(self):
        from django.urls import get_resolver

        from isms.core.restapi import router

        get_resolver().url_patterns  # noqa: B018 - importing the URLconf fills the router
        assert any(prefix == "notifications" for prefix, _v, _b in router.registry)

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_managers_read_it(self, role, client_for, failed):
        c = self.api(client_for, role)
        response = c.get("/api/notifications/")
        assert response.status_code == (200 if role in MANAGERS else 403)
        if role in MANAGERS:
            assert response.json()["results"][0]["status"] == "failed"
            assert c.get(f"/api/notifications/{failed.pk}/").status_code == 200

    def test_it_is_read_only(self, client_for, failed):
        c = self.api(client_for, SECURITY_OFFICER)
        # Refused by the matrix (nobody may add) before the method check.
        assert c.post("/api/notifications/", {}).status_code in (403, 405)
        patch = c.patch(f"/api/notifications/{failed.pk}/", "{}", content_type="application/json")
        assert patch.status_code in (403, 405)
        failed.refresh_from_db()
        assert failed.status == Status.FAILED

    def test_it_filters_by_status(self, client_for, failed, recipient):
        services.notify(recipient=recipient, subject="s", body="b", dedup_key="ok")
        c = self.api(client_for, "supervisor")
        data = c.get("/api/notifications/", {"status": "queued"}).json()
        assert [r["dedup_key"] for r in data["results"]] == ["ok"]
