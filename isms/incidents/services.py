"""Every change of an incident: the rules of clause 2.10 live here, not in the views.

Each function takes the acting person, validates everything before it writes (a
``ValidationError`` with field → zh-TW message, nothing saved), appends to the incident's
timeline, keeps the deadlines right and refreshes the incident duties of the compliance
engine so that the dashboard and reminders follow at once.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.compliance import engine
from isms.core import numbering, roc
from isms.core.roles import PRINCIPAL, SECURITY_OFFICER, SUPERVISOR
from isms.core.services import site_url
from isms.notifications import services as notifications

from . import levels
from .models import EscalationStep, Incident, TimelineEntry

DUTIES = (
    "incidents.report",
    "incidents.close",
    "incidents.change_report",
    "incidents.warning_answer",
    "incidents.improvement_report",
)
# A clock may run a little ahead of the server's: a time this far ahead is still "now".
SKEW = dt.timedelta(minutes=2)
Status = Incident.Status


# Helpers ---------------------------------------------------------------------------------
def log(incident, kind, text="", *, actor=None, at=None) -> TimelineEntry:
    if actor is not None:
        label = actor.display_name
    else:
        resolved, label = trail.resolve_actor()
        actor = resolved
    with trail.as_actor(actor):
        return TimelineEntry.objects.create(
            incident=incident,
            at=at or timezone.now(),
            actor=actor,
            actor_label=(label or "")[:150],
            kind=kind,
            text=text,
        )


def _save(incident, actor):
    with trail.as_actor(actor):
        incident.save()


def refresh_duties():
    for key in DUTIES:
        engine.refresh(key)


def _insert(incident, actor):
    """Save a new incident as ``115-003``: the ROC year and its running number."""
    return numbering.insert_numbered(incident, template="{year}-", width=3, actor=actor)


def recompute_deadlines(incident) -> None:
    start = levels.anchor(incident.occurred_at, incident.discovered_at)
    incident.report_due_at = levels.report_due(start)
    incident.close_due_at = levels.close_due(start, incident.level)


def link(incident) -> str:
    return site_url(incident.get_absolute_url())


def holders(*roles):
    return list(get_user_model().objects.filter(groups__name__in=roles, is_active=True).distinct())


def _when(value) -> str:
    return roc.format_roc_datetime(value) if value else "—"


def check_moments(occurred_at, discovered_at, now=None) -> dict:
    """Field errors of the two moments: none in the future, not learned before it happened."""
    now = (now or timezone.now()) + SKEW
    errors = {}
    if discovered_at is not None and discovered_at > now:
        errors["discovered_at"] = _("知悉時間不可晚於現在。")
    if occurred_at is not None and occurred_at > now:
        errors["occurred_at"] = _("發生時間不可晚於現在。")
    elif occurred_at and discovered_at and discovered_at < occurred_at:
        errors["discovered_at"] = _("知悉時間不可早於發生時間。")
    return errors


# 2.10.3: anyone reports ------------------------------------------------------------------
@transaction.atomic
def report_suspected(
    *, actor, description: str, seen_at, location: str = "", contact: str = "", title=""
):
    """A signed-in person reports something odd; the security officers hear at once."""
    errors = {}
    if not (description or "").strip():
        errors["description"] = _("請描述看到的情況。")
    if seen_at is None:
        errors["seen_at"] = _("請填寫發現的時間。")
    elif seen_at > timezone.now() + SKEW:
        errors["seen_at"] = _("發現時間不可晚於現在。")
    if errors:
        raise ValidationError(errors)
    description = description.strip()
    incident = Incident(
        title=(title or description.splitlines()[0])[:60],
        description=description,
        location=location.strip()[:200],
        reporter=actor,
        reporter_contact=contact.strip()[:100],
        source=Incident.Source.SELF,
        discovered_at=seen_at,
        status=Status.REPORTED,
    )
    recompute_deadlines(incident)
    _insert(incident, actor)
    log(
        incident,
        TimelineEntry.Kind.REPORTED,
        _("%(who)s 通報疑似資安事件。") % {"who": actor.display_name},
        actor=actor,
    )
    subject = _("【資安事件通報】%(number)s %(title)s") % {
        "number": incident.number,
        "title": incident.title,
    }
    body = _(
        "有人通報疑似資安事件，請儘速研判等級（條文 2.10.3）。\n"
        "編號：%(number)s\n通報人：%(who)s（%(contact)s）\n發現時間：%(seen)s\n"
        "地點或系統：%(where)s\n情況：%(what)s\n平台通報期限：%(due)s\n%(link)s"
    ) % {
        "number": incident.number,
        "who": actor.display_name,
        "contact": incident.reporter_contact or "—",
        "seen": _when(seen_at),
        "where": incident.location or "—",
        "what": description,
        "due": _when(incident.report_due_at),
        "link": link(incident),
    }
    for officer in holders(SECURITY_OFFICER):
        notifications.notify(
            recipient=officer,
            subject=subject,
            body=body,
            dedup_key=f"inc:{incident.pk}:reported:{officer.pk}",
            urgent=True,
            actor=actor,
        )
    refresh_duties()
    return incident


# Classification and details ---------------------------------------------------------------
# The equipment facts the platform asks for (2.10.6), in the order it asks them.
PLATFORM_FACTS = (
    "equipment_ip",
    "equipment_url",
    "equipment_model",
    "equipment_os",
    "affected_software",
    "protection",
    "measures_taken",
    "needs_support",
)
EDITABLE = (
    "title",
    "description",
    "location",
    "category",
    "category_other",
    "source",
    "occurred_at",
    "discovered_at",
    "affected_systems",
    "affected_equipment",
    *PLATFORM_FACTS,
    "unconfirmed_case",
    "confidentiality_impact",
    "integrity_impact",
    "availability_impact",
    "level_override",
    "level_override_reason",
    "reporter_contact",
    "notice_text",
    "notice_received_at",
)
IMPACTS = ("confidentiality_impact", "integrity_impact", "availability_impact")


def validate(values: dict) -> dict:
    """Field errors of an incident's details (the values as they would be saved)."""
    errors = check_moments(values.get("occurred_at"), values.get("discovered_at"))
    if values.get("discovered_at") is None:
        errors["discovered_at"] = _("請填寫知悉時間。")
    if not (values.get("title") or "").strip():
        errors["title"] = _("請填寫事件摘要。")
    for name in IMPACTS:
        value = values.get(name)
        if value is not None and value not in range(5):
            errors[name] = _("衝擊程度須為 0 至 4。")
    override = values.get("level_override")
    if override is not None and override not in range(5):
        errors["level_override"] = _("事件等級須為 0 至 4。")
    elif override is not None and not (values.get("level_override_reason") or "").strip():
        errors["level_override_reason"] = _("調整事件等級須說明理由。")
    if (
        values.get("category") == Incident.Category.OTHER
        and not (values.get("category_other") or "").strip()
    ):
        errors["category_other"] = _("類型為「其他」時請說明。")
    if values.get("category") and values["category"] not in Incident.Category.values:
        errors["category"] = _("事件類型不正確。")
    if values.get("source") not in Incident.Source.values:
        errors["source"] = _("情報來源不正確。")
    return errors


