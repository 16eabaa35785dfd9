"""Settings, the deploy check, the demo school, the school profile and the A-6 table."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from isms.audit.models import AuditEntry
from isms.core.models import ContactEntry, Person, SchoolProfile, Unit, User
from isms.core.roles import ALL_ROLES, ROLES, SECURITY_OFFICER, STAFF


def run_isms(*args, env_extra, tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ISMS_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/deploy.sqlite3",
        **env_extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "isms.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_deploy_check_is_clean_with_https_switched_on(tmp_path):
    result = run_isms(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={
            "ISMS_HTTPS": "1",
            "SECRET_KEY": "x" * 20 + "-production-secret-with-enough-entropy-0123456789",
            "ALLOWED_HOSTS": "isms.school.edu.tw",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_plain_loopback_runs_without_https(tmp_path):
    result = run_isms("check", env_extra={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_settings_are_taiwanese():
    from django.conf import settings

    assert settings.LANGUAGE_CODE == "zh-hant"
    assert settings.TIME_ZONE == "Asia/Taipei" and settings.USE_TZ
    assert not settings.DEBUG


@pytest.mark.django_db
class TestDemo:
    def test_the_demo_school_has_people_in_every_role_and_a_second_run_changes_nothing(self):
        call_command("demo", "--quiet")
        roles = set(User.objects.values_list("groups__name", flat=True))
        assert roles >= ALL_ROLES
        assert SchoolProfile.load().short_name == "穀保家商"
        assert ContactEntry.objects.exclude(name="").count() == len(ContactEntry.Role.choices)
        counts = (Person.objects.count(), Unit.objects.count(), User.objects.count())
        entries = AuditEntry.objects.count()
        call_command("demo", "--quiet")
        assert (Person.objects.count(), Unit.objects.count(), User.objects.count()) == counts
        assert AuditEntry.objects.count() == entries

    def test_demo_logins_must_change_their_password(self, client, capsys):
        call_command("demo")
        out = capsys.readouterr().out
        assert "officer" in out and "Kp-demo-2026x" in out
        officer = User.objects.get(username="officer")
        assert officer.must_change_password
        client.post("/login/", {"username": "officer", "password": "Kp-demo-2026x"})
        assert client.get("/")["Location"] == "/password/"

    def test_roles_are_seeded_as_groups(self):
        from django.contrib.auth.models import Group

        assert set(ROLES) <= set(Group.objects.values_list("name", flat=True))


@pytest.mark.django_db
class TestSchoolAndContacts:
    def test_the_officer_edits_the_school_profile(self, client_for):
        c = client_for(SECURITY_OFFICER)
        data = {
            "name": "新北市穀保高級家事商業職業學校",
            "oid": "2.16.886.111.900026.100107.0~4",
            "platform_url": "https://info.cert.tanet.edu.tw/",
            "first_semester_start_month": 8,
            "first_semester_start_day": 1,
            "second_semester_start_month": 2,
            "second_semester_start_day": 1,
        }
        assert c.post("/core/school/edit/", data).status_code == 302
        assert SchoolProfile.load().oid == "2.16.886.111.900026.100107.0~4"
        assert AuditEntry.objects.filter(model_label="core.schoolprofile").exists()

    def test_bad_school_input_is_refused(self, client_for):
        c = client_for(SECURITY_OFFICER)
        data = {
            "name": "",
            "oid": "not an oid",
            "first_semester_start_month": 2,
            "first_semester_start_day": 30,
            "second_semester_start_month": 8,
            "second_semester_start_day": 1,
        }
        response = c.post("/core/school/edit/", data)
        assert response.status_code == 400
        body = response.content.decode()
        assert "OID" in body and "不存在" in body

    def test_only_the_officer_edits_the_school_and_contacts(self, client_for):
        for role in sorted(ALL_ROLES - {SECURITY_OFFICER}):
            c = client_for(role)
            assert c.get("/core/school/").status_code == 200
            assert c.get("/core/school/edit/").status_code == 403
            assert c.get("/core/contacts/").status_code == 200
            assert c.get("/core/contacts/edit/").status_code == 403

    def test_the_contact_table_links_people_and_prints(self, client_for):
        c = client_for(SECURITY_OFFICER)
        person = Person.objects.create(name="陳怡君", phone="02-2971-5606")
        entries = list(ContactEntry.objects.order_by("order"))
        data = {
            "form-TOTAL_FORMS": len(entries),
            "form-INITIAL_FORMS": len(entries),
        }
        for i, entry in enumerate(entries):
            data[f"form-{i}-id"] = entry.pk
            data[f"form-{i}-person"] = person.pk if i == 0 else ""
            data[f"form-{i}-name"] = "" if i == 0 else f"聯絡人{i}"
            data[f"form-{i}-phone"] = "" if i == 0 else "02-1234-5678"
        assert c.post("/core/contacts/edit/", data).status_code == 302
        first = ContactEntry.objects.get(pk=entries[0].pk)
        assert first.name == "陳怡君" and first.phone == "02-2971-5606"
        page = c.get("/core/contacts/print/").content.decode()
        assert "文件編號：A-6" in page and "陳怡君" in page and "聯絡人4" in page

    def test_a_bad_phone_in_the_contact_table_saves_nothing(self, client_for):
        c = client_for(SECURITY_OFFICER)
        entries = list(ContactEntry.objects.order_by("order"))
        data = {"form-TOTAL_FORMS": len(entries), "form-INITIAL_FORMS": len(entries)}
        for i, entry in enumerate(entries):
            data[f"form-{i}-id"] = entry.pk
            data[f"form-{i}-name"] = f"聯絡人{i}"
            data[f"form-{i}-phone"] = "call me!" if i == 2 else "02-1234-5678"
        assert c.post("/core/contacts/edit/", data).status_code == 400
        assert not ContactEntry.objects.exclude(name="").exists()

    def test_everyone_sees_whom_to_call_on_the_landing_page(self, client_for):
        ContactEntry.objects.filter(role="security_officer").update(name="陳怡君", phone="601")
        body = client_for(STAFF).get("/").content.decode()
        assert "陳怡君" in body and "2.10.3" in body
