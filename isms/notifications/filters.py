"""The notification register's filters, shared by its page and /api/notifications/."""

import django_filters as df
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from isms.core.filters import FilterSet, ROCDateFilter

from .models import Notification


class NotificationFilterSet(FilterSet):
    search_fields = ("subject", "dedup_key", "last_error")
    recipient = df.ModelChoiceFilter(
        label=_("收件人"),
        queryset=get_user_model().objects.select_related("person").order_by("username"),
    )
    created_after = ROCDateFilter(
        label=_("建立日起"), field_name="created_at", lookup_expr="date__gte"
    )
    created_before = ROCDateFilter(
        label=_("建立日迄"), field_name="created_at", lookup_expr="date__lte"
    )

    class Meta:
        model = Notification
        fields = ["status", "recipient", "urgent"]
