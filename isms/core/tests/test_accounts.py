"""Logins, roles and API tokens: pages, commands and the API."""

import json
import subprocess
import sys

import pytest
from django.core.management import call_command

from isms.audit.models import AuditEntry
from isms.core import services
from isms.core.models import ApiToken, Person, User
from isms.core.roles import ALL_ROLES, MANAGERS, PERSONNEL, SECURITY_OFFICER, STAFF, SYSADMIN

ACCOUNT_KEEPERS = {SECURITY_OFFICER, SYSADMIN}


@pytest.mark.django_db
class TestLogins:
    def test_only_account_keepers_create_logins(self, client_for):
        person = Person.objects.create(name="新進教師")
        for role in sorted(ALL_ROLES):
            c = client_for(role)
            response = c.post(
                "/core/users/add/",
                {"username": f"new-{role}"[:30], "person": person.pk, "roles": ["staff"]},
            )
            if role in ACCOUNT_KEEPERS:
                assert response.status_code == 200
                assert "default-password" in response.content.decode()
                User.objects.filter(username=f"new-{role}"[:30]).delete()
            else:
                assert response.status_code == 403

    def test_a_new_login_gets_a_shown_once_default_password_and_its_roles(self, client_for):
        c = client_for(SECURITY_OFFICER)
        person = Person.objects.create(name="新進教師", email="t@example.edu.tw")
        response = c.post(
            "/core/users/add/",
            {"username": "teacher2", "person": person.pk, "roles": ["staff", "equipment_head"]},
        )
        user = User.objects.get(username="teacher2")
        assert user.must_change_password and user.person == person
        assert user.check_password(response.context["password"])
        assert sorted(user.groups.values_list("name", flat=True)) == ["equipment_head", "staff"]
        assert user.email == "t@example.edu.tw"

    def test_duplicate_or_malformed_account_names_are_refused(self, client_for, make_user):
        make_user("teacher")
        c = client_for(SECURITY_OFFICER)
        for name in ("teacher", "有中文", "a", "bad name"):
            response = c.post("/core/users/add/", {"username": name, "roles": ["staff"]})
            assert response.status_code == 400, name
        assert User.objects.filter(username__in=["有中文", "a", "bad name"]).count() == 0

    def test_roles_are_granted_and_revoked_on_the_user_page(self, client_for, make_user):
        c = client_for(SECURITY_OFFICER)
        target = make_user("teacher", STAFF)
        response = c.post(f"/core/users/{target.pk}/roles/", {"roles": ["staff", "personnel"]})
        assert response.status_code == 302
        assert set(target.groups.values_list("name", flat=True)) == {"staff", "personnel"}
        c.post(f"/core/users/{target.pk}/roles/", {"roles": ["personnel"]})
        assert set(target.groups.values_list("name", flat=True)) == {"personnel"}
        actions = list(
            AuditEntry.objects.filter(object_id=str(target.pk), model_label="core.user")
            .order_by("id")
            .values_list("action", flat=True)
        )
        assert actions[-2:] == ["role_grant", "role_revoke"]

    def test_unknown_roles_are_refused(self, client_for, make_user):
        c = client_for(SECURITY_OFFICER)
        target = make_user("teacher", STAFF)
        c.post(f"/core/users/{target.pk}/roles/", {"roles": ["root"]})
        assert set(target.groups.values_list("name", flat=True)) == {"staff"}

    def test_a_keeper_cannot_remove_their_own_account_role(self, client_for):
        c = client_for(SECURITY_OFFICER)
        c.post(f"/core/users/{c.user.pk}/roles/", {"roles": ["staff"]})
        assert "security_officer" in c.user.groups.values_list("name", flat=True)

    def test_roles_only_change_by_account_keepers(self, client_for, make_user):
        target = make_user("teacher", STAFF)
        for role in sorted(ALL_ROLES - ACCOUNT_KEEPERS):
            c = client_for(role)
            assert (
                c.post(f"/core/users/{target.pk}/roles/", {"roles": ["principal"]}).status_code
                == 403
            )
        assert set(target.groups.values_list("name", flat=True)) == {"staff"}

    def test_the_login_list_is_for_managers_and_account_keepers(self, client_for):
        for role in sorted(ALL_ROLES):
            expected = 200 if role in MANAGERS | ACCOUNT_KEEPERS else 403
            assert client_for(role).get("/core/users/").status_code == expected

    def test_login_list_query_count_does_not_grow(self, client_for, make_user):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        c = client_for(SECURITY_OFFICER)
        with CaptureQueriesContext(connection) as few:
            c.get("/core/users/")
        for i in range(20):
            make_user(f"user{i}", STAFF, PERSONNEL)
        with CaptureQueriesContext(connection) as many:
            c.get("/core/users/")
        assert len(few) == len(many)


