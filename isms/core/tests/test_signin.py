"""Sign-in under clause 2.9 and A-5: default passwords, expiry, history, lock-out."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from isms.audit.models import AuditEntry
from isms.core import services
from isms.core.models import User
from isms.core.roles import SECURITY_OFFICER

GOOD = "Ee6ysnMEc"
GOOD2 = "wj/ vu/6a83"


def sign_in(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


@pytest.mark.django_db
class TestDefaultPassword:
    def new_login(self, make_user, password="Tmp-12ab-xyz"):
        officer = make_user("officer", SECURITY_OFFICER)
        user, password = services.user_create(
            actor=officer, username="newbie", roles=["staff"], password=password
        )
        return user, password

    def test_first_sign_in_must_change_the_default_password_before_anything_else(
        self, client, make_user
    ):
        _user, password = self.new_login(make_user)
        response = sign_in(client, "newbie", password)
        assert response.status_code == 302
        for url in ("/", "/core/person/", "/core/tokens/"):
            forced = client.get(url)
            assert forced.status_code == 302 and forced["Location"] == "/password/", url
        assert client.get("/api/people/").status_code == 403
        page = client.get("/password/").content.decode()
        assert "預設通行碼" in page

    def test_the_new_password_must_follow_the_policy(self, client, make_user):
        _user, password = self.new_login(make_user)
        sign_in(client, "newbie", password)
        response = client.post(
            "/password/",
            {"old_password": password, "new_password1": "qwertyui", "new_password2": "qwertyui"},
        )
        assert response.status_code == 400
        body = response.content.decode()
        assert "qwertyui" not in body  # never echoed back
        assert "鍵盤" in body
        assert User.objects.get(username="newbie").must_change_password

    def test_a_good_new_password_frees_the_account(self, client, make_user):
        _user, password = self.new_login(make_user)
        sign_in(client, "newbie", password)
        response = client.post(
            "/password/", {"old_password": password, "new_password1": GOOD, "new_password2": GOOD}
        )
        assert response.status_code == 302
        user = User.objects.get(username="newbie")
        assert not user.must_change_password and user.default_password_expires_at is None
        assert client.get("/").status_code == 200
        entry = AuditEntry.objects.filter(action="password_change", object_id=str(user.pk)).last()
        assert entry.actor_id == user.pk

    def test_mismatched_confirmation_is_refused(self, client, make_user):
        _user, password = self.new_login(make_user)
        sign_in(client, "newbie", password)
        response = client.post(
            "/password/", {"old_password": password, "new_password1": GOOD, "new_password2": GOOD2}
        )
        assert response.status_code == 400 and "不一致" in response.content.decode()

    def test_a_default_password_expires(self, client, make_user, settings):
        settings.ISMS_DEFAULT_PASSWORD_VALID_DAYS = 3
        with time_machine.travel(dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC), tick=False):
            _user, password = self.new_login(make_user)
        with time_machine.travel(dt.datetime(2026, 11, 4, 8, 59, tzinfo=dt.UTC), tick=False):
            assert sign_in(client, "newbie", password).status_code == 302
            client.logout()
        with time_machine.travel(dt.datetime(2026, 11, 4, 9, 0, 1, tzinfo=dt.UTC), tick=False):
            response = sign_in(client, "newbie", password)
            assert response.status_code == 200
            assert "預設通行碼已逾期" in response.content.decode()

    def test_an_administrator_reset_is_a_new_default_password(self, client_for, make_user):
        c = client_for(SECURITY_OFFICER)
        target = make_user("teacher")
        response = c.post(f"/core/users/{target.pk}/reset-password/")
        assert response.status_code == 200
        target.refresh_from_db()
        assert target.must_change_password and target.default_password_expires_at is not None
        shown = response.context["password"]
        assert target.check_password(shown)
        from isms.core.passwords import password_violations

        assert password_violations(shown) == []


@pytest.mark.django_db
class TestPasswordAge:
    def test_a_password_older_than_the_maximum_age_must_be_changed(
        self, client, make_user, settings
    ):
        settings.ISMS_PASSWORD_MAX_AGE_DAYS = 90
        with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), tick=False):
            make_user("teacher")
        with time_machine.travel(dt.datetime(2026, 3, 31, 23, tzinfo=dt.UTC), tick=False):
            sign_in(client, "teacher", "Xk7#pq92mv")
            assert client.get("/").status_code == 200
        with time_machine.travel(dt.datetime(2026, 4, 1, 0, 0, 1, tzinfo=dt.UTC), tick=False):
            response = client.get("/")
            assert response.status_code == 302 and response["Location"] == "/password/"

    def test_the_last_passwords_cannot_be_reused(self, make_user, settings):
        from django.core.exceptions import ValidationError

        settings.ISMS_PASSWORD_HISTORY = 3
        user = make_user("teacher")
        for password in ("Ee6ysnMEc", "Rq8vtnWdz", "Hm3kfpXwe"):
            services.password_change(user, new_password=password)
        with pytest.raises(ValidationError) as error:
            services.password_change(user, new_password="Ee6ysnMEc")
        assert error.value.error_list[0].code == "reused"
        services.password_change(user, new_password="Pz5ndgKyb")
        services.password_change(user, new_password="Ee6ysnMEc")  # now 4 changes ago
        assert user.check_password("Ee6ysnMEc")


@pytest.mark.django_db
class TestLockOut:
    def test_repeated_failures_lock_the_account_for_a_while(self, client, make_user, settings):
        settings.AXES_FAILURE_LIMIT = 3
        make_user("teacher")
        for _ in range(3):
            sign_in(client, "teacher", "wrong-password-1")
        response = sign_in(client, "teacher", "Xk7#pq92mv")
        assert response.status_code == 429
        assert "鎖定" in response.content.decode()
        assert AuditEntry.objects.filter(action="lockout").exists()
        assert AuditEntry.objects.filter(action="login_failed").count() >= 3
        from axes.models import AccessAttempt, AccessFailureLog

        stored = " ".join(
            str(v)
            for model in (AccessAttempt, AccessFailureLog)
            for row in model.objects.values()
            for v in row.values()
        )
        assert "wrong-password-1" not in stored and "Xk7#pq92mv" not in stored

    def test_the_lock_lifts_after_the_cool_off(self, client, make_user, settings):
        settings.AXES_FAILURE_LIMIT = 2
        settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
        make_user("teacher")
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            for _ in range(2):
                sign_in(client, "teacher", "wrong-password-1")
            assert sign_in(client, "teacher", "Xk7#pq92mv").status_code == 429
        with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
            assert sign_in(client, "teacher", "Xk7#pq92mv").status_code == 302
