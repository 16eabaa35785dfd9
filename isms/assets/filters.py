"""The asset register's filters, shared by the list page and ``/api/assets/``."""

import django_filters as df
from django.utils.translation import gettext_lazy as _

from isms.core.filters import FilterSet
from isms.core.models import Unit

from . import services
from .models import Asset


class AssetFilterSet(FilterSet):
    search_fields = (
        "property_number",
        "name",
        "brand",
        "model",
        "serial",
        "location",
        "purpose",
        "custodian__name",
    )
    unit = df.ModelChoiceFilter(label=_("使用單位"), queryset=Unit.objects.order_by("name"))
    # A school has thousands of people: the custodian is typed, not picked from a list.
    custodian = df.CharFilter(label=_("保管人"), method="by_custodian")
    location = df.CharFilter(label=_("放置地點"), lookup_expr="icontains")
    finding = df.ChoiceFilter(
        label=_("待處理"),
        method="by_finding",
        choices=[
            ("any", _("任一項待處理")),
            *((code, labels[1]) for code, labels in services.FINDINGS.items()),
        ],
    )

    class Meta:
        model = Asset
        fields = ["kind", "state", "unit", "custodian", "location", "stores_personal_data"]

    def by_custodian(self, queryset, name, value):
        """A person's id (links, scripts) or part of their name."""
        value = value.strip()
        if not value:
            return queryset
        if value.isascii() and value.isdigit() and len(value) <= 18:
            return queryset.filter(custodian_id=int(value))
        return queryset.filter(custodian__name__icontains=value)

    def by_finding(self, queryset, name, value):
        return queryset.filter(services.finding_q(value)) if value else queryset
