"""Office self-checks (clauses 2.3, 7.5, 7.7): the checklist, the heads, the checks by role,
one per unit and semester, the answers, the 改善情形, retired items, and the duties."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from isms.audit.models import AuditEntry
from isms.awareness import selfchecks
from isms.awareness.models import OfficeHead, SelfCheck, SelfCheckItem, SelfCheckResult
from isms.awareness.views_selfchecks import (
    OfficeHeadRegister,
    SelfCheckItemRegister,
    SelfCheckRegister,
)
from isms.compliance import engine
from isms.compliance.models import ObligationState
from isms.core.models import Unit
from isms.core.roles import ALL_ROLES, MANAGERS, SECURITY_OFFICER, STAFF, SUPERVISOR
from isms.core.testing import RegisterContract

pytestmark = pytest.mark.django_db
SECOND = dt.timedelta(seconds=1)
OFFICER = frozenset({SECURITY_OFFICER})
_n = {"n": 0}


def taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC) - dt.timedelta(hours=8)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
        yield


def unit_of(name=None) -> Unit:
    _n["n"] += 1
    n = _n["n"]
    return Unit.objects.create(name=name or f"處室{n}", code=f"u{n}")


def login(name, *roles, **fields):
    from django.contrib.auth.models import Group

    from isms.core.models import Person, User

    user = User.objects.create_user(
        username=name,
        password="Xk7#pq92mv",
        person=Person.objects.create(name=name),
        password_changed_at=timezone.now(),
        **fields,
    )
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def items():
    return list(SelfCheckItem.objects.filter(active=True).order_by("order", "id"))


def all_ok(note=""):
    return {i.pk: (True, note) for i in items()}


def sample_check(unit=None, day=dt.date(2026, 10, 5), fail=False) -> SelfCheck:
    unit = unit or unit_of()
    filler = login(f"filler{_n['n']}_{unit.pk}")
    term = selfchecks.term_of(day)
    check = SelfCheck.objects.create(
        unit=unit,
        school_year=term.school_year,
        term=term.semester,
        checked_on=day,
        filled_by=filler,
    )
    for k, item in enumerate(items()):
        bad = fail and k == 0
        SelfCheckResult.objects.create(
            check_record=check,
            item=item,
            text=item.text,
            ok=not bad,
            note="桌上有公文" if bad else "",
        )
    return check


def form_answers(note_for=None, fail=()):
    data = {}
    for item in items():
        data[f"result_{item.pk}"] = "fail" if item.pk in fail else "ok"
        data[f"item_note_{item.pk}"] = (note_for or {}).get(item.pk, "")
    return data


class EveryEntryNamesTheActor:
    """A check writes its results too: every new entry names the acting person."""

    def assert_one_write_audited(self, entries_before, user):
        new = AuditEntry.objects.order_by("id")[entries_before:]
        assert new and all(e.actor_id == user.pk for e in new)

    def test_add_saves_one_record_with_one_audit_entry(self, client_for):
        c = self.writer(client_for)
        data = self.form_data()
        records, entries = SelfCheck.objects.count(), self.entries()
        response = c.post(self.url("add"), data)
        assert response.status_code == 302, response.context and response.context["form"].errors
        assert SelfCheck.objects.count() == records + 1
        new = list(AuditEntry.objects.order_by("id")[entries:])
        assert len(new) == 1 + len(items())
        assert all(e.actor_id == c.user.pk and e.action == "create" for e in new)


class TestSelfCheckItemRegister(RegisterContract):
    register = SelfCheckItemRegister
    api_prefix = "self-check-items"
    readers = frozenset(MANAGERS)
    writers = OFFICER

    def make_sample(self, **overrides):
        return SelfCheckItem.objects.create(text="抽屜上鎖", clause="2.3.1", order=9, **overrides)

    def form_data(self):
        return {"text": "離開座位時螢幕上鎖", "clause": "2.3.2", "order": "5", "active": "on"}

    def change_data(self, obj):
        return {**self.form_data(), "text": "離座鎖定螢幕"}

    def api_data(self):
        return {"text": "離開座位時螢幕上鎖", "clause": "2.3.2", "order": 5}


class TestOfficeHeadRegister(RegisterContract):
    register = OfficeHeadRegister
    api_prefix = "office-heads"
    readers = frozenset(MANAGERS)
    writers = OFFICER

    def make_sample(self, **overrides):
        unit = unit_of()
        return OfficeHead.objects.create(unit=unit, user=login(f"head{unit.pk}"))

    def form_data(self):
        unit = unit_of()
        return {"unit": unit.pk, "user": login(f"h{unit.pk}").pk}

    def change_data(self, obj):
        return {"unit": obj.unit_id, "user": login(f"new{obj.pk}").pk}


class TestSelfCheckRegister(EveryEntryNamesTheActor, RegisterContract):
    register = SelfCheckRegister
    api_prefix = "self-checks"
    readers = frozenset(MANAGERS)
    scoped_readers = frozenset(ALL_ROLES - MANAGERS)
    writers = OFFICER
    voiders = OFFICER
    exporters = frozenset(MANAGERS)

    def make_sample(self, **overrides):
        return sample_check(**overrides)

    def form_data(self):
        return {"unit": unit_of().pk, "checked_on": "115/11/02", **form_answers()}

    def change_data(self, obj):
        data = {"unit": obj.unit_id, "checked_on": "115/10/05", "note": "補充說明"}
        for r in obj.results.all():
            data[f"result_{r.item_id}"] = "ok" if r.ok else "fail"
            data[f"item_note_{r.item_id}"] = r.note
        return data

    def api_data(self):
        return {
            "unit": unit_of().pk,
            "checked_on": "2026-11-02",
            "results": [{"item": i.pk, "ok": True} for i in items()],
        }


def test_the_list_counts_failed_and_pending_answers_of_each_check(client_for):
    """The counts are subqueries of each check (the page's 50), not a join of every check
    with its answers grouped before the sort."""
    clean = sample_check(unit_of("人事室"))
    two_failed = sample_check(unit_of("總務處"))
    first, second = two_failed.results.order_by("id")[:2]
    SelfCheckResult.objects.filter(pk__in=[first.pk, second.pk]).update(ok=False, note="未上鎖")
    SelfCheckResult.objects.filter(pk=first.pk).update(
        resolution="已上鎖", resolved_at=timezone.now()
    )
    rows = {c.pk: c for c in SelfCheckRegister.base_queryset()}
    assert (rows[clean.pk].fail_count, rows[clean.pk].pending_count) == (0, 0)
    assert (rows[two_failed.pk].fail_count, rows[two_failed.pk].pending_count) == (2, 1)
    query = SelfCheckRegister.base_queryset().query
    assert query.group_by is None
    assert 'JOIN "awareness_selfcheckresult"' not in str(query)

    c = client_for(SUPERVISOR)
    page = c.get(reverse("awareness:selfcheck_list"), {"sort": "-fail_count"})
    listing = page.context["page_obj"].object_list
    assert [(x.pk, x.fail_count, x.pending_count) for x in listing] == [
        (two_failed.pk, 2, 1),
        (clean.pk, 0, 0),
    ]


# The rules ----------------------------------------------------------------------------------
@pytest.fixture
def officer():
    return login("officer", SECURITY_OFFICER)


@pytest.fixture
def unit():
    return unit_of("教務處")


@pytest.fixture
def head(unit):
    user = login("dean", STAFF)
    OfficeHead.objects.create(unit=unit, user=user)
    return user


def client_of(client_for_unused, user):
    from django.test import Client

    c = Client()
    c.force_login(user)
    return c


class TestChecklistItems:
    def test_four_default_items_seeded(self):
        assert [i.clause for i in items()] == ["2.3.1", "2.3.2", "7.5", "7.7"]

    def test_used_item_is_retired_not_deleted(self, officer, unit):
        check = sample_check(unit)
        item = items()[0]
        assert selfchecks.item_remove(item, actor=officer) is False
        item.refresh_from_db()
        assert item.active is False
        assert check.results.filter(item=item).exists()
        unused = SelfCheckItem.objects.create(text="新項目", order=10)
        assert selfchecks.item_remove(unused, actor=officer) is True
        assert not SelfCheckItem.objects.filter(pk=unused.pk).exists()

    def test_delete_page_retires_and_api_answers_200(self, client_for, unit):
        sample_check(unit)
        first, second = items()[:2]
        c = client_for(SECURITY_OFFICER)
        response = c.post(reverse("awareness:selfcheckitem_delete", args=[first.pk]))
        assert response.status_code == 302
        first.refresh_from_db()
        assert first.active is False
        api = TestSelfCheckItemRegister().api_client(client_for, SECURITY_OFFICER)
        response = api.delete(f"/api/self-check-items/{second.pk}/")
        assert response.status_code == 200 and response.json()["active"] is False

    def test_retired_item_not_asked_but_kept_on_old_checks(self, client_for, officer, unit, head):
        old = sample_check(unit, day=dt.date(2026, 3, 2))
        retired = items()[0]
        selfchecks.item_remove(retired, actor=officer)
        c = client_of(client_for, head)
        page = c.get(reverse("awareness:selfcheck_add")).content.decode()
        assert f'name="result_{retired.pk}"' not in page
        data = {"unit": unit.pk, "checked_on": "115/11/02", **form_answers()}
        assert c.post(reverse("awareness:selfcheck_add"), data).status_code == 302
        new = SelfCheck.objects.exclude(pk=old.pk).get()
        assert not new.results.filter(item=retired).exists()
        assert new.results.count() == 3
        assert old.results.filter(item=retired).exists()
        page = c.get(old.get_absolute_url()).content.decode()
        assert retired.text in page
        # Editing the old check still asks the retired item.
        edit = c.get(reverse("awareness:selfcheck_edit", args=[old.pk])).content.decode()
        assert f'name="result_{retired.pk}"' in edit

    def test_edit_keeps_text_as_asked(self, officer, unit):
        check = sample_check(unit)
        item = items()[0]
        old_text = item.text
        item.text = "改寫後的項目"
        selfchecks.item_save(item, actor=officer)
        assert check.results.get(item=item).text == old_text


class TestHeads:
    def test_one_per_unit(self, officer, unit, head):
        with pytest.raises(ValidationError) as error:
            selfchecks.head_save(OfficeHead(unit=unit, user=officer), actor=officer)
        assert "unit" in error.value.message_dict

    def test_login_must_be_active(self, officer):
        gone = login("gone", STAFF, is_active=False)
        with pytest.raises(ValidationError) as error:
            selfchecks.head_save(OfficeHead(unit=unit_of(), user=gone), actor=officer)
        assert "user" in error.value.message_dict

    def test_api_one_per_unit_400(self, client_for, unit, head):
        api = TestOfficeHeadRegister().api_client(client_for, SECURITY_OFFICER)
        body = json.dumps({"unit": unit.pk, "user": login("other", STAFF).pk})
        response = api.post("/api/office-heads/", body, content_type="application/json")
        assert response.status_code == 400 and "unit" in response.json()

    def test_only_the_officer_assigns(self, unit):
        with pytest.raises(PermissionDenied):
            selfchecks.head_save(
                OfficeHead(unit=unit, user=login("x", STAFF)), actor=login("sup", SUPERVISOR)
            )


class TestFilling:
    def test_head_fills_own_unit_for_the_term(self, client_for, unit, head):
        c = client_of(client_for, head)
        page = c.get(reverse("awareness:selfcheck_add"))
        assert page.status_code == 200
        data = {"unit": unit.pk, "checked_on": "115/11/02", **form_answers()}
        response = c.post(reverse("awareness:selfcheck_add"), data)
        assert response.status_code == 302
        check = SelfCheck.objects.get()
        assert (check.school_year, check.term) == (115, 1)
        assert check.filled_by == head and check.results.count() == 4

    def test_second_check_in_a_term_refused(self, client_for, unit, head):
        sample_check(unit, day=dt.date(2026, 9, 1))
        c = client_of(client_for, head)
        data = {"unit": unit.pk, "checked_on": "115/11/02", **form_answers()}
        response = c.post(reverse("awareness:selfcheck_add"), data)
        assert response.status_code == 400
        text = " ".join(response.context["form"].non_field_errors())
        assert "115學年度第1學期" in text and "每學期一份" in text
        assert SelfCheck.objects.count() == 1
        # Next semester is another check.
        with time_machine.travel(taipei(2027, 2, 15, 10), tick=False):
            data["checked_on"] = "116/02/15"
            c = client_of(client_for, head)  # a new session: the old one has expired
            response = c.post(reverse("awareness:selfcheck_add"), data)
            assert response.status_code == 302 and "/self-checks/" in response["Location"]
        assert SelfCheck.objects.count() == 2

    def test_a_voided_check_frees_the_term(self, officer, unit):
        check = sample_check(unit)
        selfchecks.check_void(check, actor=officer, reason="填錯單位")
        selfchecks.check_save(
            SelfCheck(unit=unit, checked_on=dt.date(2026, 11, 2)), all_ok(), actor=officer
        )
        assert SelfCheck.objects.filter(voided_at__isnull=True).count() == 1

    def test_every_active_item_answered_and_fail_needs_note(self, officer, unit):
        first, second = items()[:2]
        answers = all_ok()
        del answers[first.pk]
        answers[second.pk] = (False, " ")
        with pytest.raises(ValidationError) as error:
            selfchecks.check_save(
                SelfCheck(unit=unit, checked_on=dt.date(2026, 11, 2)), answers, actor=officer
            )
        errors = error.value.message_dict
        assert "符合" in errors[f"items.{first.pk}"][0]
        assert "說明" in errors[f"items.{second.pk}"][0]
        assert SelfCheck.objects.count() == 0 and SelfCheckResult.objects.count() == 0

    def test_form_shows_item_errors(self, client_for, unit, head):
        first = items()[0]
        data = {"unit": unit.pk, "checked_on": "115/11/02", **form_answers(fail={first.pk})}
        response = client_of(client_for, head).post(reverse("awareness:selfcheck_add"), data)
        assert response.status_code == 400
        assert "說明" in " ".join(response.context["form"].errors[f"result_{first.pk}"])
        assert SelfCheck.objects.count() == 0

    def test_future_date_refused(self, officer, unit):
        with pytest.raises(ValidationError) as error:
            selfchecks.check_save(
                SelfCheck(unit=unit, checked_on=dt.date(2026, 12, 1)), all_ok(), actor=officer
            )
        assert "checked_on" in error.value.message_dict

    def test_other_heads_cannot_fill_or_see(self, client_for, unit, head):
        other_unit = unit_of("總務處")
        other = login("other_head", STAFF)
        OfficeHead.objects.create(unit=other_unit, user=other)
        with pytest.raises(PermissionDenied):
            selfchecks.check_save(
                SelfCheck(unit=unit, checked_on=dt.date(2026, 11, 2)), all_ok(), actor=other
            )
        c = client_of(client_for, other)
        data = {"unit": unit.pk, "checked_on": "115/11/02", **form_answers()}
        assert c.post(reverse("awareness:selfcheck_add"), data).status_code == 400  # not a choice
        check = sample_check(unit)
        assert c.get(check.get_absolute_url()).status_code == 404
        assert c.get(reverse("awareness:selfcheck_edit", args=[check.pk])).status_code == 404
        assert c.get(reverse("awareness:selfcheck_list")).status_code == 200
        mine = client_of(client_for, head)
        assert mine.get(check.get_absolute_url()).status_code == 200
        listing = mine.get(reverse("awareness:selfcheck_list")).content.decode()
        assert "教務處" in listing

    def test_api_by_another_head_403_and_bad_answers_400(self, client_for, unit, head):
        from rest_framework.authtoken.models import Token  # noqa: F401

        from isms.core import services

        other = login("other_head", STAFF)
        OfficeHead.objects.create(unit=unit_of("總務處"), user=other)
        _t, key = services.token_create(user=other, name="t", actor=other)
        from django.test import Client

        api = Client(HTTP_AUTHORIZATION=f"Token {key}")
        body = {
            "unit": unit.pk,
            "checked_on": "2026-11-02",
            "results": [{"item": i.pk, "ok": True} for i in items()],
        }
        response = api.post("/api/self-checks/", json.dumps(body), content_type="application/json")
        assert response.status_code == 403
        officer_api = TestSelfCheckRegister().api_client(client_for, SECURITY_OFFICER)
        first = items()[0]
        body["results"][0] = {"item": first.pk, "ok": False}
        response = officer_api.post(
            "/api/self-checks/", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 400
        assert str(first.pk) in response.json()["results"]
        body["results"] = body["results"][1:]
        response = officer_api.post(
            "/api/self-checks/", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 400 and str(first.pk) in response.json()["results"]
        assert SelfCheck.objects.count() == 0


class TestResolution:
    def test_head_records_the_resolution(self, client_for, unit, head):
        check = sample_check(unit, fail=True)
        failed = check.results.get(ok=False)
        c = client_of(client_for, head)
        url = reverse("awareness:selfcheck_resolve", args=[check.pk])
        response = c.post(url, {"result": failed.pk, "resolution": " "})
        assert response.status_code == 400
        failed.refresh_from_db()
        assert failed.resolved_at is None
        listing = c.get(reverse("awareness:selfcheck_list"), {"pending": "yes"}).content.decode()
        assert check.get_absolute_url() in listing
        found = c.get(reverse("awareness:selfcheck_list"), {"q": "桌上有公文"}).content.decode()
        assert check.get_absolute_url() in found
        response = c.post(url, {"result": failed.pk, "resolution": "公文已收入上鎖櫃"})
        assert response.status_code == 302
        failed.refresh_from_db()
        assert failed.resolution == "公文已收入上鎖櫃" and failed.resolved_by == head
        listing = c.get(reverse("awareness:selfcheck_list"), {"pending": "yes"}).content.decode()
        assert check.get_absolute_url() not in listing
        again = c.post(url, {"result": failed.pk, "resolution": "再一次"})
        assert again.status_code == 400

    def test_ok_item_and_other_heads_refused(self, client_for, unit, head):
        check = sample_check(unit, fail=True)
        passed = check.results.filter(ok=True).first()
        with pytest.raises(ValidationError):
            selfchecks.result_resolve(passed, actor=head, resolution="x")
        other = login("other_head", STAFF)
        OfficeHead.objects.create(unit=unit_of("總務處"), user=other)
        with pytest.raises(PermissionDenied):
            selfchecks.result_resolve(check.results.get(ok=False), actor=other, resolution="x")
        url = reverse("awareness:selfcheck_resolve", args=[check.pk])
        response = client_of(client_for, other).post(
            url, {"result": check.results.get(ok=False).pk, "resolution": "x"}
        )
        assert response.status_code == 404

    def test_api_resolve(self, client_for, unit):
        check = sample_check(unit, fail=True)
        failed = check.results.get(ok=False)
        api = TestSelfCheckRegister().api_client(client_for, SECURITY_OFFICER)
        url = f"/api/self-checks/{check.pk}/resolve/"
        bad = api.post(
            url,
            json.dumps({"result": failed.pk, "resolution": ""}),
            content_type="application/json",
        )
        assert bad.status_code == 400
        good = api.post(
            url,
            json.dumps({"result": failed.pk, "resolution": "已改善"}),
            content_type="application/json",
        )
        assert good.status_code == 200
        row = next(r for r in good.json()["results"] if r["id"] == failed.pk)
        assert row["resolution"] == "已改善"


# Duties ----------------------------------------------------------------------------------------
def state_of(key, subject):
    return ObligationState.objects.filter(key=key, subject_id=str(subject.pk)).first()


def status_at(key, subject, moment):
    with time_machine.travel(moment, tick=False):
        engine.refresh(key)
    return state_of(key, subject).status


class TestDuties:
    def test_units_with_a_head_each_semester(self, officer, unit, head):
        no_head = unit_of("圖書館")
        engine.refresh(selfchecks.DUTY)
        assert state_of(selfchecks.DUTY, no_head) is None
        s = state_of(selfchecks.DUTY, unit)
        assert s.status == "never_done"
        from isms.compliance import registry

        duty = {o.key: o for o in registry.obligations()}[selfchecks.DUTY]
        assert [u.pk for u in duty.recipients(s)] == [head.pk]
        selfchecks.check_save(
            SelfCheck(unit=unit, checked_on=dt.date(2026, 11, 2)), all_ok(), actor=head
        )
        s = state_of(selfchecks.DUTY, unit)
        assert s.status == "ok" and s.last_done_at == taipei(2026, 11, 2)
        assert s.next_due_at == taipei(2027, 8, 1) - SECOND
        assert status_at(selfchecks.DUTY, unit, taipei(2027, 2, 1)) == "ok"
        assert status_at(selfchecks.DUTY, unit, taipei(2027, 7, 2)) == "due_soon"
        assert status_at(selfchecks.DUTY, unit, taipei(2027, 8, 1)) == "overdue"

    def test_voided_check_is_no_evidence(self, officer, unit, head):
        check = selfchecks.check_save(
            SelfCheck(unit=unit, checked_on=dt.date(2026, 11, 2)), all_ok(), actor=head
        )
        selfchecks.check_void(check, actor=officer, reason="重複")
        assert state_of(selfchecks.DUTY, unit).status == "never_done"

    def test_failed_item_due_in_30_days(self, officer, unit, head):
        first = items()[0]
        answers = {**all_ok(), first.pk: (False, "螢幕未上鎖")}
        check = selfchecks.check_save(
            SelfCheck(unit=unit, checked_on=dt.date(2026, 11, 2)), answers, actor=head
        )
        result = check.results.get(ok=False)
        s = state_of(selfchecks.FINDING_DUTY, result)
        # 11/2 + 30 days = 12/2, end of that day (Taipei).
        assert s.next_due_at == taipei(2026, 12, 3) - SECOND
        assert s.status == "due_soon"
        assert status_at(selfchecks.FINDING_DUTY, result, taipei(2026, 12, 3)) == "overdue"
        with time_machine.travel(taipei(2026, 12, 4), tick=False):
            selfchecks.result_resolve(result, actor=head, resolution="已設定螢幕保護")
            assert state_of(selfchecks.FINDING_DUTY, result).status == "ok"
