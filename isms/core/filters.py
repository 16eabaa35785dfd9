"""FilterSets of the core registers, shared by the list pages and the API."""

import django_filters as df
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .fields import ROCDateField
from .models import Person, Unit, User
from .roles import ROLES


class ROCDateFilter(df.DateFilter):
    field_class = ROCDateField


class FilterSet(df.FilterSet):
    """Base: a free-text ``q`` over ``search_fields`` and Bootstrap classes on every widget."""

    search_fields: tuple[str, ...] = ()
    q = df.CharFilter(label=_("搜尋"), method="search")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            widget = field.widget
            # Not chosen means all rows: 全部, not Django's 未知 or "---------".
            if isinstance(widget, forms.NullBooleanSelect | df.widgets.BooleanWidget):
                first, *rest = widget.choices
                widget.choices = [(first[0], _("全部")), *rest]
            elif getattr(field, "empty_label", None) is not None:
                field.empty_label = _("全部")
                widget.choices = field.choices  # a plain choice's widget keeps a copy
            if isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            else:
                widget.attrs.setdefault("class", "form-control form-control-sm")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value or not self.search_fields:
            return queryset
        query = Q()
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": value})
        return queryset.filter(query)


class UnitFilterSet(FilterSet):
    search_fields = ("name", "code")

    class Meta:
        model = Unit
        fields = ["is_active", "parent"]


class PersonFilterSet(FilterSet):
    search_fields = ("name", "english_name", "email", "title", "extension")
    unit = df.ModelChoiceFilter(label=_("單位"), queryset=Unit.objects.order_by("name"))
    onboard_after = ROCDateFilter(label=_("到職日起"), field_name="onboard_date", lookup_expr="gte")
    onboard_before = ROCDateFilter(
        label=_("到職日迄"), field_name="onboard_date", lookup_expr="lte"
    )

    class Meta:
        model = Person
        fields = ["unit", "kind", "status"]


class UserFilterSet(FilterSet):
    search_fields = ("username", "person__name", "email")
    role = df.ChoiceFilter(
        label=_("角色"),
        choices=[(code, label) for code, (label, _d) in ROLES.items()],
        field_name="groups__name",
    )

    class Meta:
        model = User
        fields = ["role", "is_active"]
