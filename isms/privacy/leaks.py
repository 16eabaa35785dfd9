"""The rules of the leak follow-up (個資外洩當事人通知; PDPA art. 12, clause 7.2).

個人資料保護法第 12 條: when personal data is stolen, leaked, altered or otherwise infringed,
the school, once it has looked into it, tells the people concerned in a suitable way. Its
enforcement rules, art. 22, say the notice covers 個人資料被侵害之事實 and 已採取之因應措施;
the school's notice also gives a 諮詢服務專線 so that people know whom to ask.

- Every security incident (``isms.incidents``) of category 個資外洩, not voided and not
  judged 非資安事件, needs its notification (``needs_notice``), due
  ``ISMS_LEAK_NOTICE_HOURS`` after the incident's 知悉時間 (``discovered_at``: when the
  school learned of it — what the report form records as the moment it was seen; always
  set, unlike the platform report, which may wait while the leak is looked into).
- The security officer records the notification (``notice_save``): when, how many people,
  how, and the notice's three parts — the facts, the measures, the contact line — each
  required; the notice letter is attached through the core attachments. The record may be
  corrected (audited). Only for a 個資外洩 incident.

Every function validates first (``ValidationError`` field → zh-TW message citing the
article, nothing saved), checks permission (``PermissionDenied``), takes the acting person
and saves inside ``trail.as_actor``.
"""

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc
from isms.core.access import has_role
from isms.core.roles import SECURITY_OFFICER
from isms.incidents.models import Incident

from .models import LeakNotification

DUTY = "privacy.leak_notice"
# PDPA art. 12 is not a clause of the policy; 7.2 (不得任意蒐集或洩露個資) is the clause of
# the catalogue a leak breaks, so the duty and the register are filed under it.
CLAUSE = "7.2"
ARTICLE = gettext_lazy("個人資料保護法第 12 條")
CLOCK_SKEW = dt.timedelta(minutes=5)
# The three parts of the notice, in the letter's own words (it is written to the people
# concerned in Chinese whatever the language of the page), so that a stored notice can be
# read back into its parts for an edit.
PARTS = ("facts", "measures", "contact")
HEADINGS = {
    "facts": "一、個人資料被侵害之事實：",
    "measures": "二、已採取之因應措施：",
    "contact": "三、諮詢服務專線：",
}
ENTRY_FIELDS = ("incident", "notified_at", "people_count", "method")


def may_record(user) -> bool:
    """Record and correct notifications: the security officer."""
    return has_role(user, SECURITY_OFFICER)


# The incidents that need a notice -------------------------------------------------------------
def needs_notice():
    """個資外洩 incidents, not voided, not 非資安事件: each needs its notification."""
    return (
        Incident.objects.active()
        .filter(category=Incident.Category.DATA_LEAK)
        .exclude(status=Incident.Status.DISMISSED)
    )


def notice_hours() -> int:
    return settings.ISMS_LEAK_NOTICE_HOURS


def notice_due(discovered_at: dt.datetime) -> dt.datetime:
    """知悉時間 + ``ISMS_LEAK_NOTICE_HOURS``, to the minute: a leak is told as it is known,
    not by the end of some day."""
    return discovered_at + dt.timedelta(hours=notice_hours())


class State:
    """The 個資外洩通知 page's 「狀態」 of an incident."""

    PENDING = "pending"
    OVERDUE = "overdue"
    NOTIFIED = "notified"

    choices = [
        (PENDING, gettext_lazy("待通知")),
        (OVERDUE, gettext_lazy("逾期")),
        (NOTIFIED, gettext_lazy("已通知")),
    ]


STATE_LABELS = dict(State.choices)


def notice_of(incident):
    """The incident's notification, or None (one query unless selected with it)."""
    try:
        return incident.leak_notification
    except LeakNotification.DoesNotExist:
        return None


def state(incident, now=None) -> str:
    if notice_of(incident) is not None:
        return State.NOTIFIED
    if (now or timezone.now()) >= notice_due(incident.discovered_at):
        return State.OVERDUE
    return State.PENDING


def state_filter(code: str, now=None) -> Q:
    """The incidents of one state, as a query."""
    if code == State.NOTIFIED:
        return Q(leak_notification__isnull=False)
    limit = (now or timezone.now()) - dt.timedelta(hours=notice_hours())
    if code == State.OVERDUE:
        return Q(leak_notification__isnull=True, discovered_at__lte=limit)
    if code == State.PENDING:
        return Q(leak_notification__isnull=True, discovered_at__gt=limit)
    raise ValueError(code)


def late(notice: LeakNotification) -> bool:
    """Told after the deadline."""
    return notice.notified_at > notice_due(notice.incident.discovered_at)


# The notice's parts -------------------------------------------------------------------------------
def compose(*, facts: str, measures: str, contact: str) -> str:
    """The notice's content: its three parts under their headings."""
    values = {"facts": facts, "measures": measures, "contact": contact}
    return "\n\n".join(f"{HEADINGS[name]}\n{values[name].strip()}" for name in PARTS)


_SPLIT = re.compile(
    "^(" + "|".join(re.escape(HEADINGS[name]) for name in PARTS) + r")[ \t]*\n?", re.M
)


