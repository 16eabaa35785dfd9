"""The list filters: nothing chosen reads 全部 (all rows), for every kind of select."""

import pytest

from isms.assets.filters import AssetFilterSet
from isms.assets.models import Asset
from isms.core.filters import PersonFilterSet, UnitFilterSet

pytestmark = pytest.mark.django_db


def first_label(form, name):
    return str(next(iter(form.fields[name].widget.choices))[1])


@pytest.mark.parametrize(
    "filterset, name",
    [
        (UnitFilterSet, "is_active"),  # a model boolean: Django would say 未知
        (AssetFilterSet, "stores_personal_data"),
        (AssetFilterSet, "kind"),  # a choice: django-filter would say ---------
        (AssetFilterSet, "finding"),
        (PersonFilterSet, "unit"),  # a model choice
    ],
)
def test_nothing_chosen_reads_all(filterset, name):
    form = filterset(data={}, queryset=filterset._meta.model.objects.all()).form
    assert first_label(form, name) == "全部"


def test_the_all_choice_still_filters_nothing():
    Asset.objects.create(kind="pc", name="A", stores_personal_data=True)
    Asset.objects.create(kind="usb", name="B")
    qs = AssetFilterSet(
        data={"stores_personal_data": "", "kind": ""}, queryset=Asset.objects.all()
    ).qs
    assert qs.count() == 2
    qs = AssetFilterSet(data={"stores_personal_data": "true"}, queryset=Asset.objects.all()).qs
    assert [a.name for a in qs] == ["A"]
