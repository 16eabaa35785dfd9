"""The product backs itself up (2.4.1, issue 7 point 4): ``isms backup`` writes one archive
and records a run of the product's own plan; ``isms restore --verify`` restores it into a
scratch database and records a restore test (2.4.2); ``isms restore`` brings the first
state back exactly, and refuses a corrupt or tampered archive (naming the file inside that
failed) without changing anything.

The tests run on whatever DATABASE_URL names: SQLite here, PostgreSQL in CI (pg_dump,
pg_restore and psql), so every round trip below is made on both.
"""

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from isms.audit import trail
from isms.audit.models import AuditEntry, ChainHead
from isms.compliance.models import ObligationState
from isms.core.models import Person
from isms.core.roles import STAFF, SYSADMIN
from isms.notifications.models import Notification
from isms.operations import selfbackup
from isms.operations.management.commands import backup as backup_command
from isms.operations.management.commands import restore as restore_command
from isms.operations.models import BackupPlan, BackupRun, RestoreTest

# SQLite's online backup cannot copy from a connection inside a write transaction: there
# every test runs without a test transaction. On PostgreSQL pg_dump reads the committed
# state from its own connection, so only the tests that restore for real or need their own
# rows in the archive run committed (emptying the tables after each costs seconds there);
# the others archive the committed state, which is all they need.
pytestmark = pytest.mark.django_db(transaction=connection.vendor == "sqlite")
committed = pytest.mark.django_db(transaction=True)

PASSPHRASE = "correct horse battery staple"
UTC = dt.UTC
AUDIT_TABLES = {"audit_auditentry", "audit_chainhead"}
DB_MEMBER = selfbackup.DATABASE_FILES[connection.vendor]
EVIDENCE = "attachments/2025/證據 掃描.pdf"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(selfbackup.PASSPHRASE_ENV, raising=False)
    # A restore that should have been refused fails fast instead of waiting for the test
    # transaction's locks (PostgreSQL).
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=5s")
    monkeypatch.setattr(backup_command, "interactive", lambda: False)
    monkeypatch.setattr(restore_command, "interactive", lambda: False)


@pytest.fixture
def admin(make_user):
    return make_user("admin", SYSADMIN)


@pytest.fixture
def media(settings):
    root = Path(settings.MEDIA_ROOT)
    (root / "attachments" / "2025").mkdir(parents=True)
    (root / EVIDENCE).write_bytes(b"%PDF-1.7 signed A-2 form\n" * 100)
    # Bigger than one chunk: streamed in pieces, sealed in several chunks when encrypted.
    (root / "big.bin").write_bytes(os.urandom(selfbackup.CHUNK * 2 + 12345))
    return root


@pytest.fixture
def out(tmp_path):
    return tmp_path / "backups"


