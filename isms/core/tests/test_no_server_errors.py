"""No request ends in a 500: malformed input to every page and endpoint of the product."""

import json
import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from isms.core.models import Attachment, Person, User
from isms.core.roles import SECURITY_OFFICER, STAFF

SKIP = ("admin/", "static/", "api/docs/", "api/schema/", "logout/")

JUNK_QUERY = {
    "page": "-1",
    "sort": "-password",
    "format": "exe",
    "q": "\x00' OR 1=1 --",
    "unit": "abc",
    "status": "nope",
    "kind": "robot",
    "date_from": "115/99/99",
    "date_to": "2026-02-30",
    "onboard_after": "民國x年",
    "model_label": "core.nothing",
    "action": "explode",
    "actor": "x" * 500,
    "role": "root",
    "is_active": "maybe",
    "parent": "-5",
    "voided": "1",
    "page_size": "100000",
}
JUNK_FORM = {
    "name": "x" * 5000,
    "code": "不是 代碼",
    "username": "bad name!",
    "person": "99999999",
    "unit": "abc",
    "roles": ["root", "staff"],
    "reason": "",
    "email": "not-mail",
    "birthday": "115/02/30",
    "onboard_date": "13/13/13",
    "leave_date": "zzz",
    "national_id": "12345",
    "phone": "<script>",
    "file": "not a file",
    "old_password": "",
    "new_password1": "a",
    "new_password2": "b",
    "form-TOTAL_FORMS": "x",
    "form-INITIAL_FORMS": "-1",
    "first_semester_start_month": "13",
    "first_semester_start_day": "0",
    "password": "",
}
JUNK_BODIES = [
    "{not json",
    json.dumps([1, 2, 3]),
    json.dumps({"name": None, "unit": "abc", "onboard_date": "115/02/30", "kind": 5}),
    json.dumps({"password": 12345678, "username": ["x"], "reason": {"a": 1}}),
    "\x00\xff",
]


def routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return [r for r in walk(get_resolver().url_patterns) if not r.startswith(SKIP)]


def concrete(route, pk):
    route = route.replace("^", "").replace("$", "").replace("\\.(?P<format>[a-z0-9]+)/?", "")
    route = re.sub(r"\(\?P<[^>]+>[^)]+\)", str(pk), route)
    route = re.sub(r"<int:\w+>", str(pk), route)
    route = re.sub(r"<str:label>", "core.person", route)
    route = re.sub(r"<(?:str|slug):\w+>", "x", route)
    route = re.sub(r"<\w+>", str(pk), route)
    return "/" + route


@pytest.mark.django_db
def test_no_page_or_endpoint_answers_500_to_malformed_input(client_for):
    call_command("demo", "--quiet")
    person = Person.objects.first()
    Attachment.objects.create(
        content_type_id=__import__("django.contrib.contenttypes.models", fromlist=["ContentType"])
        .ContentType.objects.get_for_model(Person)
        .pk,
        object_id=str(person.pk),
        file="attachments/missing",
        original_name="gone.pdf",
        size=1,
        mime_type="application/pdf",
        sha256="0" * 64,
    )
    officer = client_for(SECURITY_OFFICER, superuser=True)
    staff = client_for(STAFF)
    pks = [person.pk, User.objects.first().pk, 1, 99999999]
    checked = 0
    for route in routes():
        for pk in pks:
            url = concrete(route, pk)
            for c in (officer, staff):
                for response in (
                    c.get(url, JUNK_QUERY),
                    c.post(url, JUNK_FORM),
                    *(c.post(url, body, content_type="application/json") for body in JUNK_BODIES),
                    c.put(url, JUNK_BODIES[2], content_type="application/json"),
                    c.patch(url, JUNK_BODIES[0], content_type="application/json"),
                ):
                    assert response.status_code < 500, (url, response.status_code)
                    checked += 1
    assert checked > 500
