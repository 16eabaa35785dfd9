"""The office self-check duties (clauses 2.3, 7.5, 7.7) and the checks in the evidence binder.

* ``awareness.office_self_check``: each active unit that has a head named (``OfficeHead``)
  fills its self-check once in each semester (the school's semester starts). Evidence: the
  date of the unit's latest check not voided, at local midnight. Reminders go to the
  unit's head (while their login is active), else to the security officers.
* ``awareness.self_check_finding``: each failed item of a check not voided is put right
  (改善情形 recorded) by the end (23:59:59 Asia/Taipei) of the 30th day after the check.
  Reminders to the unit's head 7 days before and when the day passes; a resolved item
  leaves the dashboard 30 days later.

Every read is one query for all subjects.
"""

import datetime as dt

from django.contrib.auth import get_user_model
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
from isms.compliance.rhythms import EVENT, LAST_SECOND, Rhythm, day_start, local_date
from isms.core.models import Unit
from isms.core.roles import SECURITY_OFFICER

from . import selfchecks
from .models import OfficeHead, SelfCheck, SelfCheckResult

DUTY = selfchecks.DUTY
FINDING_DUTY = selfchecks.FINDING_DUTY


def _units():
    return Unit.objects.filter(is_active=True, office_head__isnull=False)


def _last_checks(subjects) -> dict:
    """{unit pk: local midnight of its latest check's date, not voided} (one query)."""
    rows = (
        SelfCheck.objects.filter(unit__in=subjects.values("pk"), voided_at__isnull=True)
        .order_by()
        .values("unit")
        .annotate(last=Max("checked_on"))
        .values_list("unit", "last")
    )
    return {pk: day_start(day) for pk, day in rows}


def _check_history(subjects, since, until) -> list:
    rows = (
        SelfCheck.objects.filter(
            unit__in=subjects.values("pk"),
            voided_at__isnull=True,
            checked_on__gte=local_date(since),
            checked_on__lte=local_date(until),
        )
        .order_by("checked_on", "id")
        .values_list("unit_id", "checked_on")
    )
    return [(pk, day_start(day)) for pk, day in rows if since <= day_start(day) < until]


def _officers():
    return list(
        get_user_model().objects.filter(groups__name=SECURITY_OFFICER, is_active=True).distinct()
    )


def _head_of(unit_id):
    head = OfficeHead.objects.filter(unit_id=unit_id).select_related("user").first()
    if head is not None and head.user.is_active:
        return [head.user]
    return _officers()


def _unit_recipients(state):
    return _head_of(state.subject_id)


def _fill_url(state):
    return reverse("awareness:selfcheck_add") + f"?unit={state.subject_id}"


register(
    Obligation(
        key=DUTY,
        clause="2.3",
        title=_("各單位每學期辦公室自主檢查"),
        description=_(
            "已指定填表人的單位，每學期至少填寫一次辦公室自主檢查（桌面與螢幕淨空 2.3、"
            "個資檔案使用後退出 7.5、含個資紙本不置於公共區域 7.7）；以檢查日期計，"
            "作廢的檢查不算。"
        ),
        subjects=_units,
        evidence=_last_checks,
        history=_check_history,
        rhythm=Rhythm(period="semester"),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=30,
        recipients=_unit_recipients,
        evidence_url=_fill_url,
    )
)


def _failed():
    # str(result) reads its check and the check's unit: joined.
    return SelfCheckResult.objects.filter(
        ok=False, check_record__voided_at__isnull=True
    ).select_related("check_record__unit")


def _fix_due(subjects) -> dict:
    """The end of the 30th day after the check (Asia/Taipei)."""
    day = dt.timedelta(days=1)
    return {
        pk: day_start(selfchecks.fix_due(checked_on) + day) - LAST_SECOND
        for pk, checked_on in subjects.values_list("pk", "check_record__checked_on")
    }


def _finding_recipients(state):
    unit_id = (
        SelfCheckResult.objects.filter(pk=state.subject_id)
        .values_list("check_record__unit_id", flat=True)
        .first()
    )
    return _head_of(unit_id) if unit_id is not None else _officers()


def _finding_url(state):
    check_id = (
        SelfCheckResult.objects.filter(pk=state.subject_id)
        .values_list("check_record_id", flat=True)
        .first()
    )
    if check_id is None:
        return reverse("awareness:selfcheck_list")
    return reverse("awareness:selfcheck_detail", args=[check_id])


register(
    Obligation(
        key=FINDING_DUTY,
        clause="2.3",
        title=_("辦公室自主檢查不符合項目於 30 日內改善"),
        description=_(
            "自主檢查「不符合」的項目，由單位主管（或資安業務承辦人）於檢查日起 30 日內"
            "登錄改善情形（條文 2.3、7.5、7.7）。"
        ),
        subjects=pending_or_recent(_failed, "resolved_at"),
        all_subjects=_failed,
        evidence=lambda subjects: dict(
            subjects.filter(resolved_at__isnull=False).values_list("pk", "resolved_at")
        ),
        history=lambda subjects, since, until: list(
            subjects.filter(resolved_at__gte=since, resolved_at__lt=until).values_list(
                "pk", "resolved_at"
            )
        ),
        deadline=_fix_due,
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=(dt.timedelta(days=7),),
        recipients=_finding_recipients,
        subject_url=_finding_url,
        evidence_url=_finding_url,
    )
)


def _register_records():
    from .views_selfchecks import OfficeHeadRegister, SelfCheckItemRegister, SelfCheckRegister

    register_records(
        Records.of(
            SelfCheckRegister,
            date_field="checked_on",
            obligations=(DUTY, FINDING_DUTY),
            also_clauses=("7.5", "7.7"),
        )
    )
    register_records(Records.of(SelfCheckItemRegister, also_clauses=("7.5", "7.7")))
    register_records(Records.of(OfficeHeadRegister, obligations=(DUTY,)))


_register_records()
