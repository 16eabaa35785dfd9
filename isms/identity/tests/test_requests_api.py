"""/api/account-requests/: a directory sync script files A-3 requests with their lines."""

import datetime as dt
import json

import pytest
import time_machine

from isms.core import services as core_services
from isms.core.models import Unit
from isms.core.roles import PERSONNEL, STAFF
from isms.identity.models import Account, AccountRequest, InformationSystem

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def api(client_for, role):
    c = client_for(role)
    _token, key = core_services.token_create(user=c.user, name="sync", actor=c.user)
    c.logout()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


@pytest.mark.django_db
class TestAccountRequestApi:
    def body(self, applicant, system, **line):
        return {
            "applicant": applicant.pk,
            "requested_on": "2026-11-30",
            "lines": [{"system": system.pk, "account_name": "lin01", "action": "add", **line}],
        }

    def post(self, c, body):
        return c.post("/api/account-requests/", json.dumps(body), content_type="application/json")

    def test_staff_file_for_themselves_with_lines(self, client_for):
        c = api(client_for, STAFF)
        system = InformationSystem.objects.create(name="電子郵件")
        response = c.post(
            "/api/account-requests/",
            json.dumps(self.body(c.user.person, system)),
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["status"] == "submitted" and data["number"]
        assert data["lines"][0]["action"] == "add" and data["lines"][0]["executed_at"] is None
        listed = c.get("/api/account-requests/").json()
        assert listed["count"] == 1

    def test_bad_lines_are_refused_and_nothing_saved(self, client_for):
        c = api(client_for, PERSONNEL)
        system = InformationSystem.objects.create(name="電子郵件")
        system.voided_at = NOW
        system.save()
        response = c.post(
            "/api/account-requests/",
            json.dumps(self.body(c.user.person, system)),
            content_type="application/json",
        )
        assert response.status_code == 400
        assert AccountRequest.objects.count() == 0

    def test_a_request_is_not_changed_through_the_api(self, client_for):
        c = api(client_for, PERSONNEL)
        system = InformationSystem.objects.create(name="電子郵件")
        made = c.post(
            "/api/account-requests/",
            json.dumps(self.body(c.user.person, system)),
            content_type="application/json",
        ).json()
        url = f"/api/account-requests/{made['id']}/"
        response = c.patch(url, json.dumps({"extension": "9"}), content_type="application/json")
        assert response.status_code in (403, 405)
        assert AccountRequest.objects.get().extension != "9"

    def test_remarks_are_written_and_the_authorisation_tick_is_only_read(self, client_for):
        c = api(client_for, STAFF)
        system = InformationSystem.objects.create(name="電子郵件")
        body = self.body(c.user.person, system, authorisation_checked=True)
        response = self.post(c, {**body, "remarks": "導師業務需要"})
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["remarks"] == "導師業務需要"
        assert data["lines"][0]["authorisation_checked"] is False
        req = AccountRequest.objects.get()
        assert req.remarks == "導師業務需要" and not req.lines.get().authorisation_checked

    def test_a_system_closed_to_requests_is_refused_with_the_reason(self, client_for):
        c = api(client_for, STAFF)
        system = InformationSystem.objects.create(name="校務行政系統", requests_open=False)
        response = self.post(c, self.body(c.user.person, system))
        assert response.status_code == 400
        (message,) = response.json()["lines.0.system"]
        assert "校務行政系統" in message and "不開放帳號申請" in message
        assert AccountRequest.objects.count() == 0

    def test_a_system_for_other_units_is_refused_with_the_reason(self, client_for):
        c = api(client_for, PERSONNEL)
        mine = Unit.objects.create(name="人事室", code="hr")
        person = c.user.person
        person.unit = mine
        person.save()
        system = InformationSystem.objects.create(name="學籍系統")
        system.request_units.add(Unit.objects.create(name="教務處", code="academic"))
        response = self.post(c, self.body(person, system))
        assert response.status_code == 400
        (message,) = response.json()["lines.0.system"]
        assert "學籍系統" in message and "教務處" in message and "人事室" in message
        assert AccountRequest.objects.count() == 0
        system.request_units.add(mine)
        assert self.post(c, self.body(person, system)).status_code == 201

    def test_taking_access_away_is_asked_through_the_api_on_a_closed_system(self, client_for):
        c = api(client_for, STAFF)
        system = InformationSystem.objects.create(name="校務行政系統", requests_open=False)
        Account.objects.create(system=system, username="lin01", person=c.user.person)
        response = self.post(c, self.body(c.user.person, system, action="disable"))
        assert response.status_code == 201, response.content