@transaction.atomic
def create(*, actor, **values) -> Incident:
    """The officer enters an incident directly (a notice received, an early warning …)."""
    data = {name: values.get(name) for name in EDITABLE if name in values}
    data.setdefault("source", Incident.Source.SELF)
    incident = Incident(reporter=actor, status=Status.REPORTED, discovered_at=None)
    errors = validate({**{n: getattr(incident, n, None) for n in EDITABLE}, **data})
    if not (data.get("description") or "").strip():
        errors["description"] = _("請填寫事件說明。")
    if errors:
        raise ValidationError(errors)
    for name, value in data.items():
        setattr(incident, name, value if value is not None or name in NULLABLE else "")
    _apply_level(incident)
    recompute_deadlines(incident)
    if incident.source == Incident.Source.NOTIFIED and incident.notice_received_at is None:
        incident.notice_received_at = incident.discovered_at
    _insert(incident, actor)
    log(incident, TimelineEntry.Kind.CREATED, _("建立事件紀錄。"), actor=actor)
    _after_level_change(incident, None, actor)
    refresh_duties()
    return incident


NULLABLE = {
    "occurred_at",
    "discovered_at",
    "confidentiality_impact",
    "integrity_impact",
    "availability_impact",
    "level_override",
    "notice_received_at",
}


