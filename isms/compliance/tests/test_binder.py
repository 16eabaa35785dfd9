"""The evidence binder: request, permissions, the ZIP's contents, claims, the worker."""

import csv
import datetime as dt
import io
import zipfile

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from isms.audit.models import AuditEntry
from isms.compliance import binder as service
from isms.compliance import engine, registry
from isms.compliance.models import Binder, ContactReview, PolicyRevision
from isms.compliance.registry import Records
from isms.core import services
from isms.core.registers import Column
from isms.core.roles import ALL_ROLES, SECURITY_OFFICER, SUPERVISOR

NOW = dt.datetime(2026, 11, 26, 4, 0, tzinfo=dt.UTC)
FIRST, LAST = dt.date(2025, 12, 1), dt.date(2026, 11, 25)
READERS = {SECURITY_OFFICER, SUPERVISOR}
OTHERS = ALL_ROLES - READERS  # the principal included: it receives the binder from them
PDF = b"%PDF-1.4\n% binder test\n"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


def built(officer, first=FIRST, last=LAST) -> Binder:
    binder, _created = service.request_binder(date_from=first, date_to=last, actor=officer)
    service.run_pending("test-worker")
    binder.refresh_from_db()
    assert binder.status == Binder.Status.READY, binder.error
    return binder


def open_zip(binder) -> zipfile.ZipFile:
    with binder.file.open("rb") as fh:
        return zipfile.ZipFile(io.BytesIO(fh.read()))


def member(zf, suffix) -> str:
    names = [n for n in zf.namelist() if n.endswith(suffix)]
    assert len(names) == 1, (suffix, zf.namelist())
    return names[0]


@pytest.mark.django_db
class TestRequest:
    @pytest.mark.parametrize(
        ("first", "last", "field"),
        [
            (dt.date(2026, 1, 1), dt.date(2026, 11, 27), "date_to"),  # tomorrow in Taipei
            (dt.date(2026, 3, 1), dt.date(2026, 2, 1), "date_from"),
            (dt.date(2020, 1, 1), dt.date(2026, 1, 1), "date_from"),  # over five years
        ],
    )
    def test_a_bad_range_is_refused_and_nothing_saved(self, client_for, first, last, field):
        client = client_for(SECURITY_OFFICER)
        response = client.post(
            reverse("compliance:binders"),
            {"date_from": first.isoformat(), "date_to": last.isoformat()},
        )
        assert response.status_code == 400
        assert response.context["form"].errors[field]
        assert Binder.objects.count() == 0

    def test_roc_dates_are_accepted(self, client_for):
        client = client_for(SECURITY_OFFICER)
        response = client.post(
            reverse("compliance:binders"), {"date_from": "114/12/01", "date_to": "115/11/25"}
        )
        binder = Binder.objects.get()
        assert response.status_code == 302 and response.url == binder.get_absolute_url()
        assert (binder.date_from, binder.date_to) == (FIRST, LAST)
        assert binder.status == "queued"

    def test_garbage_dates_get_field_errors(self, client_for):
        client = client_for(SECURITY_OFFICER)
        response = client.post(reverse("compliance:binders"), {"date_from": "abc", "date_to": ""})
        assert response.status_code == 400
        assert set(response.context["form"].errors) == {"date_from", "date_to"}
        assert Binder.objects.count() == 0

    def test_the_same_range_twice_is_queued_once(self, officer):
        a, created_a = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        b, created_b = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        assert created_a and not created_b and a == b

    def test_the_request_is_audited_with_the_requester(self, officer):
        binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        entry = AuditEntry.objects.get(model_label="compliance.binder", action="create")
        assert entry.actor == officer and entry.object_id == str(binder.pk)


