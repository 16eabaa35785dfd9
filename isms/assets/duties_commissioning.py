"""The A-1 duties (2.2.3, 4.2, 3.5) and the A-1 records in the evidence binder.

- **Commissioning before use** (2.2.3 servers, 4.2 official portable devices): every such
  asset in use — put in use by a review, or registered or imported as in use — has a
  reviewed 啟用 record. One without is overdue from the moment it was registered: the
  policy asks for the checks *before* use, so there is no grace period. A voided record
  is no evidence.
- **Disposal reviewed** (3.5, 7.10): a 報廢 or 移轉他用 record is reviewed by the supervisor
  within ``ISMS_ASSET_DISPOSAL_REVIEW_DAYS`` (default 14) days of its 執行日期 — until then
  nobody has confirmed that the data cannot be restored, and the asset keeps its state.
  A pending 啟用 record is no duty: the asset cannot be put in use until it is reviewed,
  which the 設備組長 will chase.
"""

import datetime as dt

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_records,
)
from isms.compliance.rhythms import EVENT, LAST_SECOND, Rhythm, day_start
from isms.core.roles import EQUIPMENT_HEAD, SUPERVISOR, SYSADMIN

from .models import Asset, CommissioningRecord

Kind = CommissioningRecord.Kind
EXIT_KINDS = (Kind.DECOMMISSION, Kind.REUSE)
DEFAULT_REVIEW_DAYS = 14


def review_days() -> int:
    return getattr(settings, "ISMS_ASSET_DISPOSAL_REVIEW_DAYS", DEFAULT_REVIEW_DAYS)


# Commissioning before use --------------------------------------------------------------------
def _servers_in_use():
    return Asset.objects.active().filter(kind=Asset.Kind.SERVER, state=Asset.State.IN_USE)


def _portables_in_use():
    return Asset.objects.active().filter(
        kind__in=Asset.PORTABLE, official_use=True, state=Asset.State.IN_USE
    )


def _commissioned(subjects) -> dict:
    """Each asset's latest reviewed 啟用 record (one aggregate query)."""
    return dict(
        CommissioningRecord.objects.active()
        .filter(
            asset__in=subjects.values("pk"),
            kind=Kind.COMMISSION,
            reviewed_at__isnull=False,
        )
        .values("asset")
        .annotate(last=Max("reviewed_at"))
        .values_list("asset", "last")
    )


def _commission_history(subjects, since, until):
    return list(
        CommissioningRecord.objects.active()
        .filter(
            asset__in=subjects.values("pk"),
            kind=Kind.COMMISSION,
            reviewed_at__gte=since,
            reviewed_at__lt=until,
        )
        .values_list("asset", "reviewed_at")
    )


def _before_use(subjects) -> dict:
    """In use: due since it was registered (the checks come before use)."""
    return dict(subjects.values_list("pk", "created_at"))


def _asset_url(state):
    return reverse("assets:asset_detail", args=[state.subject_id])


def _fill_in(state):
    """The A-1 form for this asset, 啟用 chosen."""
    query = urlencode({"asset": state.subject_id, "kind": Kind.COMMISSION})
    return f"{reverse('assets:commissioningrecord_add')}?{query}"


register(
    Obligation(
        key="assets.server_commissioning",
        clause="2.2.3",
        title=_("伺服器啟用前完成啟用檢查並經主管覆核（A-1）"),
        description=_("使用中的伺服器須有經主管覆核的啟用紀錄（掃毒、變更預設通行碼、系統更新）。"),
        subjects=_servers_in_use,
        evidence=_commissioned,
        history=_commission_history,
        subject_start="created_at",
        deadline=_before_use,
        rhythm=Rhythm(period=EVENT),
        responsible_role=SYSADMIN,
        subject_url=_asset_url,
        evidence_url=_fill_in,
    )
)

register(
    Obligation(
        key="assets.portable_commissioning",
        clause="4.2",
        title=_("公務用可攜式設備使用前完成安全程序並經主管覆核（A-1）"),
        description=_(
            "使用中的公務用筆記型電腦、平板電腦、智慧型手機須有經主管覆核的啟用紀錄"
            "（掃毒、變更預設通行碼、系統更新）。"
        ),
        subjects=_portables_in_use,
        evidence=_commissioned,
        history=_commission_history,
        subject_start="created_at",
        deadline=_before_use,
        rhythm=Rhythm(period=EVENT),
        responsible_role=EQUIPMENT_HEAD,
        subject_url=_asset_url,
        evidence_url=_fill_in,
    )
)


# Disposal reviewed -----------------------------------------------------------------------------
def _disposals():
    # str(record) reads its asset: joined, so the engine's queries stay constant.
    return CommissioningRecord.objects.active().filter(kind__in=EXIT_KINDS).select_related("asset")


def _review_due(subjects) -> dict:
    """The end of the N-th day after the 執行日期 (Asia/Taipei)."""
    days = dt.timedelta(days=review_days() + 1)
    return {
        pk: day_start(executed_on + days) - LAST_SECOND
        for pk, executed_on in subjects.values_list("pk", "executed_on")
    }


def _record_url(state):
    return reverse("assets:commissioningrecord_detail", args=[state.subject_id])


register(
    Obligation(
        key="assets.disposal_review",
        clause="3.5",
        title=_("報廢或移轉他用紀錄於期限內經主管覆核（A-1）"),
        description=_(
            "含儲存媒體的設備報廢或移轉他用，須經主管覆核確認已刪除硬碟資料（條文 3.5、7.10）。"
        ),
        subjects=pending_or_recent(_disposals, "reviewed_at"),
        all_subjects=_disposals,
        evidence=lambda subjects: dict(
            subjects.filter(reviewed_at__isnull=False).values_list("pk", "reviewed_at")
        ),
        history=lambda subjects, since, until: list(
            subjects.filter(reviewed_at__gte=since, reviewed_at__lt=until).values_list(
                "pk", "reviewed_at"
            )
        ),
        deadline=_review_due,
        rhythm=Rhythm(period=EVENT),
        responsible_role=SUPERVISOR,
        reminders=(dt.timedelta(days=3),),
        subject_url=_record_url,
        evidence_url=_record_url,
    )
)


def _register_records():
    from .views_commissioning import CommissioningRecordRegister

    register_records(
        Records.of(
            CommissioningRecordRegister,
            date_field="executed_on",
            also_clauses=("3.5", "4.2", "7.10"),
            obligations=(
                "assets.server_commissioning",
                "assets.portable_commissioning",
                "assets.disposal_review",
            ),
        )
    )


_register_records()
