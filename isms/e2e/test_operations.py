"""Operations (2.4.1, 2.5.1) in a real browser.

Backups: the 系統管理人員 makes a backup plan (refused while off-site has no location),
creates the plan's job key — shown once, with the curl and PowerShell examples — and the
backup job reports a successful and a failed run to the live server with that key; a wrong
key and, once revoked in the page, the plan's own key are refused.

Work log A-2: the 系統管理人員 writes an entry (其它 without its text is refused), the 主管
reviews it, and the paper A-2 is printed.
"""

import datetime as dt
import hashlib
import json
import re
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from isms.audit.models import AuditEntry
from isms.core.roles import SUPERVISOR, SYSADMIN
from isms.identity.models import InformationSystem
from isms.notifications.models import Notification
from isms.operations.models import BackupPlan, BackupRun, WorkLogEntry

from .test_account_request import person_with_login, sign_in
from .test_first_sign_in import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TAIPEI = ZoneInfo("Asia/Taipei")
PLAN_NAME = "學務系統資料庫"


def roc_minute(moment: dt.datetime) -> str:
    """``115/11/28 14:05`` in Taipei time, as the pages show a moment."""
    local = moment.astimezone(TAIPEI)
    return f"{local.year - 1911}/{local:%m/%d %H:%M}"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def post_run(live_server, key: str, run: dict) -> tuple[int, dict]:
    """What the backup job does: POST the run with the key, no browser session."""
    request = urllib.request.Request(
        f"{live_server.url}/api/backup-runs/",
        data=json.dumps(run).encode("utf-8"),
        method="POST",
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_backup_plan_job_key_runs_reported_and_key_revoked(live_server, page):
    admin = person_with_login("sysadmin", SYSADMIN, "陳志明")
    system = InformationSystem.objects.create(name="學務系統")

    # The plan, refused while 異地 is ticked without where and on what.
    sign_in(page, live_server, "sysadmin")
    page.goto(f"{live_server.url}/operations/backup-plans/add/")
    expect(page.locator("#id_responsible")).to_have_value(str(admin.pk))  # the one signed in
    page.fill("#id_name", PLAN_NAME)
    page.select_option("#id_system", label="學務系統")
    page.get_by_label("資料庫", exact=True).check()
    page.get_by_label("網站", exact=True).check()
    page.fill("#id_method", "每日以 mysqldump 完整備份資料庫")
    page.fill("#id_destination", r"NAS \\nas01\backup\sfs")
    page.fill("#id_rhythm_days", "1")
    expect(page.locator("[data-offsite-details]")).to_be_hidden()
    page.get_by_label("異地備份或異地存放", exact=True).check()
    expect(page.locator("[data-offsite-details]")).to_be_visible()
    page.get_by_role("button", name="儲存").click()
    offsite = page.locator("[data-section=offsite]")
    expect(offsite.locator(".invalid-feedback")).to_have_text(
        ["異地備份請填寫存放地點（條文 2.4.1）。", "異地備份請選擇存放媒體（條文 2.4.1）。"]
    )
    assert not BackupPlan.objects.exists()
    # What was typed and ticked is kept on the refused form.
    expect(page.get_by_label("資料庫", exact=True)).to_be_checked()
    expect(page.locator("#id_rhythm_days")).to_have_value("1")
    page.fill("#id_offsite_location", "總務處保險櫃")
    page.select_option("#id_offsite_medium", label="外接式硬碟")
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(re.compile(r"/operations/backup-plans/\d+/$"))
    plan = BackupPlan.objects.get()
    assert (plan.name, plan.system, plan.responsible) == (PLAN_NAME, system, admin)
    assert sorted(plan.contents) == ["database", "website"]
    assert (plan.offsite, plan.offsite_location, plan.offsite_medium) == (
        True,
        "總務處保險櫃",
        BackupPlan.Medium.EXTERNAL_DISK,
    )
    assert plan.rhythm_days == 1 and plan.token_hash == ""
    plan_url = f"{live_server.url}{plan.get_absolute_url()}"
    expect(page.locator("[data-field=offsite]")).to_have_text("總務處保險櫃（外接式硬碟）")
    expect(page.locator("[data-field=last_success]")).to_have_text("尚無")
    expect(page.locator("[data-key-state]")).to_have_text("尚未建立金鑰。")

    # The job key: shown once, on the answer to its creation, never cached.
    with page.expect_response(
        lambda r: r.url.endswith(f"/backup-plans/{plan.pk}/key/") and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name="建立金鑰").click()
    assert answer.value.status == 200
    assert answer.value.headers["cache-control"] == "no-store"
    new_key = page.locator("[data-new-key]")
    expect(new_key).to_contain_text("已建立金鑰。金鑰只顯示這一次")
    key = new_key.get_by_role("textbox", name="備份程式金鑰").input_value()
    assert re.fullmatch(r"isms_bk_[A-Za-z0-9_-]{43}", key)
    plan.refresh_from_db()
    assert plan.token_hash == hashlib.sha256(key.encode()).hexdigest()
    assert plan.token_prefix == key[8:16]
    api_url = f"{live_server.url}/api/backup-runs/"
    expect(page.locator("#job-key")).to_contain_text(f"POST {api_url}")
    shell = page.locator("[data-example=shell]")
    for text in (
        "#!/bin/sh",
        f"ISMS_URL='{api_url}'",
        "ISMS_KEY='PASTE-THE-KEY-HERE'",
        f"PLAN={plan.pk}",
        'curl -sS -X POST "$ISMS_URL"',
        '-H "Authorization: Token $ISMS_KEY"',
    ):
        expect(shell).to_contain_text(text)
    powershell = page.locator("[data-example=powershell]")
    for text in (
        f"$IsmsUrl = '{api_url}'",
        "$IsmsKey = 'PASTE-THE-KEY-HERE'",
        f"$Plan = {plan.pk}",
        "Invoke-RestMethod -Method Post -Uri $IsmsUrl",
        'Authorization = "Token $IsmsKey"',
    ):
        expect(powershell).to_contain_text(text)
    expect(new_key).to_contain_text("將下方範例中的 PASTE-THE-KEY-HERE 換成此金鑰。")
    shot(page, "24-backup-plan")
    # The key is not shown again.
    page.goto(plan_url)
    expect(page.locator("[data-new-key]")).to_have_count(0)
    assert key not in page.content()
    expect(page.locator("[data-key-state]")).to_contain_text(f"開頭 isms_bk_{key[8:16]}…")

    # The backup job reports: yesterday's run failed, today's succeeded.
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    failed_start, succeeded_start = now - dt.timedelta(hours=27), now - dt.timedelta(hours=3)
    succeeded_end = succeeded_start + dt.timedelta(minutes=18)
    status, body = post_run(
        live_server,
        key,
        {
            "plan": plan.pk,
            "started_at": iso(succeeded_start),
            "finished_at": iso(succeeded_end),
            "status": "succeeded",
            "size_bytes": 52428800,
            "checksum": "sha256:" + "ab" * 32,
            "location": "/var/backups/sfs-db.sql.gz",
            "log": "mysqldump: 完成",
        },
    )
    assert status == 201, body
    assert body["source"] == "job" and body["recorded_by"] is None
    status, body = post_run(  # "plan" left out: the key's plan
        live_server,
        key,
        {
            "started_at": iso(failed_start),
            "finished_at": iso(failed_start + dt.timedelta(minutes=2)),
            "status": "failed",
            "log": "mysqldump: Got error: 2002: Can't connect to local MySQL server",
        },
    )
    assert status == 201, body
    assert body["plan"] == plan.pk
    wrong = "isms_bk_" + "x" * 43
    status, body = post_run(
        live_server, wrong, {"started_at": iso(now), "finished_at": iso(now), "status": "succeeded"}
    )
    assert status == 401 and body["detail"] == "備份程式金鑰無效或已撤銷。"
    succeeded = BackupRun.objects.get(status=BackupRun.Status.SUCCEEDED)
    failed = BackupRun.objects.get(status=BackupRun.Status.FAILED)
    assert BackupRun.objects.count() == 2
    for run in (succeeded, failed):
        assert run.plan == plan and run.source == BackupRun.Source.JOB
        assert run.recorded_by is None
    assert (succeeded.started_at, succeeded.finished_at) == (succeeded_start, succeeded_end)
    assert succeeded.size_bytes == 52428800 and succeeded.log == "mysqldump: 完成"

    # The failed run is told to the plan's administrator at once; the success is not.
    alert = Notification.objects.get(recipient=admin)
    assert alert.dedup_key == f"operations.backup_failed:{failed.pk}:{admin.pk}"
    assert alert.subject == f"備份失敗：{PLAN_NAME}" and alert.urgent
    assert roc_minute(failed_start) in alert.body and "Can't connect" in alert.body
    # The audit trail names the job, not a person; the wrong key is recorded by its start.
    for run in (succeeded, failed):
        entry = AuditEntry.objects.get(
            model_label="operations.backuprun",
            object_id=str(run.pk),
            action=AuditEntry.Action.CREATE,
        )
        assert entry.actor_id is None and entry.actor_label == f"backup job: {PLAN_NAME}"
    refused = AuditEntry.objects.get(action=AuditEntry.Action.ACCESS_DENIED)
    assert "xxxxxxxx" in refused.message and wrong not in refused.message

    # The plan's page: both runs, the last success and the next due moment from it.
    page.reload()
    runs = page.locator("#runs tbody tr")
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_have_attribute("data-run", str(succeeded.pk))
    for text in (roc_minute(succeeded_start), "成功", roc_minute(succeeded_end), "備份程式回報"):
        expect(runs.nth(0)).to_contain_text(text)
    expect(runs.nth(1)).to_have_attribute("data-run", str(failed.pk))
    expect(runs.nth(1).locator(".text-danger")).to_have_text("失敗")
    expect(runs.nth(1)).to_contain_text(roc_minute(failed_start))
    expect(page.locator("#runs")).to_contain_text("全部備份紀錄（2 筆）")
    expect(page.locator("[data-field=last_success]")).to_have_text(roc_minute(succeeded_end))
    expect(page.locator("[data-field=next_due]")).to_have_text(
        roc_minute(succeeded_end + dt.timedelta(days=1))
    )
    expect(page.locator("[data-due-state]")).to_have_text("備份正常")

    # Revoked in the page: the job's next report is refused.
    page.get_by_role("button", name="撤銷金鑰").click()
    page.wait_for_url(plan_url)
    expect(page.locator(".alert-success")).to_contain_text("已撤銷備份程式金鑰")
    expect(page.locator("[data-key-state]")).to_have_text("尚未建立金鑰。")
    expect(page.get_by_role("button", name="建立金鑰")).to_be_visible()
    plan.refresh_from_db()
    assert plan.token_hash == "" and plan.token_prefix == ""
    status, body = post_run(
        live_server, key, {"started_at": iso(now), "finished_at": iso(now), "status": "succeeded"}
    )
    assert status == 401 and body["detail"] == "備份程式金鑰無效或已撤銷。"
    assert BackupRun.objects.count() == 2
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.ACCESS_DENIED, message__contains=f"金鑰開頭 {key[8:16]}"
    ).exists()