def _apply_level(incident) -> None:
    incident.level_computed = levels.compute_level(
        incident.unconfirmed_case,
        incident.confidentiality_impact,
        incident.integrity_impact,
        incident.availability_impact,
    )
    incident.level = levels.effective_level(incident.level_computed, incident.level_override)
    if incident.level_override is None:
        incident.level_override_reason = ""


@transaction.atomic
def update(incident, *, actor, **values) -> Incident:
    """Change an incident's details and classification; the level and deadlines follow.

    A change of level is on the timeline; after the platform report it opens a duty to
    report the change within 1 hour (2.10.9); a rise to level 3 or more escalates (2.10.4).
    A closed or dismissed incident is not changed.
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.status in (Status.CLOSED, Status.DISMISSED) or incident.is_voided:
        raise ValidationError({"__all__": _("已結案或作廢的事件不可再修改。")})
    data = {name: values[name] for name in EDITABLE if name in values}
    merged = {**{n: getattr(incident, n) for n in EDITABLE}, **data}
    errors = validate(merged)
    if incident.status == Status.OPEN:
        # A classified incident keeps a level and a type: clearing them would silently
        # undo its deadline, escalation and change report (2.10.2, 2.10.4, 2.10.9).
        level = levels.effective_level(
            levels.compute_level(*(merged[n] for n in ("unconfirmed_case", *IMPACTS))),
            merged["level_override"],
        )
        if level is None:
            errors.setdefault("__all__", _("已研判的事件須保留事件等級，請評估衝擊程度。"))
        if not merged["category"]:
            errors.setdefault("category", _("已研判的事件須保留事件類型。"))
    if errors:
        raise ValidationError(errors)
    before = {n: getattr(incident, n) for n in EDITABLE}
    old_level = incident.level
    for name, value in data.items():
        setattr(incident, name, value if value is not None or name in NULLABLE else "")
    _apply_level(incident)
    recompute_deadlines(incident)
    changed = [n for n in EDITABLE if getattr(incident, n) != before[n]]
    _save(incident, actor)
    if changed:
        names = "、".join(str(Incident._meta.get_field(n).verbose_name) for n in changed)
        log(
            incident,
            TimelineEntry.Kind.UPDATED,
            _("更新：%(fields)s") % {"fields": names},
            actor=actor,
        )
    _after_level_change(incident, old_level, actor)
    refresh_duties()
    return incident


def _after_level_change(incident, old_level, actor):
    """Classification, level change, change-report duty and escalation (2.10.4, 2.10.9)."""
    now = timezone.now()
    if incident.status == Status.REPORTED and incident.level is not None and incident.category:
        incident.status = Status.OPEN
        incident.classified_at = now
        incident.classified_by = actor
        _save(incident, actor)
        log(
            incident,
            TimelineEntry.Kind.CLASSIFIED,
            _("研判為 %(level)d 級，類型：%(category)s；結案期限 %(due)s。")
            % {
                "level": incident.level,
                "category": incident.category_label,
                "due": _when(incident.close_due_at),
            },
            actor=actor,
            at=now,
        )
    # Not ``elif``: a level rated before the platform report and changed while classifying
    # is a change the platform must hear of (2.10.9) like any other.
    if incident.level != old_level and old_level is not None and incident.level is not None:
        text = _("事件等級 %(old)d 級 → %(new)d 級；結案期限 %(due)s。") % {
            "old": old_level,
            "new": incident.level,
            "due": _when(incident.close_due_at),
        }
        if incident.reported_at is not None:
            incident.change_report_due_at = now + dt.timedelta(
                hours=settings.ISMS_INCIDENT_REPORT_HOURS
            )
            incident.change_reported_at = None
            _save(incident, actor)
            text += _("已於平台通報，須於 %(due)s 前至平台通報等級變更。") % {
                "due": _when(incident.change_report_due_at)
            }
        log(incident, TimelineEntry.Kind.LEVEL_CHANGED, text, actor=actor, at=now)
    rose = incident.escalated and (old_level is None or old_level < levels.ESCALATION_LEVEL)
    if rose:
        escalate(incident, actor=actor, at=now)


def escalate(incident, *, actor, at):
    """Level 3 or more: the required steps appear; the supervisor and principal hear now."""
    for kind in (EscalationStep.Kind.PHONE_BUREAU, EscalationStep.Kind.PRINCIPAL_MEETING):
        step, created = EscalationStep.objects.get_or_create(
            incident=incident, kind=kind, defaults={"required": True}
        )
        if not created and not step.required:
            step.required = True
            with trail.as_actor(actor):
                step.save(update_fields=["required"])
    subject = _("【資安事件 %(level)d 級】%(number)s %(title)s") % {
        "level": incident.level,
        "number": incident.number,
        "title": incident.title,
    }
    body = _(
        "資安業務承辦人研判此事件為 %(level)d 級（條文 2.10.4：3 級以上應立即通報資訊業務主管"
        "及校長，以電話聯絡教育局(處)資訊安全管理單位，並由校長儘快召集會議研商處理方式）。\n"
        "編號：%(number)s\n類型：%(category)s\n知悉時間：%(discovered)s\n"
        "結案期限：%(due)s\n研判者：%(who)s\n%(link)s"
    ) % {
        "level": incident.level,
        "number": incident.number,
        "category": incident.category_label or "—",
        "discovered": _when(incident.discovered_at),
        "due": _when(incident.close_due_at),
        "who": actor.display_name if actor else "—",
        "link": link(incident),
    }
    names = []
    for user in holders(SUPERVISOR, PRINCIPAL):
        row = notifications.notify(
            recipient=user,
            subject=subject,
            body=body,
            dedup_key=f"inc:{incident.pk}:escalate:{at.isoformat()}:{user.pk}"[:200],
            urgent=True,
            actor=actor,
        )
        if row is not None:
            names.append(user.display_name)
    log(
        incident,
        TimelineEntry.Kind.ESCALATED,
        _("已通知資訊業務主管及校長：%(names)s。") % {"names": "、".join(names) or "—"},
        actor=actor,
        at=at,
    )


# The platform (2.10.6–2.10.10) -----------------------------------------------------------
@transaction.atomic
def record_platform_report(incident, *, actor, reported_at, ticket: str, reporter=None):
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    errors = {}
    if incident.status not in (Status.REPORTED, Status.OPEN):
        errors["__all__"] = _("此事件目前不可記錄平台通報。")
    if not (ticket or "").strip():
        errors["platform_ticket"] = _("請填寫平台事件單編號。")
    if reported_at is None:
        errors["reported_at"] = _("請填寫通報時間。")
    elif reported_at > timezone.now() + SKEW:
        errors["reported_at"] = _("通報時間不可晚於現在。")
    elif reported_at < incident.discovered_at:
        errors["reported_at"] = _("通報時間不可早於知悉時間。")
    if errors:
        raise ValidationError(errors)
    first = incident.reported_at is None
    incident.reported_at = reported_at
    incident.platform_ticket = ticket.strip()[:50]
    incident.platform_reporter = reporter or actor
    _save(incident, actor)
    late = reported_at > incident.report_due_at
    text = _("於教育機構資安通報平台通報，單號 %(ticket)s。") % {"ticket": incident.platform_ticket}
    if late:
        text += _("（逾期：期限 %(due)s）") % {"due": _when(incident.report_due_at)}
    if not first:
        text = _("更正平台通報資料：") + text
    log(incident, TimelineEntry.Kind.PLATFORM_REPORTED, text, actor=actor, at=reported_at)
    refresh_duties()
    return incident


@transaction.atomic
def record_change_report(incident, *, actor, at):
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.change_report_due_at is None:
        raise ValidationError({"__all__": _("此事件沒有待通報的等級變更。")})
    changed_at = incident.change_report_due_at - dt.timedelta(
        hours=settings.ISMS_INCIDENT_REPORT_HOURS
    )
    if at is None or at > timezone.now() + SKEW:
        raise ValidationError({"at": _("通報時間不可晚於現在。")})
    if at < changed_at:
        raise ValidationError({"at": _("通報時間不可早於等級變更的時間。")})
    incident.change_reported_at = at
    _save(incident, actor)
    log(
        incident,
        TimelineEntry.Kind.CHANGE_REPORTED,
        _("已於平台通報等級變更。"),
        actor=actor,
        at=at,
    )
    refresh_duties()
    return incident


@transaction.atomic
def answer_warning(incident, *, actor, answer: str, reason: str = "", linked_ticket="", at=None):
    """2.10.10: the answer to an early-warning ticket: 誤判, 確實事件 or 無法判斷."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    at = at or timezone.now()
    errors = {}
    if incident.source != Incident.Source.WARNING:
        errors["__all__"] = _("只有資安預警事件需要回覆。")
    if answer not in Incident.WarningAnswer.values:
        errors["warning_answer"] = _("請選擇回覆結果。")
    elif answer == Incident.WarningAnswer.CONFIRMED and not (linked_ticket or "").strip():
        errors["warning_linked_ticket"] = _("確實事件請填寫對應的自行通報單號。")
    elif answer != Incident.WarningAnswer.CONFIRMED and not (reason or "").strip():
        errors["warning_reason"] = _("誤判或無法判斷請說明理由。")
    if at > timezone.now() + SKEW:
        errors["warning_answered_at"] = _("回覆時間不可晚於現在。")
    if errors:
        raise ValidationError(errors)
    incident.warning_answer = answer
    incident.warning_reason = (reason or "").strip()
    incident.warning_linked_ticket = (linked_ticket or "").strip()[:50]
    incident.warning_answered_at = at
    _save(incident, actor)
    log(
        incident,
        TimelineEntry.Kind.WARNING_ANSWERED,
        _("預警回覆：%(answer)s %(detail)s")
        % {
            "answer": incident.get_warning_answer_display(),
            "detail": incident.warning_linked_ticket or incident.warning_reason,
        },
        actor=actor,
        at=at,
    )
    refresh_duties()
    return incident


