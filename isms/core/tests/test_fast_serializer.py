"""The fast read path of API serializers gives exactly what DRF's own path gives."""

import datetime as dt

import pytest
from rest_framework import serializers

from isms.audit.models import AuditEntry
from isms.audit.views import AuditEntrySerializer
from isms.core.api import PersonSerializer, UnitSerializer
from isms.core.models import Person, Unit


def drf_way(serializer_class, instance):
    return serializers.Serializer.to_representation(serializer_class(), instance)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "english_name": "Chen Ta-wen",
            "title": "教師",
            "email": "a@b.tw",
            "extension": "301",
            "onboard_date": dt.date(2026, 8, 1),
            "leave_date": dt.date(2027, 7, 31),
            "status": "left",
            "kind": "vendor",
            "organization": "宏達資訊",
        },
    ],
)
def test_people_read_the_same_both_ways(fields):
    unit = Unit.objects.create(name="教務處", code="academic") if fields else None
    person = Person.objects.create(name="陳大文", unit=unit, **fields)
    person = Person.objects.select_related("unit").get(pk=person.pk)
    assert PersonSerializer(person).data == drf_way(PersonSerializer, person)
    if unit:
        assert UnitSerializer(unit).data == drf_way(UnitSerializer, unit)


@pytest.mark.django_db
def test_audit_entries_read_the_same_both_ways():
    Unit.objects.create(name="教務處", code="academic")
    entry = AuditEntry.objects.order_by("-id").first()
    assert AuditEntrySerializer(entry).data == drf_way(AuditEntrySerializer, entry)


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Asia/Taipei", "UTC"])
def test_moments_read_the_same_both_ways(make_user, settings, zone):
    from django.utils import timezone

    from isms.incidents import services
    from isms.incidents.api import IncidentSerializer
    from isms.incidents.models import Incident

    officer = make_user("officer")
    incident = services.create(
        actor=officer,
        title="x",
        description="y",
        source="self",
        discovered_at=dt.datetime(2026, 11, 2, 7, 40, 12, 345678, tzinfo=dt.UTC),
        occurred_at=None,
    )
    incident = Incident.objects.get(pk=incident.pk)
    with timezone.override(zone):
        fast = IncidentSerializer(incident).data
        assert fast == drf_way(IncidentSerializer, incident)
    assert fast["discovered_at"].endswith("Z" if zone == "UTC" else "+08:00")
