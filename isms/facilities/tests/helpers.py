"""What the sensors, readings and alerts tests share: a frozen moment, people, clients,
a room, a sensor, reading items."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client

from isms.audit.models import AuditEntry
from isms.core import services as core_services
from isms.core.models import Person, User
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, SYSADMIN
from isms.facilities import readings
from isms.facilities.models import Room, Sensor

NOW = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)  # 115/11/29 14:00 in Taipei
MINUTE = dt.timedelta(minutes=1)
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
RECORDERS = frozenset({SYSADMIN, EQUIPMENT_HEAD})
URL = "/api/environment-readings/"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def user(username, *roles):
    found = User.objects.filter(username=username).first()
    if found is not None:
        return found
    u = User.objects.create_user(
        username=username,
        password="Xk7#pq92mv",
        email=f"{username}@school.example",
        person=Person.objects.create(name=f"人員{username}"),
        password_changed_at=NOW,
    )
    for role in roles:
        u.groups.add(Group.objects.get_or_create(name=role)[0])
    return u


def login(u):
    c = Client()
    c.force_login(u)
    c.user = u
    return c


def key_client(key):
    c = Client()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return c


def token_client(u):
    _token, key = core_services.token_create(user=u, name="test", actor=u)
    c = key_client(key)
    c.user = u
    return c


def room_of(keeper, name="主機機房", **values):
    return Room.objects.create(name=name, kind=Room.Kind.SERVER_ROOM, keeper=keeper, **values)


def sensor_of(actor, room, code=None, **values):
    code = code or f"srv-{Sensor.objects.count() + 1}"
    values.setdefault("name", f"感測器{code}")
    return readings.save_sensor(Sensor(room=room, code=code, **values), actor=actor)


def item(minutes=1, t=22.0, h=60.0, **values):
    body = {
        "measured_at": (NOW - minutes * MINUTE).isoformat(),
        "temperature_c": t,
        "humidity_pct": h,
    }
    body.update(values)
    return body


def denied_entries():
    return AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS_DENIED).order_by("id")
