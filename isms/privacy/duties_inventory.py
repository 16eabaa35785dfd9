"""The inventory's duty (7.1) and its records in the evidence binder.

``privacy.inventory_review`` (clause 7.1; PDPA art. 17): every personal-data file in use is
reviewed at least once a year (``inventory.REVIEW_DAYS``, 365 days), so that the public
page stays current. A rolling duty, one subject per file: its evidence is the latest
「確認年度檢視」, and a file's entry in the inventory counts as its first check (the
officer has just written its four items), so a new file is first due one year after it
was entered. The reminders are the engine's: due soon from 30 days before, then overdue.

The evidence binder files the inventory as it stands (the register, under 7.1) and the
reviews of the chosen range.
"""

from django.db.models import Max
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import Obligation, Records, register, register_records
from isms.compliance.rhythms import Rhythm
from isms.core.registers import Column
from isms.core.roles import SECURITY_OFFICER

from . import inventory
from .models import FileReview, PersonalDataFile

DUE_SOON_DAYS = 30


def _files():
    """The files in use (the duty's subjects)."""
    return PersonalDataFile.objects.filter(voided_at__isnull=True).select_related("unit")


def _evidence(subjects) -> dict:
    """{file pk: its latest review, else when it was entered} — one query."""
    rows = (
        subjects.order_by()
        .annotate(last=Coalesce(Max("reviews__reviewed_at"), "created_at"))
        .values_list("pk", "last")
    )
    return dict(rows)


def _history(subjects, since, until) -> list:
    """Every review of the files in [since, until] — one query."""
    return list(
        FileReview.objects.filter(
            file__in=subjects.values("pk"), reviewed_at__gte=since, reviewed_at__lte=until
        ).values_list("file_id", "reviewed_at")
    )


def _file_url(state):
    return reverse("privacy:personaldatafile_detail", args=[state.subject_id])


def _review_url(state):
    return reverse("privacy:personaldatafile_detail", args=[state.subject_id]) + "#review"


register(
    Obligation(
        key=inventory.DUTY,
        clause="7.1",
        title=_("個人資料檔案每年檢視（公開項目保持最新）"),
        description=_(
            "學校網站公開的個人資料檔案名稱、保有機關名稱及聯絡方式、保有之依據及特定目的、"
            "個人資料之類別須保持最新（條文 7.1；個人資料保護法第 17 條）：使用中的每個檔案"
            "每年至少檢視一次，建檔時的登錄視為第一次檢視。"
        ),
        subjects=_files,
        evidence=_evidence,
        history=_history,
        subject_start="created_at",
        rhythm=Rhythm(days=inventory.REVIEW_DAYS),
        responsible_role=SECURITY_OFFICER,
        due_soon_days=DUE_SOON_DAYS,
        subject_url=_file_url,
        evidence_url=_review_url,
    )
)


def _reviewer(review) -> str:
    return review.reviewer.display_name


REVIEW_COLUMNS = (
    Column("reviewed_at", _("檢視時間")),
    Column("file", _("個人資料檔案"), accessor="file.name"),
    Column("unit", _("保有單位"), accessor="file.unit.name"),
    Column("reviewer", _("檢視人"), accessor=_reviewer),
    Column("note", _("檢視說明")),
)


def _register_records():
    from .views_inventory import BINDER_COLUMNS, PersonalDataFileRegister

    register_records(
        Records.of(
            PersonalDataFileRegister,
            columns=BINDER_COLUMNS,
            obligations=(inventory.DUTY,),
        )
    )
    register_records(
        Records(
            key="privacy.filereview",
            clause="7.1",
            title=str(FileReview._meta.verbose_name_plural),
            queryset=lambda: FileReview.objects.select_related(
                "file__unit", "reviewer__person"
            ).order_by("reviewed_at", "id"),
            columns=REVIEW_COLUMNS,
            date_field="reviewed_at",
            obligations=(inventory.DUTY,),
            attachments=False,
        )
    )


_register_records()
