"""The incident duties of clause 2.10 (per incident, with deadlines) and the yearly drill."""

import datetime as dt

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_records,
)
from isms.compliance.rhythms import EVENT, Rhythm, day_start, local_date
from isms.core.models import SchoolProfile
from isms.core.roles import SECURITY_OFFICER

from . import levels
from .models import Incident, IncidentDrill

EVENT_RHYTHM = Rhythm(period=EVENT)


def _incidents():
    return Incident.objects.active().exclude(status=Incident.Status.DISMISSED)


def _values(field):
    def read(subjects):
        return dict(subjects.filter(**{f"{field}__isnull": False}).values_list("pk", field))

    return read


def _detail(state):
    return reverse("incidents:incident_detail", args=[state.subject_id])


def _duty(key, clause, title, subjects, done, due, description=""):
    register(
        Obligation(
            key=key,
            clause=clause,
            title=title,
            subjects=pending_or_recent(subjects, done),
            all_subjects=subjects,
            evidence=_values(done),
            deadline=_values(due),
            rhythm=EVENT_RHYTHM,
            responsible_role=SECURITY_OFFICER,
            reminders=levels.reminders(),
            evidence_url=_detail,
            subject_url=_detail,
            description=description,
        )
    )


_duty(
    "incidents.report",
    "2.10.9",
    _("資安事件於知悉後 1 小時內至平台通報"),
    _incidents,
    "reported_at",
    "report_due_at",
)
_duty(
    "incidents.close",
    "2.10.9",
    _("資安事件於期限內處理完成並結案（0–2 級 72 小時、3–4 級 36 小時）"),
    _incidents,
    "closed_at",
    "close_due_at",
)
_duty(
    "incidents.change_report",
    "2.10.9",
    _("事件等級變更後 1 小時內至平台通報變更"),
    lambda: _incidents().filter(change_report_due_at__isnull=False),
    "change_reported_at",
    "change_report_due_at",
)
_duty(
    "incidents.improvement_report",
    "2.10.11",
    _("結案後提出調查、處理及改善報告"),
    lambda: _incidents().filter(improvement_required=True),
    "improvement_done_at",
    "improvement_due_at",
)


def _warning_due(subjects):
    hours = dt.timedelta(hours=settings.ISMS_INCIDENT_WARNING_HOURS)
    return {pk: at + hours for pk, at in subjects.values_list("pk", "discovered_at")}


register(
    Obligation(
        key="incidents.warning_answer",
        clause="2.10.10",
        title=_("回覆教育機構資安通報平台資安預警事件單"),
        subjects=pending_or_recent(
            lambda: _incidents().filter(source=Incident.Source.WARNING), "warning_answered_at"
        ),
        all_subjects=lambda: _incidents().filter(source=Incident.Source.WARNING),
        evidence=_values("warning_answered_at"),
        deadline=_warning_due,
        rhythm=EVENT_RHYTHM,
        responsible_role=SECURITY_OFFICER,
        reminders=levels.reminders(),
        evidence_url=_detail,
        subject_url=_detail,
    )
)


def _school():
    return SchoolProfile.objects.filter(pk=1)


def _last_drill(subjects):
    last = IncidentDrill.objects.active().aggregate(last=Max("held_on"))["last"]
    return {1: day_start(last)} if last else {}


def _drill_history(subjects, since, until):
    days = IncidentDrill.objects.active().filter(
        held_on__gte=local_date(since), held_on__lte=local_date(until)
    )
    return [(1, day_start(d)) for d in days.values_list("held_on", flat=True)]


if settings.ISMS_INCIDENT_DRILL:
    register(
        Obligation(
            key="incidents.drill",
            clause="2.10.11",
            title=_("每學年辦理資安事件通報及應變演練"),
            subjects=_school,
            evidence=_last_drill,
            history=_drill_history,
            rhythm=Rhythm(period="yearly"),
            responsible_role=SECURITY_OFFICER,
            due_soon_days=60,
            evidence_url=lambda state: reverse("incidents:incidentdrill_add"),
        )
    )


def _register_records():
    from .views import IncidentDrillRegister, IncidentRegister

    register_records(
        Records.of(
            IncidentRegister,
            date_field="discovered_at",
            obligations=(
                "incidents.report",
                "incidents.close",
                "incidents.change_report",
                "incidents.warning_answer",
                "incidents.improvement_report",
            ),
            also_clauses=("2.10.9", "2.10.10"),
        )
    )
    register_records(
        Records.of(IncidentDrillRegister, date_field="held_on", obligations=("incidents.drill",))
    )


_register_records()