# Escalation steps (2.10.4, 2.10.5) ------------------------------------------------------------
@transaction.atomic
def complete_step(step, *, actor, at=None, note: str = ""):
    step = EscalationStep.objects.select_for_update().select_related("incident").get(pk=step.pk)
    at = at or timezone.now()
    if step.done_at is not None:
        raise ValidationError({"__all__": _("此步驟已完成。")})
    if at > timezone.now() + SKEW:
        raise ValidationError({"done_at": _("完成時間不可晚於現在。")})
    step.done_at, step.done_by, step.note = at, actor, (note or "").strip()[:300]
    with trail.as_actor(actor):
        step.save()
    log(
        step.incident,
        TimelineEntry.Kind.STEP_DONE,
        f"{step.get_kind_display()}{'：' + step.note if step.note else ''}",
        actor=actor,
        at=at,
    )
    return step


@transaction.atomic
def request_help(incident, *, actor, note: str = ""):
    """2.10.5: the school cannot handle it; asking 教育局(處) becomes a required step."""
    if not incident.is_active:
        raise ValidationError({"__all__": _("此事件已結束。")})
    step, created = EscalationStep.objects.get_or_create(
        incident=incident, kind=EscalationStep.Kind.REQUEST_HELP, defaults={"required": True}
    )
    if created:
        log(incident, TimelineEntry.Kind.HELP_REQUESTED, (note or "").strip(), actor=actor)
    return step