def backup(*args) -> tuple[Path, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("backup", *args, stdout=stdout, stderr=stderr)
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 1, "standard output is the archive's path alone"
    return Path(lines[0]), stderr.getvalue()


def restore(*args) -> str:
    stdout = io.StringIO()
    call_command("restore", *[str(a) for a in args], stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def members(archive: Path) -> list[tuple[str, bytes]]:
    with gzip.open(archive, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        return [(info.name, tar.extractfile(info).read()) for info in tar]


def rewrite(archive: Path, change) -> None:
    """Rebuild a plain archive; ``change(name, data)`` gives the members to write instead."""
    old = members(archive)
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb") as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data in old:
            for new_name, new_data in change(name, data):
                info = tarfile.TarInfo(new_name)
                info.size = len(new_data)
                tar.addfile(info, io.BytesIO(new_data))
    archive.write_bytes(buffer.getvalue())


def edit_manifest(archive: Path, edit) -> None:
    def change(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            edit(manifest)
            data = json.dumps(manifest).encode()
        return [(name, data)]

    rewrite(archive, change)


def db_state() -> dict:
    """Every row of every table (order-free), as comparable text."""
    state = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows = [
                repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                for row in cursor.fetchall()
            ]
            state[table] = sorted(rows)
    return state


def media_state(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def leftovers(root: Path) -> list[str]:
    """Staging or replaced media directories left beside MEDIA_ROOT."""
    return [p.name for p in root.parent.iterdir() if p.name.startswith(f".{root.name}.")]


# Backing up ------------------------------------------------------------------------------------
@committed
def test_backup_writes_a_timestamped_archive_and_records_a_run_of_the_product_plan(
    admin, media, out
):
    moment = dt.datetime(2025, 3, 1, 17, 30, 5, tzinfo=UTC)  # 2025-03-02 01:30:05 in Taipei
    with time_machine.travel(moment, tick=False):
        path, told = backup("--output", str(out), "--user", "admin")
    with time_machine.travel(moment + dt.timedelta(milliseconds=500), tick=False):
        again, _told = backup("--output", str(out), "--user", "admin")

    assert path == out / "isms-backup-20250302-013005.tar.gz"
    assert again == out / "isms-backup-20250302-013005-2.tar.gz"  # the same second
    assert sorted(p.name for p in out.iterdir()) == [again.name, path.name]  # no temp left
    assert path.stat().st_mode & 0o777 == 0o600
    assert "SHA-256 " + sha256(path) in told

    plan = BackupPlan.objects.get(is_product=True)
    assert plan.name == "校園資安管理平台本身"
    assert plan.contents == [BackupPlan.Content.DATABASE, BackupPlan.Content.USER_FILES]
    assert plan.responsible == admin and plan.destination == str(out)
    assert "isms backup" in plan.method
    runs = list(plan.runs.order_by("pk"))
    assert len(runs) == 2
    run = runs[0]
    assert runs[1].checksum == sha256(again) != run.checksum
    assert run.source == BackupRun.Source.PRODUCT
    assert run.status == BackupRun.Status.SUCCEEDED
    assert run.started_at == run.finished_at == moment
    assert run.checksum == sha256(path)
    assert run.size_bytes == path.stat().st_size
    assert run.location == str(path)
    assert run.recorded_by == admin
    assert path.name in run.log
    entry = AuditEntry.objects.get(model_label="operations.backuprun", object_id=str(run.pk))
    assert entry.action == "create" and entry.actor == admin

    contents = members(path)
    names = [name for name, _data in contents]
    assert names[0] == DB_MEMBER and names[-1] == "manifest.json"
    assert set(names[1:-1]) == {"media/" + EVIDENCE, "media/big.bin"}
    manifest = json.loads(contents[-1][1])
    assert manifest["format"] == "isms-backup" and manifest["format_version"] == 1
    assert manifest["created_at"] == "2025-03-02T01:30:05+08:00"
    assert manifest["encrypted"] is False
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["database"]["tables"]["core_person"] == Person.objects.count()
    assert manifest["database"]["tables"]["operations_backupplan"] == 1
    # The run is recorded after the dump: the archive does not hold its own run.
    assert manifest["database"]["tables"]["operations_backuprun"] == 0
    assert manifest["migrations"]["operations"] == ["0001_initial"]
    assert manifest["media"] == {
        "files": 2,
        "bytes": sum(len(d) for n, d in contents if n.startswith("media/")),
    }
    for name, data in contents[:-1]:
        assert manifest["files"][name] == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
    assert dict(contents)["media/" + EVIDENCE] == (media / EVIDENCE).read_bytes()


def test_the_database_copy_is_a_self_contained_dump(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    dump = dict(members(path))[DB_MEMBER]
    if connection.vendor == "sqlite":
        assert dump.startswith(b"SQLite format 3\x00")
        assert dump[18:20] == b"\x01\x01"  # rollback journal, not WAL: one file is all
    else:
        assert dump.startswith(b"PGDMP")  # pg_dump's custom format


def test_without_user_the_first_active_superuser_is_responsible_and_the_trail_names_the_command(
    make_user, out
):
    make_user("old", superuser=True, is_active=False)
    first = make_user("root", superuser=True)
    make_user("root2", superuser=True)
    make_user("admin", SYSADMIN)  # not a superuser: not the fallback
    backup("--output", str(out))
    plan = BackupPlan.objects.get(is_product=True)
    assert plan.responsible == first
    run = plan.runs.get()
    assert run.recorded_by is None
    entry = AuditEntry.objects.get(model_label="operations.backuprun", object_id=str(run.pk))
    assert entry.actor is None and entry.actor_label == "isms backup"
    # Later backups keep the plan and its responsible.
    backup("--output", str(out))
    assert BackupPlan.objects.filter(is_product=True).count() == 1
    assert plan.runs.count() == 2


def test_quiet_backup_prints_only_the_path(admin, out):
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(
        "backup", "--output", str(out), "--user", "admin", "-v", "0", stdout=stdout, stderr=stderr
    )
    assert stdout.getvalue() == f"{next(out.iterdir())}\n" and stderr.getvalue() == ""


def test_a_superuser_who_is_an_administrator_is_preferred(make_user, out):
    make_user("root", superuser=True)
    both = make_user("root_admin", SYSADMIN, superuser=True)
    backup("--output", str(out))
    assert BackupPlan.objects.get(is_product=True).responsible == both


@pytest.mark.parametrize(
    "user, message",
    [
        (None, "--user"),  # no superuser to fall back on
        ("nobody", "沒有使用者「nobody」"),
        ("clerk", "不是系統管理人員"),
        ("gone", "已停用"),
    ],
)
def test_bad_user_is_refused_and_nothing_is_written(make_user, out, user, message):
    make_user("clerk", STAFF)
    make_user("gone", SYSADMIN, is_active=False)
    args = ["--output", str(out)] + (["--user", user] if user else [])
    with pytest.raises(CommandError, match=message):
        backup(*args)
    assert not BackupPlan.objects.exists() and not BackupRun.objects.exists()
    assert not out.exists()


def test_a_failed_backup_is_recorded_as_a_failed_run_and_told(admin, out, monkeypatch):
    def full_disk(work):
        raise OSError(28, "No space left on device", str(work))

    monkeypatch.setattr(selfbackup, "_dump_database", full_disk)
    with pytest.raises(CommandError, match="No space left on device"):
        backup("--output", str(out), "--user", "admin")
    run = BackupRun.objects.get()
    assert run.plan.is_product and run.source == BackupRun.Source.PRODUCT
    assert run.status == BackupRun.Status.FAILED
    assert run.checksum == "" and run.size_bytes is None
    assert "No space left on device" in run.log
    assert Notification.objects.filter(
        recipient=admin, dedup_key__startswith=f"operations.backup_failed:{run.pk}:"
    ).exists()
    assert list(out.iterdir()) == []  # neither an archive nor a half-written one


def test_links_in_the_uploaded_files_are_not_followed(admin, media, out, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not an upload")
    (media / "link.txt").symlink_to(secret)
    path, _told = backup("--output", str(out), "--user", "admin")
    assert "media/link.txt" not in dict(members(path))


def test_a_voided_product_plan_still_gets_its_archive_but_no_records(admin, media, out):
    plan = selfbackup.product_plan(user=admin)
    plan.voided_at, plan.voided_by, plan.void_reason = timezone.now(), admin, "改用其他備份"
    plan.save()
    path, told = backup("--output", str(out), "--user", "admin")
    assert path.exists() and "已作廢" in told
    assert not BackupRun.objects.exists()
    assert "未記錄還原測試" in restore(path, "--verify", "--user", "admin")
    assert not RestoreTest.objects.exists()


def test_an_archive_inside_the_uploaded_files_is_refused(admin, media):
    with pytest.raises(CommandError, match="上傳檔案目錄"):
        backup("--output", str(media / "backups"), "--user", "admin")
    assert not (media / "backups").exists() and not BackupRun.objects.exists()


def test_a_passphrase_is_never_a_command_line_value(admin, out):
    with pytest.raises(CommandError):
        backup("--output", str(out), "--passphrase", PASSPHRASE)
    with pytest.raises(CommandError):
        restore(out / "x.tar.gz", "--passphrase", PASSPHRASE)


def test_a_short_passphrase_is_refused_before_anything_is_written(admin, out, monkeypatch):
    monkeypatch.setenv(selfbackup.PASSPHRASE_ENV, "short")
    with pytest.raises(CommandError, match="至少需 12 個字元"):
        backup("--output", str(out), "--user", "admin")
    assert not out.exists() and not BackupPlan.objects.exists()


def test_encrypt_without_a_passphrase_source_is_refused(admin, out):
    with pytest.raises(CommandError, match=selfbackup.PASSPHRASE_ENV):
        backup("--output", str(out), "--user", "admin", "--encrypt")
    assert not out.exists()


# Restoring for real ----------------------------------------------------------------------------
@committed
def test_backup_change_restore_gives_the_first_state_exactly(admin, media, out):
    Person.objects.create(name="王小明", email="wang@example.edu.tw")
    Person.objects.create(name="李大華")
    selfbackup.product_plan(user=admin)
    first_db, first_media = db_state(), media_state(media)

    path, _told = backup("--output", str(out), "--user", "admin")
    # Everything changes afterwards: rows edited, added, deleted; files changed, added, gone.
    wang = Person.objects.get(name="王小明")
    wang.email = "changed@example.edu.tw"
    wang.save()
    Person.objects.create(name="後來的人")
    Person.objects.filter(name="李大華").delete()
    (media / EVIDENCE).write_bytes(b"overwritten")
    (media / "new.txt").write_text("added after the backup")
    (media / "big.bin").unlink()
    assert db_state() != first_db and media_state(media) != first_media

    told = restore(path, "--yes", "--user", "admin")

    assert "還原完成" in told
    restored = db_state()
    assert {t: r for t, r in restored.items() if t not in AUDIT_TABLES} == {
        t: r for t, r in first_db.items() if t not in AUDIT_TABLES
    }
    assert media_state(media) == first_media
    assert leftovers(media) == []
    # The trail is the archive's, plus one entry saying who restored what, still intact.
    assert set(first_db["audit_auditentry"]) < set(restored["audit_auditentry"])
    assert len(restored["audit_auditentry"]) == len(first_db["audit_auditentry"]) + 1
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.actor == admin and path.name in entry.message
    assert entry.model_label == "operations.backupplan"
    assert ChainHead.objects.get().last_id == entry.id
    assert trail.verify().ok
    # The restored database takes new rows (PostgreSQL: its sequences came back too).
    assert Person.objects.create(name="還原後新增").pk > max(
        Person.objects.exclude(name="還原後新增").values_list("pk", flat=True)
    )


@committed
def test_restore_asks_first_and_changes_nothing_unless_yes_is_typed(admin, media, out, monkeypatch):
    path, _told = backup("--output", str(out), "--user", "admin")
    run = BackupRun.objects.get()
    Person.objects.create(name="後來的人")
    (media / EVIDENCE).write_bytes(b"overwritten")
    answers = iter(["no", "yes"])
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or next(answers))

    with pytest.raises(CommandError, match="已取消還原，未變更任何資料"):
        restore(path)
    assert Person.objects.filter(name="後來的人").exists()
    assert (media / EVIDENCE).read_bytes() == b"overwritten"
    assert prompts == ["輸入 yes 繼續："]

    told = restore(path)
    assert f"備份紀錄 #{run.pk} 檢查碼相符" in told
    assert not Person.objects.filter(name="後來的人").exists()
    assert (media / EVIDENCE).read_bytes().startswith(b"%PDF")


def test_restore_without_a_terminal_and_without_yes_changes_nothing(admin, media, out, monkeypatch):
    def end_of_input(prompt=""):
        raise EOFError

    monkeypatch.setattr("builtins.input", end_of_input)
    path, _told = backup("--output", str(out), "--user", "admin")
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match="已取消還原"):
        restore(path)  # standard input at its end: no "yes"
    assert Person.objects.filter(name="後來的人").exists()


# Encryption ------------------------------------------------------------------------------------
@committed
def test_encrypted_round_trip_and_a_wrong_passphrase_is_refused(
    admin, media, out, tmp_path, monkeypatch
):
    monkeypatch.setenv(selfbackup.PASSPHRASE_ENV, PASSPHRASE)
    first_media = media_state(media)
    path, told = backup("--output", str(out), "--user", "admin")
    assert path.name.endswith(".tar.gz.enc") and "已加密" in told
    raw = path.read_bytes()
    assert raw.startswith(b"ISMSBKE1") and not raw[8:].startswith(b"\x1f\x8b")
    with pytest.raises((OSError, tarfile.TarError)):
        members(path)  # not a readable tar.gz without the passphrase
    assert BackupRun.objects.get().checksum == sha256(path)

    # Wrong passphrase: refused, nothing recorded, nothing changed.
    monkeypatch.delenv(selfbackup.PASSPHRASE_ENV)
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match="密碼錯誤"):
        restore(path, "--verify", "--passphrase-file", wrong)
    with pytest.raises(CommandError, match="密碼錯誤"):
        restore(path, "--yes", "--passphrase-file", wrong)
    with pytest.raises(CommandError, match=selfbackup.PASSPHRASE_ENV):
        restore(path, "--yes")  # no passphrase at all
    assert not RestoreTest.objects.exists()
    assert Person.objects.filter(name="後來的人").exists()

    right = tmp_path / "right"
    right.write_text(PASSPHRASE + "\n")
    right.chmod(0o600)
    told = restore(path, "--verify", "--passphrase-file", right)
    assert "通過" in told and RestoreTest.objects.get().passed
    restore(path, "--yes", "--passphrase-file", right)
    assert not Person.objects.filter(name="後來的人").exists()
    assert media_state(media) == first_media


def test_tampered_encrypted_archive_is_refused_and_nothing_is_overwritten(
    admin, media, out, monkeypatch
):
    monkeypatch.setenv(selfbackup.PASSPHRASE_ENV, PASSPHRASE)
    path, _told = backup("--output", str(out), "--user", "admin")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match="驗證失敗") as refused:
        restore(path, "--yes")
    assert "讀取 " in str(refused.value) and "拒絕還原，未變更任何資料" in str(refused.value)
    assert Person.objects.filter(name="後來的人").exists()
    assert leftovers(media) == []


# Bad archives ----------------------------------------------------------------------------------
def change_byte(member):
    def change(name, data):
        if name == member:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return [(name, data)]

    return change


def test_a_tampered_member_is_refused_by_name_and_nothing_is_overwritten(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    rewrite(path, change_byte("media/" + EVIDENCE))
    Person.objects.create(name="後來的人")
    (media / EVIDENCE).write_bytes(b"current")
    db_before = db_state()

    with pytest.raises(CommandError) as refused:
        restore(path, "--yes", "--user", "admin")
    message = str(refused.value)
    assert f"media/{EVIDENCE} 的 SHA-256 檢查碼不符" in message
    assert "拒絕還原，未變更任何資料" in message
    assert db_state() == db_before
    assert (media / EVIDENCE).read_bytes() == b"current"
    assert leftovers(media) == []


def test_a_tampered_database_is_refused_by_name(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    rewrite(path, change_byte(DB_MEMBER))
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match=f"{DB_MEMBER} 的 SHA-256 檢查碼不符"):
        restore(path, "--yes")
    assert Person.objects.filter(name="後來的人").exists()


def test_verify_of_a_tampered_archive_records_a_failed_restore_test(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    rewrite(path, change_byte("media/big.bin"))
    with pytest.raises(CommandError, match=r"media/big\.bin 的 SHA-256 檢查碼不符"):
        restore(path, "--verify", "--user", "admin")
    test = RestoreTest.objects.get()
    assert not test.passed and not test.usable and not test.complete
    assert test.checksum == RestoreTest.Checksum.MISMATCHED
    assert "media/big.bin" in test.note and sha256(path) in test.note
    assert test.run is None  # the tampered file is no archive that was recorded


@pytest.mark.parametrize(
    "change, named, message",
    [
        (
            lambda n, d: [(n, d), ("media/planted.sh", b"evil")] if n == DB_MEMBER else [(n, d)],
            "media/planted.sh",
            "不在檢查碼清單中",
        ),
        (lambda n, d: [] if n == "media/big.bin" else [(n, d)], "media/big.bin", "缺少"),
        (lambda n, d: [] if n == "manifest.json" else [(n, d)], "manifest.json", "缺少"),
        (
            lambda n, d: [("media/../../etc/cron.d/x", d)] if n == "media/big.bin" else [(n, d)],
            "media/../../etc/cron.d/x",
            "路徑不安全",
        ),
        (
            lambda n, d: [(n, d), ("notes.txt", b"x")] if n == DB_MEMBER else [(n, d)],
            "notes.txt",
            "不屬於備份內容",
        ),
        (
            lambda n, d: [(n, b"{not json")] if n == "manifest.json" else [(n, d)],
            "manifest.json",
            "無法讀取或格式不正確",
        ),
        (
            lambda n, d: (
                [(n, json.dumps({**json.loads(d), "migrations": {"operations": 5}}).encode())]
                if n == "manifest.json"
                else [(n, d)]
            ),
            "manifest.json",
            "無法讀取或格式不正確",
        ),
    ],
    ids=[
        "planted",
        "removed",
        "no-manifest",
        "path-traversal",
        "stray",
        "bad-manifest",
        "odd-manifest",
    ],
)
def test_an_archive_whose_members_do_not_match_is_refused(
    admin, media, out, tmp_path, change, named, message
):
    path, _told = backup("--output", str(out), "--user", "admin")
    rewrite(path, change)
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError) as refused:
        restore(path, "--yes")
    assert named in str(refused.value) and message in str(refused.value)
    assert Person.objects.filter(name="後來的人").exists()
    assert not (tmp_path / "etc").exists() and leftovers(media) == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "trailing"])
def test_a_damaged_archive_file_is_refused(admin, media, out, damage):
    path, _told = backup("--output", str(out), "--user", "admin")
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 3] ^= 0x55
    elif damage == "truncate":
        del data[len(data) // 2 :]
    else:
        data += b"garbage after the end"
    path.write_bytes(bytes(data))
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match="拒絕還原，未變更任何資料"):
        restore(path, "--yes")
    assert Person.objects.filter(name="後來的人").exists()
    assert leftovers(media) == []


def test_no_archive_at_all_is_refused_without_a_record(admin, tmp_path):
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")
    with pytest.raises(CommandError, match="不是本平台的備份封存檔"):
        restore(not_archive, "--verify", "--user", "admin")
    with pytest.raises(CommandError, match="找不到封存檔"):
        restore(tmp_path / "missing.tar.gz", "--verify", "--user", "admin")
    assert not RestoreTest.objects.exists()


def test_row_counts_that_differ_from_the_manifest_fail_the_check(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")

    def more_people(manifest):
        manifest["database"]["tables"]["core_person"] += 1

    edit_manifest(path, more_people)
    with pytest.raises(CommandError, match="core_person"):
        restore(path, "--verify", "--user", "admin")
    test = RestoreTest.objects.get()
    assert test.usable and not test.complete and not test.passed
    assert test.checksum == RestoreTest.Checksum.MATCHED  # every file is what the list says
    assert "資料表 core_person" in test.note
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match="core_person"):
        restore(path, "--yes")
    assert Person.objects.filter(name="後來的人").exists()


def test_an_archive_of_another_database_vendor_is_not_restored(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    edit_manifest(path, lambda m: m["database"].update(vendor=other))
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match="不能直接還原"):
        restore(path, "--yes")
    assert Person.objects.filter(name="後來的人").exists()


def test_an_archive_from_a_newer_version_is_not_restored(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    edit_manifest(path, lambda m: m["migrations"]["operations"].append("0999_future"))
    Person.objects.create(name="後來的人")
    with pytest.raises(CommandError, match=r"operations\.0999_future"):
        restore(path, "--yes")
    assert Person.objects.filter(name="後來的人").exists()


@committed
def test_an_archive_from_an_older_version_says_to_migrate(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    edit_manifest(path, lambda m: m["migrations"].pop("operations"))
    told = restore(path, "--yes")
    assert "isms migrate" in told
    # The rewritten file is not the one recorded: the confirmation says so.
    assert "沒有檢查碼相符的備份" in told


# Verifying: the restore test (2.4.2) -----------------------------------------------------------
def test_verify_records_a_restore_test_of_the_product_plan_linked_to_its_run(
    admin, make_user, media, out
):
    tester = make_user("tester", SYSADMIN)
    with time_machine.travel(dt.datetime(2025, 3, 1, 1, 0, tzinfo=UTC), tick=False):
        path, _told = backup("--output", str(out), "--user", "admin")
    run = BackupRun.objects.get()
    Person.objects.create(name="後來的人")
    before = db_state()
    # 2025-03-01 17:00 UTC is already 2 March in Taipei.
    with time_machine.travel(dt.datetime(2025, 3, 1, 17, 0, tzinfo=UTC), tick=False):
        told = restore(path, "--verify", "--user", "tester")
        state = ObligationState.objects.get(
            key="operations.restore_test", subject_id=str(run.plan_id)
        )
        assert state.status == ObligationState.Status.OK  # the 2.4.2 duty is met at once

    test = RestoreTest.objects.get()
    assert test.plan.is_product and test.run == run
    assert test.tested_on == dt.date(2025, 3, 2)
    assert test.usable and test.complete and test.passed
    assert test.checksum == RestoreTest.Checksum.MATCHED
    assert test.tester == tester
    assert "暫存" in test.restored_to and "資料表" in test.restored_what
    assert sha256(path) in test.note and "114/03/01 09:00" in test.note
    assert f"已記錄還原測試 #{test.pk}（通過）" in told
    entry = AuditEntry.objects.get(model_label="operations.restoretest")
    assert entry.actor == tester
    # The live data is untouched: only the test, its audit entry and the duty's state.
    after = db_state()
    changed = {t for t in after if after[t] != before[t]}
    assert changed <= {"operations_restoretest", "compliance_obligationstate"} | AUDIT_TABLES


def test_verify_without_user_is_tested_by_the_plans_responsible(admin, media, out):
    path, _told = backup("--output", str(out), "--user", "admin")
    restore(path, "--verify")
    test = RestoreTest.objects.get()
    assert test.tester == admin and test.run == BackupRun.objects.get()
    entry = AuditEntry.objects.get(model_label="operations.restoretest")
    assert entry.actor is None and entry.actor_label == "isms restore"


def test_verify_of_an_archive_from_elsewhere_records_a_test_without_a_run(
    admin, media, out, monkeypatch
):
    path, _told = backup("--output", str(out), "--user", "admin")
    BackupRun.objects.all().delete()  # as if made by another installation
    restore(path, "--verify", "--user", "admin")
    test = RestoreTest.objects.get()
    assert test.passed and test.run is None


def test_verify_leaves_no_scratch_database_behind(admin, media, out, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"  # where the archive is unpacked while checked
    path, _told = backup("--output", str(out), "--user", "admin")
    restore(path, "--verify", "--user", "admin")
    assert list(settings.DATA_DIR.iterdir()) == []
    if connection.vendor == "postgresql":
        # Its own scratch database (other test processes may be verifying at this moment).
        scratch = re.search(r"isms_verify_[0-9a-f]+", RestoreTest.objects.get().restored_to)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [scratch[0]])
            assert cursor.fetchall() == []


def test_duties_see_the_restore_date_in_taipei(admin, media, out):
    """The test's date is the Taipei date, never the UTC one."""
    with time_machine.travel(dt.datetime(2025, 12, 31, 16, 0, tzinfo=UTC), tick=False):
        path, _told = backup("--output", str(out), "--user", "admin")
    with time_machine.travel(dt.datetime(2025, 12, 31, 16, 30, tzinfo=UTC), tick=False):
        restore(path, "--verify", "--user", "admin")
        assert RestoreTest.objects.get().run == BackupRun.objects.get()
        assert RestoreTest.objects.get().tested_on == timezone.localdate() == dt.date(2026, 1, 1)
