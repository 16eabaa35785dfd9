"""The rules of clause 2.10.2 (levels) and 2.10.9 (deadlines), as plain functions.

Level: 0 for the three unconfirmed cases the clause lists; otherwise the highest of the
confidentiality, integrity and availability impacts, each rated in the clause's words.
The officer may override it with a reason.

Deadlines: the platform report is due ``ISMS_INCIDENT_REPORT_HOURS`` (1) after the anchor;
closing (report and response done) 72 hours after it for levels 0–2 and 36 hours for
levels 3–4. The anchor is the moment the school learned of the incident (知悉, as the
regulation 資通安全事件通報及應變辦法 reads it) unless ``ISMS_INCIDENT_DEADLINE_ANCHOR`` is
``occurred`` (the clause's "發生後"); without an occurred time the learned time is used.
"""

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext_lazy as _

ESCALATION_LEVEL = 3  # 2.10.4: level 3 and above goes to the supervisor and principal
LEVELS = [(n, _("%(n)d 級") % {"n": n}) for n in range(5)]

UNCONFIRMED_CHOICES = [
    ("unconfirmed_ticket", _("(1) 未確定事件或待確認工單（A-SOC、miniSOC 等新型技術產生之工單）")),
    ("told_unconfirmed", _("(2) 其他單位所告知教育部所屬單位所發生未確定之資安事件")),
    ("mailbox_notice", _("(3) 教育部及區、縣網路中心檢舉信箱通告之資安事件")),
]

# Each impact in the clause's own words; 0 is "none".
CONFIDENTIALITY = [
    (0, _("無資料遭洩漏")),
    (1, _("非核心業務資料遭洩漏")),
    (2, _("非屬密級或敏感之核心業務資料遭洩漏")),
    (3, _("密級或敏感公務資料遭洩漏")),
    (4, _("國家機密資料遭洩漏")),
]
INTEGRITY = [
    (0, _("無系統或資料遭竄改")),
    (1, _("非核心業務系統或資料遭竄改")),
    (2, _("核心業務系統或資料遭輕微竄改")),
    (3, _("核心業務系統或資料遭嚴重竄改")),
    (4, _("國家重要資訊基礎建設系統或資料遭竄改")),
]
AVAILABILITY = [
    (0, _("運作未受影響")),
    (1, _("非核心業務運作遭影響或短暫停頓")),
    (2, _("核心業務運作遭影響或系統效率降低，於可容忍中斷時間內回復正常運作")),
    (3, _("核心業務運作遭影響或系統停頓，無法於可容忍中斷時間內回復正常運作")),
    (4, _("國家重要資訊基礎建設運作遭影響或系統停頓，無法於可容忍中斷時間內回復正常運作")),
]


def compute_level(unconfirmed: str, confidentiality, integrity, availability) -> int | None:
    """The level the clause gives: 0 when unconfirmed, else the highest impact (None: unrated)."""
    if unconfirmed:
        return 0
    rated = [v for v in (confidentiality, integrity, availability) if v is not None]
    return max(rated) if rated else None


def effective_level(computed, override) -> int | None:
    return override if override is not None else computed


def anchor(occurred_at, discovered_at):
    """The moment the clocks run from (see the module docstring)."""
    if settings.ISMS_INCIDENT_DEADLINE_ANCHOR == "occurred" and occurred_at is not None:
        return occurred_at
    return discovered_at


def close_hours(level) -> int:
    return 36 if level is not None and level >= ESCALATION_LEVEL else 72


def report_due(start):
    return start + dt.timedelta(hours=settings.ISMS_INCIDENT_REPORT_HOURS)


def close_due(start, level):
    return start + dt.timedelta(hours=close_hours(level))


def reminders() -> tuple[dt.timedelta, ...]:
    """Reminder points before each deadline (``ISMS_INCIDENT_REMINDER_MINUTES``)."""
    return tuple(dt.timedelta(minutes=m) for m in settings.ISMS_INCIDENT_REMINDER_MINUTES)
