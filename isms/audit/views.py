"""The audit trail pages and API: global list with filters, one entry, export."""

import functools

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from rest_framework import viewsets

from isms.core.access import Access, restrict
from isms.core.registers import Column, Register
from isms.core.restapi import ModelSerializer
from isms.core.restbase import CursorPagination
from isms.core.roles import MANAGERS

from .filters import AuditEntryFilterSet
from .models import AuditEntry

AUDIT_ACCESS = Access(view=MANAGERS)


@functools.cache
def model_name(label: str) -> str:
    """The zh-TW name of a record type (``core.person`` → 人員), or the label itself."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


def _record(entry):
    if not entry.model_label:
        return entry.object_repr
    return f"{model_name(entry.model_label)} #{entry.object_id} {entry.object_repr}".strip()


class AuditEntryRegister(Register):
    model = AuditEntry
    access = AUDIT_ACCESS
    columns = [
        Column("id", _("編號"), link=True),
        Column("timestamp", _("時間")),
        Column("actor_label", _("執行者")),
        Column("action", _("動作")),
        Column("record", _("資料"), accessor=_record, sort=None),
        Column("ip", _("來源位址"), sort=None),
        Column("message", _("說明"), sort=None, page=False),
        Column("request_id", _("請求編號"), sort=None, page=False),
    ]
    filterset_class = AuditEntryFilterSet
    ordering = ("-id",)
    attachments = False
    history = False
    detail_template = "audit/entry_detail.html"
    route = "entries"
    url_prefix = "entry"


class AuditEntrySerializer(ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "timestamp",
            "actor",
            "actor_label",
            "action",
            "model_label",
            "object_id",
            "object_repr",
            "changes",
            "message",
            "ip",
            "request_id",
            "hash",
        ]


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first; readable by the security officer, supervisor, principal."""

    access = AUDIT_ACCESS
    serializer_class = AuditEntrySerializer
    pagination_class = CursorPagination
    filterset_class = AuditEntryFilterSet
    queryset = AuditEntry.objects.none()

    def get_queryset(self):
        return restrict(AuditEntry.objects.order_by("-id"), self.request.user, "view", self.access)
