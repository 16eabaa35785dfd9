"""Tests that come free with a register.

A module's test file subclasses ``RegisterContract``, names its register, says how to make
a sample record and valid input, and which roles may read and write — written down
independently of the register's own ``Access`` so that a wrong matrix fails the tests::

    class TestPersonRegister(RegisterContract):
        register = PersonRegister
        api_prefix = "people"
        readers = DIRECTORY_READERS
        scoped_readers = {STAFF, GUARD}
        writers = {PERSONNEL, SECURITY_OFFICER}
        def make_sample(self): ...
        def form_data(self): ...

and gets, for every role: list, detail, add, edit, void, history, export pages and the
API (allowed → 200, denied → 403, anonymous → sign-in or 401, out of scope → 404),
exactly one audit entry per write, bad input refused with nothing saved, and a list
page whose query count does not grow with its rows.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from isms.audit.models import AuditEntry

from . import services
from .roles import ALL_ROLES

ROLE_CASES = [*sorted(ALL_ROLES), "none"]


def roles_for(role):
    return () if role == "none" else (role,)


class RegisterContract:
    register = None
    api_prefix = ""
    readers: frozenset = frozenset()
    scoped_readers: frozenset = frozenset()
    writers: frozenset = frozenset()
    voiders: frozenset | None = None
    exporters: frozenset | None = None
    list_query_budget = 12
    # The zh-TW text every invalid form shows above its fields.
    form_error_text = "請修正下列欄位的錯誤"

    # --- what a module provides --------------------------------------------------
    def make_sample(self, **overrides):
        raise NotImplementedError

    def form_data(self) -> dict:
        raise NotImplementedError

    def change_data(self, obj) -> dict:
        raise NotImplementedError

    def invalid_form_data(self) -> dict:
        return {}

    def api_data(self) -> dict:
        return self.form_data()

    def invalid_api_data(self) -> dict:
        return {}

    # --- helpers --------------------------------------------------------------------
    def assert_one_write_audited(self, entries_before: int, user) -> None:
        """A write through a page or the API adds one audit entry. A register whose
        service writes a record and its own log entries (incidents and their timeline)
        overrides this to check that every new entry names the acting person."""
        assert self.entries() == entries_before + 1

    def url(self, view, *args):
        return reverse(self.register.url_name(view), args=args)

    def sees_list(self, role):
        return role in self.readers or role in self.scoped_readers

    def entries(self):
        return AuditEntry.objects.count()

    def writer(self, client_for):
        return client_for(sorted(self.writers)[0])

    def api_client(self, client_for, role):
        c = client_for(*roles_for(role))
        _token, key = services.token_create(user=c.user, name="test", actor=c.user)
        c.logout()
        c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
        return c

    def api_url(self, pk=None):
        base = f"/api/{self.api_prefix}/"
        return f"{base}{pk}/" if pk is not None else base

    # --- pages ---------------------------------------------------------------------
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_list_page_answers_by_role(self, role, client_for):
        self.make_sample()
        response = client_for(*roles_for(role)).get(self.url("list"))
        assert response.status_code == (200 if self.sees_list(role) else 403)

    @pytest.mark.django_db
    def test_pages_send_anonymous_people_to_sign_in(self, client):
        obj = self.make_sample()
        for url in (self.url("list"), self.url("detail", obj.pk), self.url("export")):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_detail_page_answers_by_role(self, role, client_for):
        obj = self.make_sample()
        response = client_for(*roles_for(role)).get(self.url("detail", obj.pk))
        expected = 200 if role in self.readers else 404 if role in self.scoped_readers else 403
        assert response.status_code == expected

    def test_detail_of_a_missing_record_is_404(self, client_for):
        reader = client_for(sorted(self.readers)[0])
        assert reader.get(self.url("detail", 987654321)).status_code == 404

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_add_page_answers_by_role(self, role, client_for):
        if self.register.form_class is None:
            pytest.skip("register has no form")  # pragma: no cover
        response = client_for(*roles_for(role)).get(self.url("add"))
        assert response.status_code == (200 if role in self.writers else 403)

    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        c = self.writer(client_for)
        data = self.form_data()
        records, entries = self.register.model.objects.count(), self.entries()
        response = c.post(self.url("add"), data)
        assert response.status_code == 302, (
            getattr(response, "context", None) and response.context.get("form").errors
        )
        assert self.register.model.objects.count() == records + 1
        assert self.entries() == entries + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.action == "create"
        assert entry.actor_id == c.user.pk
        assert entry.model_label == self.register.model._meta.label_lower

    def test_add_refuses_bad_input_and_saves_nothing(self, client_for):
        c = self.writer(client_for)
        data = self.invalid_form_data()
        records, entries = self.register.model.objects.count(), self.entries()
        response = c.post(self.url("add"), data)
        assert response.status_code == 400
        assert self.form_error_text in response.content.decode()
        assert self.register.model.objects.count() == records
        assert self.entries() == entries

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_edit_answers_by_role(self, role, client_for):
        obj = self.make_sample()
        response = client_for(*roles_for(role)).get(self.url("edit", obj.pk))
        assert response.status_code == (200 if role in self.writers else 403)

    def test_edit_writes_one_audit_entry_with_before_and_after(self, client_for):
        obj = self.make_sample()
        c = self.writer(client_for)
        data = self.change_data(obj)
        entries = self.entries()
        response = c.post(self.url("edit", obj.pk), data)
        assert response.status_code == 302, response.context and response.context["form"].errors
        assert self.entries() == entries + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.action == "update" and entry.object_id == str(obj.pk)
        assert entry.changes and all(len(pair) == 2 for pair in entry.changes.values())

    def test_edit_refuses_bad_input_and_changes_nothing(self, client_for):
        obj = self.make_sample()
        c = self.writer(client_for)
        before = self.register.model.objects.filter(pk=obj.pk).values().get()
        entries = self.entries()
        response = c.post(self.url("edit", obj.pk), self.invalid_form_data())
        assert response.status_code == 400
        assert self.register.model.objects.filter(pk=obj.pk).values().get() == before
        assert self.entries() == entries

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_void_answers_by_role(self, role, client_for):
        if not self.register.voidable():
            return
        obj = self.make_sample()
        voiders = self.writers if self.voiders is None else self.voiders
        c = client_for(*roles_for(role))
        entries = self.entries()
        response = c.post(self.url("void", obj.pk), {"reason": "重複建檔"})
        obj.refresh_from_db()
        if role in voiders:
            assert response.status_code == 302
            assert obj.voided_at is not None and obj.void_reason == "重複建檔"
            assert self.entries() == entries + 1
            assert AuditEntry.objects.order_by("-id").first().action == "void"
        else:
            assert response.status_code == 403
            assert obj.voided_at is None

    def test_void_requires_a_reason(self, client_for):
        if not self.register.voidable():
            return
        obj = self.make_sample()
        voiders = self.writers if self.voiders is None else self.voiders
        c = client_for(sorted(voiders)[0])
        response = c.post(self.url("void", obj.pk), {"reason": " "})
        assert response.status_code == 400
        obj.refresh_from_db()
        assert obj.voided_at is None

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_export_answers_by_role_and_is_audited(self, role, client_for):
        self.make_sample()
        exporters = self.readers if self.exporters is None else self.exporters
        c = client_for(*roles_for(role))
        for fmt in ("csv", "xlsx"):
            entries = self.entries()
            response = c.get(self.url("export"), {"format": fmt})
            if role in exporters:
                assert response.status_code == 200
                body = (
                    b"".join(response.streaming_content) if response.streaming else response.content
                )
                assert body.startswith(b"\xef\xbb\xbf" if fmt == "csv" else b"PK")
                assert self.entries() == entries + 1
                assert AuditEntry.objects.order_by("-id").first().action == "export"
            else:
                assert response.status_code == 403
                assert self.entries() == entries

    def test_export_refuses_an_unknown_format(self, client_for):
        exporters = self.readers if self.exporters is None else self.exporters
        c = client_for(sorted(exporters)[0])
        assert c.get(self.url("export"), {"format": "exe"}).status_code == 400

    def test_list_query_count_does_not_grow_with_rows(self, client_for):
        c = client_for(sorted(self.readers)[0])
        self.make_sample()
        with CaptureQueriesContext(connection) as few:
            assert c.get(self.url("list")).status_code == 200
        for _ in range(25):
            self.make_sample()
        with CaptureQueriesContext(connection) as many:
            assert c.get(self.url("list")).status_code == 200
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
        assert len(many) <= self.list_query_budget

    # --- API ------------------------------------------------------------------------
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_api_list_answers_by_role(self, role, client_for):
        self.make_sample()
        response = self.api_client(client_for, role).get(self.api_url())
        assert response.status_code == (200 if self.sees_list(role) else 403)
        if response.status_code == 200:
            assert "results" in response.json()

    @pytest.mark.django_db
    def test_api_refuses_anonymous_and_bad_tokens_with_401(self, client):
        assert client.get(self.api_url()).status_code == 401
        bad = client.get(self.api_url(), HTTP_AUTHORIZATION="Token isms_not-a-real-key")
        assert bad.status_code == 401

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_api_detail_answers_by_role(self, role, client_for):
        obj = self.make_sample()
        response = self.api_client(client_for, role).get(self.api_url(obj.pk))
        expected = 200 if role in self.readers else 404 if role in self.scoped_readers else 403
        assert response.status_code == expected

    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_api_create_answers_by_role(self, role, client_for):
        if "post" not in self._api_methods():
            return
        c = self.api_client(client_for, role)
        body = json.dumps(self.api_data())
        records, entries = self.register.model.objects.count(), self.entries()
        response = c.post(self.api_url(), body, content_type="application/json")
        if role in self.writers:
            assert response.status_code == 201, response.content
            assert self.register.model.objects.count() == records + 1
            self.assert_one_write_audited(entries, c.user)
        else:
            assert response.status_code == 403
            assert self.register.model.objects.count() == records

    def test_api_create_refuses_bad_input_with_field_errors(self, client_for):
        if "post" not in self._api_methods():
            return
        c = self.api_client(client_for, sorted(self.writers)[0])
        records, entries = self.register.model.objects.count(), self.entries()
        for body in (json.dumps(self.invalid_api_data()), "{not json", json.dumps([1, 2])):
            response = c.post(self.api_url(), body, content_type="application/json")
            assert response.status_code == 400, body
            assert isinstance(response.json(), dict) and response.json()
        assert self.register.model.objects.count() == records
        assert self.entries() == entries

    def test_api_update_writes_one_audit_entry(self, client_for):
        if "patch" not in self._api_methods():
            return
        obj = self.make_sample()
        c = self.api_client(client_for, sorted(self.writers)[0])
        body = json.dumps(self.api_change_data(obj))
        entries = self.entries()
        response = c.patch(self.api_url(obj.pk), body, content_type="application/json")
        assert response.status_code == 200, response.content
        self.assert_one_write_audited(entries, c.user)

    def api_change_data(self, obj) -> dict:
        data = self.change_data(obj)
        fields = set(self.register.serializer_class().fields)
        return {k: v for k, v in data.items() if k in fields}

    def test_api_void_needs_a_reason_and_is_audited(self, client_for):
        if not self.register.voidable() or "post" not in self._api_methods():
            return
        obj = self.make_sample()
        voiders = self.writers if self.voiders is None else self.voiders
        c = self.api_client(client_for, sorted(voiders)[0])
        url = self.api_url(obj.pk) + "void/"
        assert c.post(url, "{}", content_type="application/json").status_code == 400
        entries = self.entries()
        response = c.post(url, json.dumps({"reason": "資料錯誤"}), content_type="application/json")
        assert response.status_code == 200
        assert self.entries() == entries + 1
        again = c.post(url, json.dumps({"reason": "資料錯誤"}), content_type="application/json")
        assert again.status_code == 400

    def _api_methods(self):
        from django.urls import get_resolver

        from .restapi import router

        get_resolver().url_patterns  # noqa: B018 - importing the URLconf fills the router

        for prefix, viewset, _basename in router.registry:
            if prefix == self.api_prefix:
                return viewset.http_method_names
        raise AssertionError(f"no API endpoint /api/{self.api_prefix}/")