def split(content: str) -> dict:
    """The three parts of a stored notice; a text without the headings is all facts."""
    parts = dict.fromkeys(PARTS, "")
    pieces = _SPLIT.split(content or "")
    if len(pieces) == 1:
        parts["facts"] = (content or "").strip()
        return parts
    by_heading = {HEADINGS[name]: name for name in PARTS}
    lead = pieces[0].strip()
    for heading, text in zip(pieces[1::2], pieces[2::2], strict=True):
        name = by_heading[heading]
        parts[name] = (parts[name] + "\n" + text.strip()).strip() if parts[name] else text.strip()
    if lead:
        parts["facts"] = f"{lead}\n{parts['facts']}".strip()
    return parts


# The rules ----------------------------------------------------------------------------------------
def check_notice(notice: LeakNotification, parts: dict, *, kept=None, now=None) -> dict:
    """Field errors of a notification as it would be saved (PDPA art. 12; rules art. 22).

    1. The incident: given; of category 個資外洩 (else art. 12 does not apply); not voided,
       not 非資安事件; without another notification.
    2. 通知時間: given, not before the incident's 知悉時間 (nor its 發生時間), not in the
       future (``CLOCK_SKEW`` allowed).
    3. 通知人數 at least 1; 通知方式 given.
    4. The facts, the measures taken and the contact line: each given.
    """
    now = now or timezone.now()
    errors = {}
    incident = None
    if not notice.incident_id:
        errors["incident"] = _("請選擇個資外洩的資安事件。")
    else:
        incident = Incident.objects.filter(pk=notice.incident_id).first()
        if incident is None:
            errors["incident"] = _("找不到此資安事件。")
        elif incident.category != Incident.Category.DATA_LEAK:
            errors["incident"] = _(
                "此事件的類型不是「個資外洩」：通知當事人的義務只適用於個人資料被竊取、"
                "洩漏、竄改或其他侵害的事件（%(article)s）。"
            ) % {"article": ARTICLE}
        elif incident.is_voided or incident.status == Incident.Status.DISMISSED:
            errors["incident"] = _(
                "此事件已作廢或判定為非資安事件，不需通知當事人（%(article)s）。"
            ) % {"article": ARTICLE}
        elif (
            LeakNotification.objects.filter(incident_id=incident.pk)
            .exclude(pk=notice.pk or 0)
            .exists()
        ):
            errors["incident"] = _("此事件已登錄當事人通知，請修改該筆紀錄。")
    moment = notice.notified_at
    if moment is None:
        errors["notified_at"] = _("請填寫通知當事人的時間。")
    elif moment > now + CLOCK_SKEW:
        errors["notified_at"] = _("通知時間不可晚於現在；此紀錄登錄已完成的通知。")
    elif incident is not None and moment < incident.discovered_at:
        errors["notified_at"] = _("通知時間不可早於事件的知悉時間（%(moment)s）。") % {
            "moment": roc.format_roc_datetime(incident.discovered_at)
        }
    elif incident is not None and incident.occurred_at and moment < incident.occurred_at:
        errors["notified_at"] = _("通知時間不可早於事件的發生時間（%(moment)s）。") % {
            "moment": roc.format_roc_datetime(incident.occurred_at)
        }
    if notice.people_count is None or notice.people_count < 1:
        errors["people_count"] = _(
            "通知人數至少為 1 人：請填寫已通知的當事人人數（%(article)s）。"
        ) % {"article": ARTICLE}
    if not notice.method:
        errors["method"] = _(
            "請填寫通知方式，例如：書面、電子郵件、電話、簡訊"
            "（個人資料保護法施行細則第 22 條：以適當方式通知）。"
        )
    elif len(notice.method) > LeakNotification._meta.get_field("method").max_length:
        errors["method"] = _("最多 %(limit)d 個字。") % {
            "limit": LeakNotification._meta.get_field("method").max_length
        }
    if not parts["facts"]:
        errors["facts"] = _(
            "請寫明個人資料被侵害之事實：何時、哪些資料、如何外洩"
            "（個人資料保護法施行細則第 22 條）。"
        )
    if not parts["measures"]:
        errors["measures"] = _(
            "請寫明已採取之因應措施，例如：請誤收者刪除、更換密碼"
            "（個人資料保護法施行細則第 22 條）。"
        )
    if not parts["contact"]:
        errors["contact"] = _(
            "請寫明諮詢服務專線（電話與窗口），讓當事人知道向誰詢問（依%(article)s通知當事人）。"
        ) % {"article": ARTICLE}
    return errors


@transaction.atomic
def notice_save(
    notice: LeakNotification, *, actor, facts: str, measures: str, contact: str, now=None
) -> LeakNotification:
    """Record (the actor is its recorder) or correct the notification of a leak."""
    if not may_record(actor):
        raise PermissionDenied
    now = now or timezone.now()
    kept = None
    if notice.pk is not None:
        kept = LeakNotification.objects.select_for_update().get(pk=notice.pk)
        notice.recorded_by_id = kept.recorded_by_id
        notice.created_at = kept.created_at
    else:
        notice.recorded_by = actor
    if notice.incident_id:  # one notification per incident, also when two save at once
        Incident.objects.select_for_update().filter(pk=notice.incident_id).first()
    notice.method = (notice.method or "").strip()
    parts = {
        "facts": (facts or "").strip(),
        "measures": (measures or "").strip(),
        "contact": (contact or "").strip(),
    }
    errors = check_notice(notice, parts, kept=kept, now=now)
    if errors:
        raise ValidationError(errors)
    notice.content = compose(**parts)
    with trail.as_actor(actor):
        notice.save()
    refresh_duty()
    return notice


def refresh_duty() -> None:
    """Recompute the leak-notice duty's states (derived data) at once."""
    from isms.compliance import engine

    engine.refresh(DUTY)