def open_steps(incident) -> list[EscalationStep]:
    """Required steps not done: they keep a level ≥ 3 incident (or a help request) open."""
    steps = [s for s in incident.steps.all() if s.required and s.done_at is None]
    if incident.escalated:
        return steps
    return [s for s in steps if s.kind == EscalationStep.Kind.REQUEST_HELP]


# Closing ---------------------------------------------------------------------------------
CLOSING_FIELDS = ("containment", "recovery", "root_cause", "prevention")


@transaction.atomic
def close(incident, *, actor, closed_at=None, improvement_required=False, **texts):
    """Close an incident: report made, response recorded, required steps done (2.10.9)."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    closed_at = closed_at or timezone.now()
    errors = {}
    if incident.status != Status.OPEN or incident.is_voided:
        errors["__all__"] = [_("只有處理中的事件可以結案（請先研判事件等級與類型）。")]
    for name in CLOSING_FIELDS:
        if not (texts.get(name) or "").strip():
            errors[name] = _("結案前請填寫此欄。")
    if incident.reported_at is None:
        errors.setdefault("__all__", []).append(_("尚未記錄教育機構資安通報平台的通報，不可結案。"))
    if incident.change_report_due_at and not incident.change_reported_at:
        errors.setdefault("__all__", []).append(_("事件等級變更尚未至平台通報，不可結案。"))
    if incident.source == Incident.Source.WARNING and not incident.warning_answered_at:
        errors.setdefault("__all__", []).append(_("資安預警事件單尚未回覆，不可結案。"))
    missing = open_steps(incident)
    if missing:
        errors.setdefault("__all__", []).append(
            _("尚有必要的應變步驟未完成：%(steps)s。")
            % {"steps": "、".join(str(s.get_kind_display()) for s in missing)}
        )
    if closed_at > timezone.now() + SKEW:
        errors["closed_at"] = _("結案時間不可晚於現在。")
    elif closed_at < incident.discovered_at:
        errors["closed_at"] = _("結案時間不可早於知悉時間。")
    if errors:
        raise ValidationError(errors)
    for name in CLOSING_FIELDS:
        setattr(incident, name, texts[name].strip())
    incident.status = Status.CLOSED
    incident.closed_at = closed_at
    incident.closed_by = actor
    incident.improvement_required = bool(improvement_required)
    if incident.improvement_required:
        incident.improvement_due_at = closed_at + dt.timedelta(
            days=settings.ISMS_INCIDENT_IMPROVEMENT_DAYS
        )
    _save(incident, actor)
    text = _("結案。")
    if closed_at > incident.close_due_at:
        text += _("（逾期：期限 %(due)s）") % {"due": _when(incident.close_due_at)}
    if incident.improvement_required:
        text += _("須於 %(due)s 前提出調查、處理及改善報告。") % {
            "due": _when(incident.improvement_due_at)
        }
    log(incident, TimelineEntry.Kind.CLOSED, text, actor=actor, at=closed_at)
    refresh_duties()
    return incident


@transaction.atomic
def dismiss(incident, *, actor, reason: str):
    """A suspected report that is not a security incident (only before classification)."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    errors = {}
    if incident.status != Status.REPORTED:
        errors["__all__"] = _("已研判的事件不可判定為非資安事件；如有誤請調整等級或作廢。")
    if not (reason or "").strip():
        errors["dismiss_reason"] = _("請說明判定理由。")
    if errors:
        raise ValidationError(errors)
    incident.status = Status.DISMISSED
    incident.dismiss_reason = reason.strip()
    incident.closed_at = timezone.now()
    incident.closed_by = actor
    _save(incident, actor)
    log(incident, TimelineEntry.Kind.DISMISSED, incident.dismiss_reason, actor=actor)
    refresh_duties()
    return incident


@transaction.atomic
def record_improvement(incident, *, actor, summary: str, at=None):
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    at = at or timezone.now()
    errors = {}
    if incident.status != Status.CLOSED:
        errors["__all__"] = _("結案後才能登錄改善報告。")
    if not (summary or "").strip():
        errors["improvement_summary"] = _("請填寫改善報告摘要。")
    if at > timezone.now() + SKEW:
        errors["improvement_done_at"] = _("完成時間不可晚於現在。")
    if errors:
        raise ValidationError(errors)
    incident.improvement_required = True
    incident.improvement_summary = summary.strip()
    incident.improvement_done_at = at
    _save(incident, actor)
    log(
        incident,
        TimelineEntry.Kind.IMPROVEMENT,
        _("提出調查、處理及改善報告。"),
        actor=actor,
        at=at,
    )
    refresh_duties()
    return incident


@transaction.atomic
def add_note(incident, *, actor, text: str):
    if not (text or "").strip():
        raise ValidationError({"text": _("請填寫處理紀錄。")})
    return log(incident, TimelineEntry.Kind.NOTE, text.strip(), actor=actor)
