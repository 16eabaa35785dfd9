"""Demo operations for `isms demo`: the demo school's backup plans with a month of runs (one
failed, one plan late), a restore test, a week of work-log entries and the quarter's time
synchronisation of its servers — through the services, as the system administrator."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from isms.assets.models import Asset
from isms.audit import trail
from isms.core.models import User
from isms.identity.models import InformationSystem

from . import backups, timesync, worklog
from .models import BackupPlan, BackupRun, RestoreTest, WorkLogEntry

Content = BackupPlan.Content

# name, system, server property number, contents, method, destination, off-site, days
PLANS = [
    (
        "校務行政系統資料庫每日備份",
        "校務行政系統",
        "3140102-05-000011",
        [Content.DATABASE, Content.SYSTEM_FILES],
        "每日 02:00 以 pg_dump 完整備份，保留 30 份",
        "圖書館 3 樓資訊機房 NAS（\\\\nas01\\backup\\sis）",
        ("總務處保管室上鎖儲櫃", BackupPlan.Medium.EXTERNAL_DISK),
        1,
    ),
    (
        "學校網站每週備份",
        "學校網站",
        "3140102-05-000012",
        [Content.WEBSITE, Content.DATABASE],
        "每週日 03:00 以 rsync 複製網站目錄並匯出資料庫",
        "資訊機房 NAS（\\\\nas01\\backup\\web）",
        None,
        7,
    ),
]


@transaction.atomic
def load_demo() -> None:
    if BackupPlan.objects.exists() or WorkLogEntry.objects.exists():
        return
    admin = User.objects.filter(username="sysadmin").first()
    boss = User.objects.filter(username="supervisor").first()
    if admin is None or boss is None:
        return
    now = timezone.now()
    systems = {s.name: s for s in InformationSystem.objects.active()}
    servers = {a.property_number: a for a in Asset.objects.filter(kind=Asset.Kind.SERVER)}
    with trail.acting_as(admin):
        plans = []
        for name, system, number, contents, method, destination, offsite, days in PLANS:
            plan = BackupPlan(
                name=name,
                system=systems.get(system),
                server=servers.get(number),
                contents=contents,
                method=method,
                destination=destination,
                offsite=offsite is not None,
                offsite_location=offsite[0] if offsite else "",
                offsite_medium=offsite[1] if offsite else "",
                rhythm_days=days,
                responsible=admin,
            )
            if plan.system is None and plan.server is None:
                continue
            plans.append(backups.save_plan(plan, actor=admin))
        _runs(plans, admin, now)
        _restore_test(plans, admin, boss, now)
        _work_log(systems, admin, boss, now)
        _time_syncs(servers, admin, now)


def _runs(plans, admin, now) -> None:
    """A month of daily runs of the first plan (one failed); the weekly plan is late."""
    if not plans:
        return
    daily = plans[0]
    for back in range(30, 0, -1):
        start = (now - dt.timedelta(days=back)).replace(hour=18, minute=0, second=0)
        failed = back == 12
        backups.record_run(
            BackupRun(
                plan=daily,
                started_at=start,
                finished_at=start + dt.timedelta(minutes=14),
                status=BackupRun.Status.FAILED if failed else BackupRun.Status.SUCCEEDED,
                size_bytes=None if failed else 2_400_000_000 + back * 3_000_000,
                checksum="" if failed else f"sha256:{back:064x}",
                location=f"\\\\nas01\\backup\\sis\\sis-{start:%Y%m%d}.dump",
                log="pg_dump: error: connection to server failed: timeout" if failed else "ok",
            ),
            actor=admin,
        )
    if len(plans) > 1:
        start = now - dt.timedelta(days=10)
        backups.record_run(
            BackupRun(
                plan=plans[1],
                started_at=start,
                finished_at=start + dt.timedelta(minutes=6),
                status=BackupRun.Status.SUCCEEDED,
                size_bytes=850_000_000,
                location="\\\\nas01\\backup\\web",
                log="rsync: 1,204 files",
            ),
            actor=admin,
        )


def _restore_test(plans, admin, boss, now) -> None:
    if not plans:
        return
    plan = plans[0]
    run = plan.runs.filter(status=BackupRun.Status.SUCCEEDED).order_by("started_at").first()
    test = backups.save_test(
        RestoreTest(
            plan=plan,
            run=run,
            tested_on=timezone.localdate(now) - dt.timedelta(days=5),
            restored_what="校務行政系統資料庫（學生基本資料、成績）",
            restored_to="測試主機 test-db01 的暫存資料庫",
            usable=True,
            complete=True,
            checksum=RestoreTest.Checksum.MATCHED,
            note="抽查 20 位學生資料與正式系統一致。",
        ),
        actor=admin,
    )
    backups.review_test(test, actor=boss, note="測試完整。")


# day offset, hour, system, kind, description, correction, reviewed
ENTRIES = [
    (6, 9, "校務行政系統", WorkLogEntry.Kind.ROUTINE_CHECK, "檢查系統日誌與磁碟空間", "", True),
    (5, 16, "學校網站", WorkLogEntry.Kind.UPDATE, "更新網站套件與外掛至最新版", "", True),
    (
        3,
        10,
        "校務行政系統",
        WorkLogEntry.Kind.MAINTENANCE,
        "備份失敗後重新設定排程",
        "調整資料庫連線逾時為 60 秒",
        False,
    ),
    (1, 14, "學校網站", WorkLogEntry.Kind.ROUTINE_CHECK, "檢查網站憑證到期日與登入紀錄", "", False),
]


def _work_log(systems, admin, boss, now) -> None:
    for back, hour, system, kind, description, correction, reviewed in ENTRIES:
        if system not in systems:
            continue
        entry = worklog.entry_save(
            WorkLogEntry(
                operated_at=(now - dt.timedelta(days=back)).replace(hour=hour, minute=0),
                system=systems[system],
                kind=kind,
                description=description,
                correction=correction,
            ),
            actor=admin,
        )
        if reviewed:
            worklog.entry_review(entry, actor=boss, note="已閱")


def _time_syncs(servers, admin, now) -> None:
    """This quarter's sync of the first server; the second one is still to do."""
    server = servers.get("3140102-05-000011")
    if server is None or server.state != Asset.State.IN_USE:
        return
    timesync.record(
        server=server,
        checked_at=now - dt.timedelta(days=20),
        offset_ms=12.5,
        reference="tock.stdtime.gov.tw",
        actor=admin,
    )