def test_work_log_entry_reviewed_and_printed_as_a2(live_server, page):
    admin = person_with_login("sysadmin", SYSADMIN, "陳志明")
    boss = person_with_login("boss", SUPERVISOR, "黃建華")
    system = InformationSystem.objects.create(name="學校首頁網站")
    # Yesterday afternoon, Taipei time: 14:05 is 下午 2 時 05 分 on paper.
    day = dt.datetime.now(TAIPEI).date() - dt.timedelta(days=1)
    operated = dt.datetime.combine(day, dt.time(14, 5), tzinfo=TAIPEI)
    roc_year = day.year - 1911

    sign_in(page, live_server, "sysadmin")
    page.goto(f"{live_server.url}/operations/work-log/add/")
    expect(page.locator("[data-administrator]")).to_have_text("陳志明")
    page.fill("#id_operated_at", f"{roc_year}/{day:%m/%d} 14:05")
    page.select_option("#id_system", label="學校首頁網站")
    page.get_by_label("系統維護", exact=True).check()
    expect(page.locator("[data-section=other]")).to_be_hidden()
    page.get_by_label("其它", exact=True).check()
    expect(page.locator("[data-section=other]")).to_be_visible()
    page.fill("#id_description", "更換網站 SSL 憑證，並確認 HTTPS 連線正常。")
    # 其它 without saying what it was: refused on its field, nothing saved.
    page.get_by_role("button", name="送出，待主管覆核").click()
    expect(page.locator("[data-section=other] .invalid-feedback")).to_have_text(
        "操作事項為「其它」時，請寫明操作的事項（A-2「其它：」）。"
    )
    assert not WorkLogEntry.objects.exists()
    expect(page.locator("#id_description")).to_have_value(
        "更換網站 SSL 憑證，並確認 HTTPS 連線正常。"
    )
    page.fill("#id_kind_other", "更換 SSL 憑證")
    page.get_by_role("button", name="送出，待主管覆核").click()
    page.wait_for_url(re.compile(r"/operations/work-log/\d+/$"))
    entry = WorkLogEntry.objects.get()
    assert (entry.kind, entry.kind_other) == (WorkLogEntry.Kind.OTHER, "更換 SSL 憑證")
    assert entry.operated_at == operated and entry.system == system
    assert entry.administrator == admin and entry.reviewed_at is None
    expect(page.locator("[data-review-state]")).to_contain_text("待主管覆核")
    # The administrator may not review their own work.
    expect(page.get_by_role("button", name="覆核此日誌")).to_have_count(0)

    # The 主管's review, on the entry's page.
    sign_in(page, live_server, "boss")
    page.goto(f"{live_server.url}{entry.get_absolute_url()}")
    expect(page.locator("[data-field=kind]")).to_contain_text("☑ 其它：更換 SSL 憑證")
    page.fill("#id_note", "已確認憑證有效期限")
    page.get_by_role("button", name="覆核此日誌").click()
    page.wait_for_url(f"**{entry.get_absolute_url()}")
    expect(page.locator("[data-review-state]")).to_contain_text("已覆核")
    expect(page.locator("[data-review]")).to_contain_text("黃建華")
    expect(page.locator("#review")).to_have_count(0)
    entry.refresh_from_db()
    assert entry.reviewed_by == boss and entry.review_note == "已確認憑證有效期限"
    review = AuditEntry.objects.filter(
        model_label="operations.worklogentry", object_id=str(entry.pk), action="update"
    ).get()
    assert review.actor_id == boss.pk and "reviewed_at" in review.changes

    # The paper A-2.
    page.get_by_role("link", name="列印 A-2").click()
    page.wait_for_url(f"**{entry.get_absolute_url()}print/")
    paper = page.locator(".paper")
    expect(paper).to_have_count(1)
    expect(paper.locator(".doc-no")).to_have_text("文件編號：A-2")
    expect(paper.locator("h1")).to_contain_text("資訊工作日誌")
    expect(paper.locator("[data-field=operated_at]")).to_have_text(
        f"操作日期：民國 {roc_year} 年 {day.month} 月 {day.day} 日 下午 2 時 05 分"
    )
    expect(paper.locator("[data-field=system]")).to_have_text("系統名稱：學校首頁網站")
    expect(paper.locator("[data-field=kind] span")).to_have_text(
        ["☐ 系統例行檢查", "☐ 系統維護", "☐ 系統更新操作", "☑ 其它：更換 SSL 憑證"]
    )
    expect(paper.locator("[data-field=description]")).to_have_text(
        "更換網站 SSL 憑證，並確認 HTTPS 連線正常。"
    )
    expect(paper.locator("[data-sign=administrator]")).to_have_text("系統管理人員(簽名)：陳志明")
    supervisor = paper.locator("[data-sign=supervisor]")
    expect(supervisor).to_contain_text("主管覆核(簽名)：黃建華")
    expect(supervisor).to_contain_text(roc_minute(entry.reviewed_at))
    expect(supervisor).to_contain_text("已確認憑證有效期限")
    expect(supervisor).not_to_contain_text("尚待主管覆核")
    assert page.locator("nav.navbar").count() == 0
    shot(page, "25-a2-print")
