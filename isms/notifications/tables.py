"""Columns of the notification register, declared once for the page, CSV and XLSX."""

from django.utils.translation import gettext_lazy as _

from isms.core.registers import Column


def _short_error(row) -> str:
    text = " ".join(row.last_error.split())
    return text if len(text) <= 80 else text[:79] + "…"


NOTIFICATION_COLUMNS = [
    Column("created_at", _("建立時間")),
    Column("subject", _("主旨"), link=True),
    Column("recipient", _("收件人"), accessor="recipient.username", sort="recipient__username"),
    Column("status", _("狀態")),
    Column("urgent", _("緊急")),
    Column("attempts", _("嘗試次數")),
    Column("next_attempt_at", _("下次嘗試"), page=False),
    Column("sent_at", _("寄出時間")),
    Column("last_error", _("最近錯誤"), accessor=_short_error, sort=None),
    Column("dedup_key", _("去重複鍵"), page=False),
]
