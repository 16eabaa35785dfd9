"""The quarterly time sync (2.5.2: 系統管理人員應至少每季執行一次校時), and the time-sync
records in the evidence binder.

``operations.time_sync``: every server in use (an asset of kind 伺服器, state 使用中, not
voided) has a time sync within tolerance (``TimeSync.ok``) in every calendar quarter
(Asia/Taipei). A failed check or an offset over ``ISMS_TIME_OFFSET_MS`` is no evidence.
Evidence and history are one query each for all servers.
"""

from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.assets.models import Asset
from isms.compliance.registry import Obligation, Records, register, register_records
from isms.compliance.rhythms import Rhythm
from isms.core.roles import SYSADMIN

from .models import TimeSync
from .timesync import CLAUSE, DUTY


def _servers():
    """Servers in use: those whose clocks the quarterly sync is about."""
    return Asset.objects.active().filter(kind=Asset.Kind.SERVER, state=Asset.State.IN_USE)


def _done(subjects):
    """The latest time sync within tolerance of each server (one query)."""
    rows = (
        TimeSync.objects.filter(server__in=subjects.values("pk"), ok=True)
        .values("server")
        .annotate(last=Max("checked_at"))
        .values_list("server", "last")
    )
    return dict(rows)


def _history(subjects, since, until):
    """Every time sync within tolerance in [since, until], as (server, moment) pairs."""
    return list(
        TimeSync.objects.filter(
            server__in=subjects.values("pk"),
            ok=True,
            checked_at__gte=since,
            checked_at__lt=until,
        ).values_list("server_id", "checked_at")
    )


def _server_url(state):
    return reverse("assets:asset_detail", args=[state.subject_id])


def _record_url(state):
    return reverse("operations:timesync_add") + f"?server={state.subject_id}"


register(
    Obligation(
        key=DUTY,
        clause=CLAUSE,
        title=_("伺服器每季至少校時一次"),
        description=_(
            "每台使用中的伺服器每季至少校時一次，並記錄校時後的時間誤差；"
            "可由 isms check-time 指令查詢主機的 NTP 服務自動記錄。誤差超過容許值或查詢失敗不計入。"
        ),
        subjects=_servers,
        evidence=_done,
        history=_history,
        subject_start="created_at",
        rhythm=Rhythm(period="quarterly"),
        responsible_role=SYSADMIN,
        due_soon_days=14,
        subject_url=_server_url,
        evidence_url=_record_url,
    )
)


def _register_records():
    from .views_timesync import TimeSyncRegister

    register_records(Records.of(TimeSyncRegister, date_field="checked_at", obligations=(DUTY,)))


_register_records()
