"""The duty of clause 3.6 (equipment taken out comes back by its due day) and the A-7 and
7.9 records in the evidence binder."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_records,
)
from isms.compliance.rhythms import EVENT, Rhythm
from isms.core.roles import EQUIPMENT_HEAD

from . import movements
from .models import EquipmentMovement

# One reminder the day before the due day ends, and one when it has passed.
REMINDERS = (dt.timedelta(days=1),)


def _checked_out():
    # str(movement) reads its asset: joined, so the engine's queries stay constant.
    return (
        EquipmentMovement.objects.active()
        .filter(checked_out_at__isnull=False)
        .select_related("asset")
    )


def _returned(subjects):
    return dict(subjects.filter(returned_at__isnull=False).values_list("pk", "returned_at"))


def _due(subjects):
    """The last second of each due day in Asia/Taipei (one query)."""
    return {pk: movements.due_moment(due) for pk, due in subjects.values_list("pk", "due_on")}


def _history(subjects, since, until):
    return list(
        subjects.filter(returned_at__gte=since, returned_at__lte=until).values_list(
            "pk", "returned_at"
        )
    )


def _recipients(state):
    """The borrower (their logins) and the 設備組長, who receives the equipment back."""
    borrower = (
        EquipmentMovement.objects.filter(pk=state.subject_id)
        .values_list("borrower_id", flat=True)
        .first()
    )
    people = Q(groups__name=EQUIPMENT_HEAD)
    if borrower is not None:
        people |= Q(person_id=borrower)
    return get_user_model().objects.filter(people, is_active=True).distinct()


def _url(state):
    return reverse("assets:equipmentmovement_detail", args=[state.subject_id])


register(
    Obligation(
        key=movements.DUTY,
        clause="3.6",
        title=_("攜出的設備於預定歸還日期前歸還"),
        subjects=pending_or_recent(_checked_out, "returned_at"),
        all_subjects=_checked_out,
        evidence=_returned,
        deadline=_due,
        history=_history,
        subject_start="checked_out_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=EQUIPMENT_HEAD,
        reminders=REMINDERS,
        recipients=_recipients,
        subject_url=_url,
        evidence_url=_url,
        description=_(
            "設備攜出後須於預定歸還日期（當天 23:59 前）點收歸還；前一天提醒攜出人與設備組長，"
            "逾期再提醒（條文 3.6、表單 A-7）。"
        ),
    )
)


def _register_records():
    from .views_movements import EquipmentMovementRegister, RepairVisitRegister

    register_records(
        Records.of(EquipmentMovementRegister, date_field="out_on", obligations=(movements.DUTY,))
    )
    register_records(Records.of(RepairVisitRegister, date_field="visited_on"))


_register_records()
