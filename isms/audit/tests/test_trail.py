"""The audit trail: who, what, before/after, append-only, and tampering is caught."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from isms.audit import trail
from isms.audit.models import AuditEntry
from isms.core.models import Person, Unit


def latest():
    return AuditEntry.objects.order_by("-id").first()


@pytest.mark.django_db
class TestRecording:
    def test_create_change_delete_are_recorded_with_before_and_after(self, make_user):
        actor = make_user("officer")
        with trail.acting_as(actor):
            unit = Unit.objects.create(name="教務處", code="academic")
            assert latest().action == "create" and latest().changes["name"] == [None, "教務處"]
            unit.name = "教務處（新）"
            unit.save()
            assert latest().action == "update"
            assert latest().changes == {"name": ["教務處", "教務處（新）"]}
            assert latest().actor_id == actor.pk and latest().actor_label == "officer"
            pk = unit.pk
            unit.delete()
        entry = latest()
        assert entry.action == "delete" and entry.object_id == str(pk)
        assert entry.changes["name"] == ["教務處（新）", None]

    def test_a_save_without_changes_writes_nothing(self, make_user):
        unit = Unit.objects.create(name="教務處", code="academic")
        before = AuditEntry.objects.count()
        unit.save()
        assert AuditEntry.objects.count() == before

    def test_commands_name_their_actor(self, monkeypatch):
        monkeypatch.setenv("ISMS_ACTOR_LABEL", "cli:demo (root)")
        Unit.objects.create(name="教務處", code="academic")
        assert latest().actor_label == "cli:demo (root)" and latest().actor_id is None

    def test_the_worker_names_itself(self):
        with trail.acting_as(label="worker"):
            Unit.objects.create(name="教務處", code="academic")
        assert latest().actor_label == "worker"

    def test_requests_record_address_and_request_id(self, client_for):
        from isms.core.roles import PERSONNEL

        c = client_for(PERSONNEL)
        response = c.post(
            "/core/unit/add/", {"name": "總務處", "code": "general"}, REMOTE_ADDR="10.1.2.3"
        )
        assert response.status_code == 302
        entry = latest()
        assert entry.ip == "10.1.2.3"
        assert entry.request_id == response["X-Request-ID"]
        assert entry.actor_id == c.user.pk

    def test_passwords_and_keys_never_reach_the_trail(self, make_user):
        user = make_user("teacher")
        user.set_password("Another#Pass9")
        user.save()
        entry = latest()
        assert entry.action == "password_change"
        assert entry.changes["password"] == ["（已變更）", "（已變更）"]
        assert "Another#Pass9" not in str(entry.changes)
        assert user.password not in str(AuditEntry.objects.values_list("changes", flat=True))

    def test_role_grants_and_revokes_are_recorded(self, make_user):
        from isms.core import services

        officer = make_user("officer")
        user = make_user("teacher")
        services.roles_set(user, roles=["staff", "sysadmin"], actor=officer)
        grants = AuditEntry.objects.filter(action="role_grant", object_id=str(user.pk))
        assert sorted(e.changes["role"][1] for e in grants) == ["staff", "sysadmin"]
        assert {e.actor_id for e in grants} == {officer.pk}
        services.roles_set(user, roles=["staff"], actor=officer)
        assert latest().action == "role_revoke" and latest().changes["role"] == ["sysadmin", None]

    def test_sign_in_failed_sign_in_and_sign_out_are_recorded(self, client, make_user):
        make_user("teacher")
        client.post("/login/", {"username": "teacher", "password": "wrong-one-1"})
        failed = latest()
        assert failed.action == "login_failed" and failed.object_repr == "teacher"
        assert "wrong-one-1" not in str(failed.changes) + failed.message
        client.post("/login/", {"username": "teacher", "password": "Xk7#pq92mv"})
        assert latest().action == "login"
        client.post("/logout/")
        assert latest().action == "logout"

    def test_entries_cannot_be_changed_or_deleted_through_the_orm(self):
        Unit.objects.create(name="教務處", code="academic")
        entry = latest()
        entry.message = "changed"
        with pytest.raises(PermissionError):
            entry.save()
        with pytest.raises(PermissionError):
            entry.delete()


@pytest.mark.django_db
class TestVerify:
    def make_entries(self, n=5):
        for i in range(n):
            Unit.objects.create(name=f"處室{i}", code=f"u{i}")

    def test_an_untouched_trail_verifies(self):
        self.make_entries()
        result = trail.verify()
        assert result.ok and result.checked == AuditEntry.objects.count()

    def test_an_altered_entry_is_named(self):
        self.make_entries()
        target = AuditEntry.objects.order_by("id")[2]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditentry SET object_repr = %s WHERE id = %s", ["偽造", target.id]
            )
        result = trail.verify()
        assert not result.ok and result.broken_id == target.id and result.reason == "altered"
        with pytest.raises(CommandError, match=f"#{target.id}"):
            call_command("audit_verify")

    def test_a_removed_entry_is_named(self):
        self.make_entries()
        target = AuditEntry.objects.order_by("id")[1]
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [target.id])
        result = trail.verify()
        assert not result.ok and result.broken_id == target.id and result.reason == "missing"

    def test_entries_removed_from_the_end_are_caught(self):
        self.make_entries()
        last = AuditEntry.objects.order_by("-id").first()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [last.id])
        result = trail.verify()
        assert not result.ok and result.reason == "truncated"

    def test_a_rewritten_chain_is_caught_by_the_head(self):
        self.make_entries(3)
        first = AuditEntry.objects.order_by("id").first()
        fields = [f for f in trail.VERIFY_FIELDS if f != "hash"]
        forged = trail.entry_hash(
            **{name: getattr(first, name) for name in fields} | {"object_repr": "偽造"}
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditentry SET object_repr = %s, hash = %s WHERE id = %s",
                ["偽造", forged, first.id],
            )
        result = trail.verify()
        assert not result.ok and result.broken_id == first.id + 1 and result.reason == "chain"

    def test_the_command_reports_success(self, capsys):
        self.make_entries(2)
        call_command("audit_verify")
        assert "intact" in capsys.readouterr().out


@pytest.mark.django_db
class TestAuditPages:
    def test_the_global_page_filters_by_person_model_action_and_date(self, client_for):
        from isms.core.roles import SECURITY_OFFICER

        c = client_for(SECURITY_OFFICER)
        with trail.acting_as(label="worker"):
            Unit.objects.create(name="教務處", code="academic")
        Person.objects.create(name="王小明")
        page = c.get("/audit/entries/", {"actor": "worker"}).content.decode()
        assert "教務處" in page and "王小明" not in page
        page = c.get("/audit/entries/", {"model_label": "core.person"}).content.decode()
        assert "王小明" in page and "教務處" not in page
        assert c.get("/audit/entries/", {"action": "create"}).status_code == 200
        assert c.get("/audit/entries/", {"date_from": "115/13/01"}).status_code == 200

    def test_a_record_history_tab_lists_its_changes(self, client_for):
        from isms.core.roles import PERSONNEL

        c = client_for(PERSONNEL)
        person = Person.objects.create(name="王小明")
        person.title = "導師"
        person.save()
        page = c.get(f"/core/person/{person.pk}/history/").content.decode()
        assert "導師" in page and "新增" in page and "修改" in page

    def test_only_the_isms_office_reads_the_trail(self, client_for):
        from isms.core.roles import ALL_ROLES, MANAGERS

        for role in ALL_ROLES:
            expected = 200 if role in MANAGERS else 403
            assert client_for(role).get("/audit/entries/").status_code == expected
