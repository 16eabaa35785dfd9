"""The readings list counts at most ``count_cap`` rows: a log of a reading a minute is not
counted whole for every page."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from isms.core.roles import SYSADMIN
from isms.facilities.models import Reading, Room
from isms.facilities.views_readings import ReadingRegister


@pytest.fixture
def room(make_user):
    keeper = make_user("keeper", SYSADMIN)
    return Room.objects.create(name="主機機房", kind=Room.Kind.SERVER_ROOM, keeper=keeper)


def readings(room, n):
    now = timezone.now()
    Reading.objects.bulk_create(
        Reading(
            room=room,
            measured_at=now - dt.timedelta(minutes=i),
            temperature_c=22,
            source=Reading.Source.MANUAL,
        )
        for i in range(n)
    )


@pytest.mark.django_db
def test_a_long_log_says_more_than_the_cap(room, client_for, monkeypatch):
    monkeypatch.setattr(ReadingRegister, "count_cap", 3)
    readings(room, 5)
    c = client_for(SYSADMIN)
    with CaptureQueriesContext(connection) as queries:
        page = c.get("/facilities/readings/").content.decode()
    assert "超過 3 筆" in page and "共 5 筆" not in page
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 4" in sql for sql in counts)


@pytest.mark.django_db
def test_under_the_cap_the_exact_count(room, client_for, monkeypatch):
    monkeypatch.setattr(ReadingRegister, "count_cap", 3)
    readings(room, 2)
    page = client_for(SYSADMIN).get("/facilities/readings/").content.decode()
    assert "共 2 筆" in page and "超過" not in page
