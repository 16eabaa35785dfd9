"""What the privacy tests share: a frozen moment, Taipei times, logins, page and API
clients, units and the official codes."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from isms.core import services as core_services
from isms.core.models import Person, Unit, User
from isms.privacy.models import CategoryCode, PurposeCode

TAIPEI = dt.timezone(dt.timedelta(hours=8))
PASSWORD = "Xk7#pq92mv"
_n = {"n": 0}


def frozen_at(moment):
    """An autouse fixture that stops the clock at ``moment``; a test module takes it as
    ``_frozen = frozen_at(NOW)``."""

    @pytest.fixture(autouse=True)
    def _frozen():
        with time_machine.travel(moment, tick=False):
            yield

    return _frozen


def taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


def _with_roles(user, roles):
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def the_user(username, *roles, name=None, email=True, **fields):
    """One login per username (made once), with a person named ``name``."""
    user = User.objects.filter(username=username).first()
    if user is None:
        if email:
            fields["email"] = f"{username}@school.example.edu.tw"
        user = User.objects.create_user(
            username=username,
            password=PASSWORD,
            person=Person.objects.create(name=name or f"測試{username}"),
            password_changed_at=timezone.now(),
            **fields,
        )
        _with_roles(user, roles)
    return user


def member(name, *roles, unit=None, email=False, extension="", **fields) -> User:
    """A new login whose person (「name老師」) belongs to ``unit``."""
    user = User.objects.create_user(
        username=name,
        password=PASSWORD,
        email=f"{name}@school.example" if email else "",
        person=Person.objects.create(name=f"{name}老師", unit=unit, extension=extension),
        password_changed_at=timezone.now(),
        **fields,
    )
    return _with_roles(user, roles)


def client_as(user) -> Client:
    """A signed-in page client (``.user`` is who it is)."""
    c = Client()
    c.force_login(user)
    c.user = user
    return c


def token_client(user) -> Client:
    """An API client with a token of ``user`` (``.user`` is who it is)."""
    _token, key = core_services.token_create(user=user, name="test", actor=user)
    c = Client()
    c.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    c.user = user
    return c


def unit_of(name=None, *, prefix="u") -> Unit:
    _n["n"] += 1
    return Unit.objects.create(name=name or f"處室{_n['n']}", code=f"{prefix}{_n['n']}")


def _active(obj, active):
    if obj.is_active != active:
        obj.is_active = active
        obj.save()
    return obj


def category(code="C001", name="辨識個人者", active=True, **defaults) -> CategoryCode:
    found = CategoryCode.objects.get_or_create(code=code, defaults={"name": name, **defaults})[0]
    return _active(found, active)


def purpose(code="109", name="教育或訓練行政", active=True) -> PurposeCode:
    return _active(PurposeCode.objects.get_or_create(code=code, defaults={"name": name})[0], active)