@pytest.mark.django_db
class TestTokens:
    def test_a_token_is_shown_once_and_authenticates(self, client_for):
        c = client_for(PERSONNEL)
        response = c.post("/core/tokens/", {"name": "報表"})
        key = response.context["new_key"]
        token = ApiToken.objects.get(user=c.user)
        assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
        assert key not in c.get("/core/tokens/").content.decode()
        api = c.__class__()
        assert api.get("/api/people/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200

    def test_a_revoked_token_stops_working(self, client_for):
        c = client_for(PERSONNEL)
        token, key = services.token_create(user=c.user, name="x", actor=c.user)
        assert c.post(f"/core/tokens/{token.pk}/revoke/").status_code == 302
        api = c.__class__()
        assert api.get("/api/people/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401

    def test_nobody_revokes_another_persons_token_but_account_keepers(self, client_for):
        owner = client_for(STAFF)
        token, _key = services.token_create(user=owner.user, name="x", actor=owner.user)
        assert client_for(PERSONNEL).post(f"/core/tokens/{token.pk}/revoke/").status_code == 404
        token.refresh_from_db()
        assert token.revoked_at is None
        assert client_for(SYSADMIN).post(f"/core/tokens/{token.pk}/revoke/").status_code == 302

    def test_an_empty_token_name_is_refused(self, client_for):
        c = client_for(STAFF)
        assert c.post("/core/tokens/", {"name": ""}).status_code == 400
        assert not ApiToken.objects.exists()

    def test_the_command_creates_a_token_and_names_its_actor(self, make_user, capsys, monkeypatch):
        monkeypatch.setenv("ISMS_ACTOR_LABEL", "cli:token (root)")
        user = make_user("teacher")
        call_command("token", "create", "teacher")
        key = capsys.readouterr().out.strip()
        assert ApiToken.objects.get(user=user).key_hash == ApiToken.hash_key(key)
        entry = AuditEntry.objects.filter(model_label="core.apitoken").last()
        assert entry.actor_label == "cli:token (root)"
        assert key not in json.dumps(entry.changes)

    def test_the_command_refuses_an_unknown_user(self):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError):
            call_command("token", "create", "nobody")


@pytest.mark.django_db
class TestPasswordCheckApi:
    def test_it_needs_a_signed_in_user(self, client):
        response = client.post(
            "/api/password-check/", {"password": "x"}, content_type="application/json"
        )
        assert response.status_code in (401, 403)

    def test_it_reports_violations_with_codes_and_never_echoes(self, client_for):
        c = client_for()
        response = c.post(
            "/api/password-check/", {"password": "qwertyui"}, content_type="application/json"
        )
        data = response.json()
        assert response.status_code == 200 and data["ok"] is False
        assert "keyboard_run" in [v["code"] for v in data["violations"]]
        assert "qwertyui" not in response.content.decode()
        good = c.post(
            "/api/password-check/", {"password": "Ee6ysnMEc"}, content_type="application/json"
        ).json()
        assert good == {"ok": True, "violations": []}

    def test_it_checks_ones_own_personal_information_only(self, client_for):
        import datetime as dt

        c = client_for()
        c.user.person.birthday = dt.date(1980, 5, 17)
        c.user.person.save()
        own = c.post(
            "/api/password-check/", {"password": "Kd19800517x"}, content_type="application/json"
        ).json()
        assert "personal_info" in [v["code"] for v in own["violations"]]
        other = client_for()
        probe = other.post(
            "/api/password-check/",
            {"password": "Kd19800517x", "username": c.user.username},
            content_type="application/json",
        ).json()
        assert "personal_info" not in [v["code"] for v in probe["violations"]]

    def test_bad_input_is_a_400_with_field_errors(self, client_for):
        c = client_for()
        response = c.post("/api/password-check/", {}, content_type="application/json")
        assert response.status_code == 400 and "password" in response.json()
        response = c.post("/api/password-check/", "{", content_type="application/json")
        assert response.status_code == 400


def test_check_password_command_reads_stdin_and_exits_1_on_violations(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "isms.settings",
        "ISMS_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "isms.cli", "check-password", "--hostname", "mail.school.edu.tw"],
        input="6666rrrr\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1, bad.stderr
    result = json.loads(bad.stdout)
    assert result["ok"] is False and "repeated" in [v["code"] for v in result["violations"]]
    assert "6666rrrr" not in bad.stdout
    good = subprocess.run(
        [sys.executable, "-m", "isms.cli", "check-password"],
        input="Ee6ysnMEc\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert good.returncode == 0 and json.loads(good.stdout) == {"ok": True, "violations": []}


@pytest.mark.django_db
def test_the_roles_page_shows_the_matrix_to_managers_and_account_keepers(client_for):
    for role in sorted(ALL_ROLES):
        expected = 200 if role in MANAGERS | ACCOUNT_KEEPERS else 403
        response = client_for(role).get("/core/roles/")
        assert response.status_code == expected
    body = client_for(SECURITY_OFFICER).get("/core/roles/").content.decode()
    assert "資安業務承辦人" in body and "資安業務承辦人、人事室" in body
