"""The room duties (3.1–3.4) and the room records in the evidence binder.

* ``facilities.server_room_inspection``: every server room in use is inspected at least
  once in each calendar month (Asia/Taipei). Its evidence is the date of the room's latest
  inspection that is not voided, at local midnight of that day — an inspection done on
  the 31st and entered on the 2nd belongs to the month it was done in.
* ``facilities.classroom_inspection``: every computer classroom in use, once in each
  semester (the school's semester starts), by the same evidence.
* ``facilities.finding``: each open finding of an inspection is put right by the end
  (23:59:59 Asia/Taipei) of its due day; its evidence is the moment its resolution was
  recorded. A reminder goes to its assignee 3 days before and when the day passes; a
  resolved finding leaves the dashboard 30 days later, a voided one at once.

Reminders of the inspections go to the room's keeper (or, when that person no longer
keeps rooms, to every active keeper). Every read is one query for all subjects.
"""

import datetime as dt

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
from isms.core.roles import SYSADMIN

from . import rooms
from .models import Finding, Inspection, Room

SERVER_ROOM_DUTY = rooms.SERVER_ROOM_DUTY
CLASSROOM_DUTY = rooms.CLASSROOM_DUTY
FINDING_DUTY = rooms.FINDING_DUTY


def _rooms_of(kind):
    def read():
        return Room.objects.active().filter(kind=kind)

    return read


def _last_inspections(subjects):
    """{room pk: local midnight of its latest inspection's date, not voided} (one query)."""
    rows = (
        Inspection.objects.filter(room__in=subjects.values("pk"), voided_at__isnull=True)
        .order_by()
        .values("room")
        .annotate(last=Max("inspected_on"))
        .values_list("room", "last")
    )
    return {pk: day_start(day) for pk, day in rows}


def _inspection_history(subjects, since, until):
    """Every inspection (not voided) whose day starts in [since, until) (one query)."""
    rows = (
        Inspection.objects.filter(
            room__in=subjects.values("pk"),
            voided_at__isnull=True,
            inspected_on__gte=local_date(since),
            inspected_on__lte=local_date(until),
        )
        .order_by("inspected_on", "id")
        .values_list("room_id", "inspected_on")
    )
    return [(pk, day_start(day)) for pk, day in rows if since <= day_start(day) < until]


def _room_recipients(state):
    """The room's keeper, else every active keeper."""
    room = Room.objects.filter(pk=state.subject_id).select_related("keeper").first()
    if room is not None and rooms.is_keeper(room.keeper):
        return [room.keeper]
    return list(rooms.keepers())


def _room_url(state):
    return reverse("facilities:room_detail", args=[state.subject_id])


def _inspect_url(state):
    return reverse("facilities:inspection_add") + f"?room={state.subject_id}"


register(
    Obligation(
        key=SERVER_ROOM_DUTY,
        clause="3.1",
        title=_("主機機房每月檢查實體安全控制措施"),
        description=_(
            "每間主機機房每月至少檢查一次條文 3.1 至 3.4 的控制措施（消防、接地、門禁、"
            "溫濕度、電源、纜線）；以檢查日期計，作廢的檢查不算。"
        ),
        subjects=_rooms_of(Room.Kind.SERVER_ROOM),
        evidence=_last_inspections,
        history=_inspection_history,
        subject_start="created_at",
        rhythm=Rhythm(period="monthly"),
        responsible_role=SYSADMIN,
        due_soon_days=7,
        recipients=_room_recipients,
        subject_url=_room_url,
        evidence_url=_inspect_url,
    )
)

register(
    Obligation(
        key=CLASSROOM_DUTY,
        clause="3.1",
        title=_("電腦教室每學期檢查實體安全控制措施"),
        description=_(
            "每間電腦教室每學期至少檢查一次條文 3.1 與 3.4 的控制措施；以檢查日期計，"
            "作廢的檢查不算。"
        ),
        subjects=_rooms_of(Room.Kind.COMPUTER_CLASSROOM),
        evidence=_last_inspections,
        history=_inspection_history,
        subject_start="created_at",
        rhythm=Rhythm(period="semester"),
        responsible_role=SYSADMIN,
        due_soon_days=30,
        recipients=_room_recipients,
        subject_url=_room_url,
        evidence_url=_inspect_url,
    )
)


def _findings():
    # str(finding) reads its room: joined, so the engine's queries stay constant.
    return Finding.objects.active().select_related("room")


def _finding_due(subjects) -> dict:
    """The end of the due day (Asia/Taipei): 115/12/28 → 115/12/28 23:59:59."""
    day = dt.timedelta(days=1)
    return {
        pk: day_start(due_on + day) - LAST_SECOND
        for pk, due_on in subjects.values_list("pk", "due_on")
    }


def _finding_recipients(state):
    """The finding's assignee while active, else every active keeper."""
    finding = Finding.objects.filter(pk=state.subject_id).select_related("assignee").first()
    if finding is not None and finding.assignee.is_active:
        return [finding.assignee]
    return list(rooms.keepers())


def _finding_url(state):
    return reverse("facilities:finding_detail", args=[state.subject_id])


register(
    Obligation(
        key=FINDING_DUTY,
        clause="3.1",
        title=_("機房檢查缺失於期限內改善"),
        description=_(
            "機房或電腦教室檢查不符合的項目，由改善負責人於改善期限內改善並登錄改善情形"
            "（條文 3.1 至 3.4）。"
        ),
        subjects=pending_or_recent(_findings, "resolved_at"),
        all_subjects=_findings,
        evidence=lambda subjects: dict(
            subjects.filter(resolved_at__isnull=False).values_list("pk", "resolved_at")
        ),
        history=lambda subjects, since, until: list(
            subjects.filter(resolved_at__gte=since, resolved_at__lt=until).values_list(
                "pk", "resolved_at"
            )
        ),
        deadline=_finding_due,
        rhythm=Rhythm(period=EVENT),
        responsible_role=SYSADMIN,
        reminders=(dt.timedelta(days=3),),
        recipients=_finding_recipients,
        subject_url=_finding_url,
        evidence_url=_finding_url,
    )
)


def _register_records():
    from .views_rooms import FindingRegister, InspectionRegister, RoomRegister

    register_records(Records.of(RoomRegister, obligations=(SERVER_ROOM_DUTY, CLASSROOM_DUTY)))
    register_records(
        Records.of(
            InspectionRegister,
            date_field="inspected_on",
            obligations=(SERVER_ROOM_DUTY, CLASSROOM_DUTY),
            also_clauses=("3.2", "3.3", "3.4"),
        )
    )
    register_records(Records.of(FindingRegister, obligations=(FINDING_DUTY,)))


_register_records()
