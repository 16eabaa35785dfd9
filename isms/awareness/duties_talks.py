"""The legal-awareness duty (clause 8) and the talks in the evidence binder.

``awareness.legal_talk``: the school tells its teachers and students about the three
bodies of law of clause 8 at an assembly at least once in each semester (the school's
semester starts). Its one subject is the school (``SchoolProfile``); its evidence is the
day of the latest talk not voided, at local midnight — a talk held on the last day of a
semester and entered later belongs to the semester it was held in.
"""

from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import Obligation, Records, register, register_records
from isms.compliance.rhythms import Rhythm, day_start, local_date
from isms.core.models import SchoolProfile
from isms.core.roles import SECURITY_OFFICER

from .models import LegalTalk
from .talks import DUTY


def _school():
    return SchoolProfile.objects.filter(pk=1)


def _last_talk(subjects) -> dict:
    """{1: local midnight of the latest talk's day} (one query)."""
    last = LegalTalk.objects.filter(voided_at__isnull=True).aggregate(last=Max("held_on"))["last"]
    return {1: day_start(last)} if last else {}


def _talk_history(subjects, since, until) -> list:
    """Every talk (not voided) whose day starts in [since, until) (one query)."""
    days = (
        LegalTalk.objects.filter(
            voided_at__isnull=True,
            held_on__gte=local_date(since),
            held_on__lte=local_date(until),
        )
        .order_by("held_on", "id")
        .values_list("held_on", flat=True)
    )
    return [(1, day_start(day)) for day in days if since <= day_start(day) < until]


register(
    Obligation(
        key=DUTY,
        clause="8",
        title=_("每學期於集會場合宣導資訊相關法令"),
        description=_(
            "每學期至少一次，利用朝會、週會等集會場合對全校師生口頭宣導智慧財產權（8.1）、"
            "個人資料保護及隱私（8.2）、刑法妨害電腦使用罪章（8.3）；以宣導日期計，"
            "作廢的紀錄不算。"
        ),
        subjects=_school,
        evidence=_last_talk,
        history=_talk_history,
        rhythm=Rhythm(period="semester"),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=30,
        evidence_url=lambda state: reverse("awareness:legaltalk_add"),
    )
)


def _register_records():
    from .views_talks import LegalTalkRegister

    register_records(Records.of(LegalTalkRegister, date_field="held_on", obligations=(DUTY,)))


_register_records()