@pytest.mark.django_db
class TestAccess:
    @pytest.mark.parametrize("role", sorted(READERS))
    def test_officer_and_supervisor_request_and_download(self, client_for, officer, role):
        binder = built(officer)
        client = client_for(role)
        assert client.get(reverse("compliance:binders")).status_code == 200
        assert client.get(binder.get_absolute_url()).status_code == 200
        response = client.get(reverse("compliance:binder_download", args=[binder.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert b"".join(response.streaming_content) == open_zip_bytes(binder)

    @pytest.mark.parametrize("role", sorted(OTHERS))
    def test_other_roles_are_refused(self, client_for, officer, role):
        binder = built(officer)
        client = client_for(role)
        assert client.get(reverse("compliance:binders")).status_code == 403
        assert client.post(reverse("compliance:binders"), {}).status_code == 403
        assert client.get(binder.get_absolute_url()).status_code == 403
        url = reverse("compliance:binder_download", args=[binder.pk])
        assert client.get(url).status_code == 403
        assert Binder.objects.count() == 1

    def test_anonymous_is_sent_to_sign_in(self, client, officer):
        binder = built(officer)
        response = client.get(reverse("compliance:binder_download", args=[binder.pk]))
        assert response.status_code == 302 and "login" in response.url

    def test_the_download_is_audited(self, client_for, officer):
        binder = built(officer)
        client = client_for(SUPERVISOR)
        client.get(reverse("compliance:binder_download", args=[binder.pk]))
        entry = AuditEntry.objects.filter(model_label="compliance.binder", action="export").get()
        assert entry.actor.groups.filter(name=SUPERVISOR).exists()
        assert entry.changes["sha256"][1] == binder.sha256
        assert entry.changes["range"][1] == "2025-12-01..2026-11-25"

    def test_a_binder_not_ready_cannot_be_downloaded(self, client_for, officer):
        binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        client = client_for(SECURITY_OFFICER)
        url = reverse("compliance:binder_download", args=[binder.pk])
        assert client.get(url).status_code == 404


def open_zip_bytes(binder) -> bytes:
    with binder.file.open("rb") as fh:
        return fh.read()


@pytest.mark.django_db
class TestContents:
    def test_organised_by_clause_with_csv_xlsx_and_index(self, officer):
        zf = open_zip(built(officer))
        names = zf.namelist()
        root = names[0].split("/")[0]
        assert all(n.startswith(root + "/") for n in names)
        assert f"{root}/index.html" in names
        for records in registry.records():
            folder = records.clause + " "
            csvs = [n for n in names if n.split("/")[1].startswith(folder) and n.endswith(".csv")]
            assert any(str(records.title) in n for n in csvs), (records.key, csvs)

    def test_ranged_records_hold_only_the_range(self, officer):
        inside = ContactReview.objects.create(
            reviewed_by=officer, reviewed_at=dt.datetime(2026, 3, 1, 2, tzinfo=dt.UTC), note="內"
        )
        ContactReview.objects.create(
            reviewed_by=officer, reviewed_at=dt.datetime(2025, 11, 30, 15, tzinfo=dt.UTC)
        )  # 2025-11-30 23:00 in Taipei: the day before the range
        ContactReview.objects.create(
            reviewed_by=officer, reviewed_at=dt.datetime(2025, 11, 30, 16, tzinfo=dt.UTC)
        )  # 2025-12-01 00:00 in Taipei: the range's first moment
        zf = open_zip(built(officer))
        text = zf.read(member(zf, "通報聯絡人覆核紀錄.csv")).decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert rows[0] == ["覆核時間", "覆核者", "說明"]
        assert [r[0] for r in rows[1:]] == ["114/12/01 00:00", "115/03/01 10:00"]
        assert rows[2][2] == inside.note
        book = load_workbook(io.BytesIO(zf.read(member(zf, "通報聯絡人覆核紀錄.xlsx"))))
        sheet = book.active
        assert [[c or "" for c in r] for r in sheet.iter_rows(values_only=True)] == rows

    def test_whole_registers_and_voided_records_are_marked(self, officer):
        kept = PolicyRevision.objects.create(
            version="v1", adopted_on=dt.date(2020, 5, 1), approved_on=dt.date(2020, 5, 2)
        )
        gone = PolicyRevision.objects.create(version="v0", adopted_on=dt.date(2019, 5, 1))
        services.record_void(gone, actor=officer, reason="誤植")
        zf = open_zip(built(officer))
        rows = list(
            csv.reader(io.StringIO(zf.read(member(zf, "政策版本.csv")).decode().lstrip("\ufeff")))
        )
        assert rows[0][-1] == "作廢時間"
        by_version = {r[0]: r for r in rows[1:]}
        assert by_version[kept.version][-1] == ""
        assert by_version["v0"][-1] == "115/11/26 12:00"

    def test_attachments_are_copied_and_voided_ones_left_out(self, officer):
        revision = PolicyRevision.objects.create(
            version="v2", adopted_on=dt.date(2026, 6, 1), approved_on=dt.date(2026, 6, 5)
        )
        services.attachment_add(
            target=revision, upload=SimpleUploadedFile("核定函.pdf", PDF), actor=officer
        )
        services.attachment_add(
            target=revision, upload=SimpleUploadedFile("核定函.pdf", PDF + b"2"), actor=officer
        )
        withdrawn = services.attachment_add(
            target=revision, upload=SimpleUploadedFile("舊版.pdf", PDF), actor=officer
        )
        services.record_void(withdrawn, actor=officer, reason="錯誤檔案")
        zf = open_zip(built(officer))
        files = sorted(n for n in zf.namelist() if "/附件/" in n)
        assert [n.rsplit("/", 1)[1] for n in files] == ["核定函 (2).pdf", "核定函.pdf"]
        assert {zf.read(n) for n in files} == {PDF, PDF + b"2"}
        index = zf.read(member(zf, "index.html")).decode()
        assert files[0].split("/", 1)[1] in index  # linked from the index, relative

    def test_formula_like_text_stays_text(self, officer):
        PolicyRevision.objects.create(
            version="=1+2", adopted_on=dt.date(2020, 5, 1), summary="@SUM(A1)"
        )
        zf = open_zip(built(officer))
        text = zf.read(member(zf, "政策版本.csv")).decode()
        assert "'=1+2" in text and "'@SUM(A1)" in text
        book = load_workbook(io.BytesIO(zf.read(member(zf, "政策版本.xlsx"))))
        (cell,) = [c for row in book.active.iter_rows() for c in row if c.value == "=1+2"]
        assert cell.data_type == "s"

    def test_a_lost_attachment_file_is_named_not_fatal(self, officer):
        revision = PolicyRevision.objects.create(version="v3", adopted_on=dt.date(2026, 6, 1))
        lost = services.attachment_add(
            target=revision, upload=SimpleUploadedFile("遺失.pdf", PDF), actor=officer
        )
        lost.file.storage.delete(lost.file.name)
        zf = open_zip(built(officer))
        assert not [n for n in zf.namelist() if "/附件/" in n]
        assert "遺失.pdf" in zf.read(member(zf, "index.html")).decode()

    def test_no_password_hash_ever_leaves(self, officer, make_user):
        user = make_user("lin")
        services.password_change(user, new_password="Qz8#m1vLp2w")
        zf = open_zip(built(officer, last=dt.date(2026, 11, 26)))
        for name in zf.namelist():
            data = zf.read(name)
            assert b"md5$" not in data and b"pbkdf2" not in data, name
        text = zf.read(member(zf, "通行碼變更紀錄.csv")).decode()
        assert "lin" in text

    def test_the_index_shows_each_duty_over_the_range(self, officer):
        # The policy was reviewed in 114 學年度 (approved 2025-09-01) but not in 115.
        PolicyRevision.objects.create(
            version="v1", adopted_on=dt.date(2025, 8, 20), approved_on=dt.date(2025, 9, 1)
        )
        engine.refresh(now=NOW)
        zf = open_zip(built(officer, first=dt.date(2025, 8, 1), last=dt.date(2026, 11, 25)))
        index = zf.read(member(zf, "index.html")).decode()
        assert "每學年檢視資訊安全及管理辦法" in index
        assert 'id="c-9"' in index and 'id="c-2-9-3"' in index
        # 114 學年度 kept; 115 學年度 (from 2026-08-01) still open, so not missed.
        assert "1 / 1" in index and "本期進行中（至 116/07/31）" in index
        assert "v1" in index  # the current version in the footer and header
        assert "佐證紀錄" in index

    def test_a_module_registers_its_records(self, officer):
        records = Records(
            key="test.reviews",
            clause="2.7",
            title="測試紀錄",
            queryset=lambda: ContactReview.objects.order_by("id"),
            columns=(Column("note", "說明"),),
            date_field="reviewed_at",
        )
        registry.register_records(records)
        try:
            ContactReview.objects.create(reviewed_by=officer, reviewed_at=NOW, note="模組紀錄")
            zf = open_zip(built(officer, last=dt.date(2026, 11, 26)))
            assert "模組紀錄" in zf.read(member(zf, "測試紀錄.csv")).decode()
        finally:
            registry.unregister_records("test.reviews")

    def test_records_without_a_clause_are_refused(self):
        with pytest.raises(ValueError):
            registry.register_records(
                Records(key="x", clause="", title="x", queryset=lambda: None, columns=())
            )


@pytest.mark.django_db
class TestBuilding:
    def test_one_claim_wins(self, officer):
        binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        assert service.claim_next("w1").pk == binder.pk
        assert service.claim_next("w2") is None
        binder.refresh_from_db()
        assert binder.status == "building" and binder.claimed_by == "w1"

    def test_a_silent_build_is_taken_over(self, officer):
        binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        service.claim_next("dead")
        with time_machine.travel(NOW + service.STALE_AFTER + dt.timedelta(seconds=1), tick=False):
            assert service.pending()
            taken = service.claim_next("alive")
        assert taken.pk == binder.pk and taken.claimed_by == "alive"
        # The dead worker's late steps find their claim gone and stop.
        with pytest.raises(service.Cancelled):
            service.Progress(binder, "dead", 3, lambda: False).step("x")

    def test_a_stopping_worker_puts_it_back_in_the_queue(self, officer):
        binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        claimed = service.claim_next("w1")
        assert service.build(claimed, "w1", should_stop=lambda: True) is False
        binder.refresh_from_db()
        assert binder.status == "queued" and not binder.file and binder.claimed_by == ""

    def test_a_failure_is_shown_and_audited(self, officer):
        def broken():
            raise RuntimeError("磁碟已滿")

        registry.register_records(
            Records(key="test.broken", clause="2.7", title="壞", queryset=broken, columns=())
        )
        try:
            binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
            service.run_pending("w1")
        finally:
            registry.unregister_records("test.broken")
        binder.refresh_from_db()
        assert binder.status == "failed" and "磁碟已滿" in binder.error
        entry = AuditEntry.objects.filter(model_label="compliance.binder").latest("id")
        assert entry.changes["status"] == ["building", "failed"]
        assert entry.actor_label == "worker:w1"

    def test_progress_is_shown_and_polled_while_building(self, client_for, officer):
        binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        claimed = service.claim_next("w1")
        service.Progress(claimed, "w1", 4, lambda: False).step("條文 9：政策版本")
        service.Progress(claimed, "w1", 4, lambda: False).step("條文 9：政策版本")
        client = client_for(SECURITY_OFFICER)
        partial = client.get(binder.get_absolute_url(), headers={"HX-Request": "true"})
        body = partial.content.decode()
        assert 'hx-trigger="every 2s"' in body and "條文 9：政策版本" in body
        assert "<html" not in body
        service.run_pending("w2")  # a stale-free claim by w1 blocks w2
        binder.refresh_from_db()
        assert binder.status == "building"

    def test_the_finished_page_stops_polling_and_offers_the_download(self, client_for, officer):
        binder = built(officer)
        body = client_for(SUPERVISOR).get(binder.get_absolute_url()).content.decode()
        assert "hx-trigger" not in body and binder.sha256 in body
        assert reverse("compliance:binder_download", args=[binder.pk]) in body

    def test_old_files_expire_and_the_row_stays(self, officer):
        binder = built(officer)
        path = binder.file.path
        later = NOW + dt.timedelta(days=31)
        with time_machine.travel(later, tick=False):
            assert service.expire_old() == 1
        binder.refresh_from_db()
        assert binder.status == "expired" and not binder.file
        import os

        assert not os.path.exists(path)
        entry = AuditEntry.objects.filter(model_label="compliance.binder").latest("id")
        assert entry.changes["status"] == ["ready", "expired"]

    def test_transitions_are_audited_as_the_worker(self, officer):
        built(officer)
        changes = [
            e.changes["status"]
            for e in AuditEntry.objects.filter(
                model_label="compliance.binder", action="update"
            ).order_by("id")
        ]
        assert changes == [["queued", "building"], ["building", "ready"]]


@pytest.mark.django_db
class TestWorker:
    def test_worker_once_builds_the_queued_binder(self, officer):
        binder, _ = service.request_binder(date_from=FIRST, date_to=LAST, actor=officer)
        call_command("worker", "--once", "--worker-id", "cron")
        binder.refresh_from_db()
        assert binder.status == "ready" and binder.claimed_by == "cron"


@pytest.mark.django_db(transaction=True)
def test_the_long_running_worker_builds_in_the_background(make_user):
    officer = make_user("officer", SECURITY_OFFICER)
    binder, _ = service.request_binder(date_from=FIRST, date_to=timezone.localdate(), actor=officer)
    # The build runs in a thread started by the pass; the worker waits for it on exit. (One
    # pass: the test database is SQLite in memory, where two threads writing at once get
    # "table is locked" at once instead of waiting as they do on a file in WAL mode.)
    call_command("worker", "--passes", "1", "--interval", "0", "--worker-id", "loop")
    binder.refresh_from_db()
    assert binder.status == "ready", binder.error
    assert zipfile.is_zipfile(binder.file.path)
