"""The register's duties (2.2.1, 4.1, 4.3) and the asset register in the evidence binder.

* ``assets.antivirus`` and ``assets.patches`` (2.2.1): every computer in use (server, PC,
  notebook) has virus definitions no older than ``ISMS_ASSET_ANTIVIRUS_DAYS`` (7) and was
  patched within ``ISMS_ASSET_PATCH_DAYS`` (30): rolling duties, one per asset, whose
  evidence is the moment the inventory script (or the form) last reported.
* ``assets.portable_protected`` (4.1) and ``assets.media_controls`` (4.3): an official
  portable device in use has its protection set, an official storage medium its
  sensitivity and, unless general, its control — within ``ISMS_ASSET_SETUP_DAYS`` (7) of
  being registered (event duties: the deadline is per asset).

Every read is one query for all assets, so the engine's work does not grow in queries.
"""

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.audit.models import AuditEntry
from isms.compliance.models import ObligationSetting
from isms.compliance.registry import Obligation, Records, register, register_records
from isms.compliance.rhythms import EVENT, Rhythm
from isms.core.roles import EQUIPMENT_HEAD, SYSADMIN

from .models import Asset
from .services import forget_limits

State = Asset.State
ANTIVIRUS_DAYS = int(getattr(settings, "ISMS_ASSET_ANTIVIRUS_DAYS", 7))
PATCH_DAYS = int(getattr(settings, "ISMS_ASSET_PATCH_DAYS", 30))
REMINDERS = (dt.timedelta(days=2),)


def _computers():
    """Computers in use (2.2.1: 個人電腦 and servers)."""
    return Asset.objects.active().filter(state=State.IN_USE, kind__in=Asset.COMPUTERS)


def _antivirus_done(subjects):
    return dict(
        subjects.filter(antivirus=True, antivirus_updated_at__isnull=False).values_list(
            "pk", "antivirus_updated_at"
        )
    )


def _patches_done(subjects):
    return dict(subjects.filter(patched_at__isnull=False).values_list("pk", "patched_at"))


def _reported(field: str):
    """Every moment the field was reported within the range, from the audit trail.

    Each change of an asset (the form, the API, the inventory report) is an audit entry
    with the new value, so the trail is the history of the reports (one query).
    """

    def history(subjects, since, until):
        rows = AuditEntry.objects.filter(
            model_label="assets.asset",
            timestamp__gte=since,
            timestamp__lt=until,
            changes__has_key=field,
        ).values_list("object_id", "changes")
        out = []
        for object_id, changes in rows:
            value = (changes.get(field) or [None, None])[1]
            if not value or not object_id.isdigit():
                continue
            try:
                out.append((int(object_id), dt.datetime.fromisoformat(value)))
            except (TypeError, ValueError):
                continue
        return out

    return history


def _asset_url(state):
    return reverse("assets:asset_detail", args=[state.subject_id])


def _asset_edit_url(state):
    return reverse("assets:asset_edit", args=[state.subject_id])


# A school's own rhythm for these duties is the findings' too (services._limit).
post_save.connect(forget_limits, sender=ObligationSetting, dispatch_uid="assets.limits.save")
post_delete.connect(forget_limits, sender=ObligationSetting, dispatch_uid="assets.limits.delete")

register(
    Obligation(
        key="assets.antivirus",
        clause="2.2.1",
        title=_("個人電腦與伺服器的病毒碼保持更新"),
        description=_("裝置防毒軟體並自動定期更新病毒碼；由盤點程式或資產頁面回報更新時間。"),
        subjects=_computers,
        evidence=_antivirus_done,
        history=_reported("antivirus_updated_at"),
        subject_start="created_at",
        rhythm=Rhythm(days=ANTIVIRUS_DAYS),
        responsible_role=SYSADMIN,
        due_soon_days=min(2, ANTIVIRUS_DAYS - 1),
        subject_url=_asset_url,
        evidence_url=_asset_edit_url,
    )
)

register(
    Obligation(
        key="assets.patches",
        clause="2.2.1",
        title=_("個人電腦與伺服器的作業系統定期更新"),
        description=_("作業系統及軟體應定期更新，以防範系統漏洞；由盤點程式或資產頁面回報。"),
        subjects=_computers,
        evidence=_patches_done,
        history=_reported("patched_at"),
        subject_start="created_at",
        rhythm=Rhythm(days=PATCH_DAYS),
        responsible_role=SYSADMIN,
        due_soon_days=min(7, PATCH_DAYS - 1),
        subject_url=_asset_url,
        evidence_url=_asset_edit_url,
    )
)


# Settings that must hold (4.1, 4.3): a deadline per asset from its registration ---------------
def _setup_deadline(subjects):
    from . import services

    grace = dt.timedelta(days=services.setup_days())
    return {pk: created + grace for pk, created in subjects.values_list("pk", "created_at")}


def _portables():
    return Asset.objects.active().filter(
        state=State.IN_USE, kind__in=Asset.PORTABLE, official_use=True
    )


def _protected(subjects):
    return dict(subjects.exclude(protection="").values_list("pk", "updated_at"))


register(
    Obligation(
        key="assets.portable_protected",
        clause="4.1",
        title=_("公務用可攜式設備設定保護機制"),
        description=_("筆記型電腦、平板電腦、智慧型手機等應設定通行碼、圖形、臉孔或指紋辨識。"),
        subjects=_portables,
        evidence=_protected,
        deadline=_setup_deadline,
        rhythm=Rhythm(period=EVENT),
        responsible_role=EQUIPMENT_HEAD,
        reminders=REMINDERS,
        subject_url=_asset_url,
        evidence_url=_asset_edit_url,
    )
)


def _media():
    return (
        Asset.objects.active()
        .filter(kind__in=Asset.MEDIA, official_use=True)
        .exclude(state=State.DECOMMISSIONED)
    )


def _controlled(subjects):
    done = subjects.exclude(sensitivity="").filter(
        Q(sensitivity=Asset.Sensitivity.GENERAL) | ~Q(media_control="")
    )
    return dict(done.values_list("pk", "updated_at"))


register(
    Obligation(
        key="assets.media_controls",
        clause="4.3",
        title=_("公務用可攜式儲存媒體依機敏性實施控管"),
        description=_("隨身碟、光碟、磁帶等依所存資料的機敏性加密儲存或存放於上鎖儲櫃。"),
        subjects=_media,
        evidence=_controlled,
        deadline=_setup_deadline,
        rhythm=Rhythm(period=EVENT),
        responsible_role=EQUIPMENT_HEAD,
        reminders=REMINDERS,
        subject_url=_asset_url,
        evidence_url=_asset_edit_url,
    )
)


def _register_records():
    from .views import AssetRegister

    register_records(
        Records.of(
            AssetRegister,
            also_clauses=("2.2.1", "2.2.2", "2.3.2", "2.6", "4.1", "4.3"),
            obligations=(
                "assets.antivirus",
                "assets.patches",
                "assets.portable_protected",
                "assets.media_controls",
            ),
        )
    )


_register_records()
