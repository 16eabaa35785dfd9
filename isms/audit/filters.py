"""Filters of the audit trail: person, record type, action, date (ROC), record."""

import datetime as dt

import django_filters as df
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from isms.core.filters import FilterSet, ROCDateFilter

from .models import AuditEntry


def model_choices():
    from django.apps import apps

    return sorted(
        (m._meta.label_lower, m._meta.verbose_name)
        for m in apps.get_models()
        if m.__module__.startswith("isms.") and m._meta.app_label != "audit"
    )


class AuditEntryFilterSet(FilterSet):
    search_fields = ("object_repr", "message")
    actor = df.CharFilter(label=_("執行者（帳號或姓名）"), method="filter_actor")
    model_label = df.ChoiceFilter(label=_("資料類型"), choices=model_choices())
    action = df.ChoiceFilter(label=_("動作"), choices=AuditEntry.Action.choices)
    date_from = ROCDateFilter(label=_("日期起"), method="filter_from")
    date_to = ROCDateFilter(label=_("日期迄"), method="filter_to")
    object_id = df.CharFilter(label=_("資料編號"))

    class Meta:
        model = AuditEntry
        fields = ["actor", "model_label", "action", "object_id"]

    def filter_actor(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(actor_label=value) | Q(actor__person__name=value))

    @staticmethod
    def _day_start(day: dt.date):
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    def filter_from(self, queryset, name, value):
        return queryset.filter(timestamp__gte=self._day_start(value))

    def filter_to(self, queryset, name, value):
        return queryset.filter(timestamp__lt=self._day_start(value + dt.timedelta(days=1)))
