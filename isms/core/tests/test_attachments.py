"""Evidence attachments: size and type checks, stored outside static, served after a check."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from isms.audit.models import AuditEntry
from isms.core.models import Attachment, Person
from isms.core.roles import PERSONNEL, STAFF, SUPERVISOR

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def upload(client, person, name, content, **extra):
    return client.post(
        f"/core/attachments/add/core.person/{person.pk}/",
        {"file": SimpleUploadedFile(name, content), "description": "簽核掃描", **extra},
    )


@pytest.mark.django_db
class TestAttachments:
    def test_a_keeper_attaches_a_pdf_and_it_is_audited(self, client_for):
        c = client_for(PERSONNEL)
        person = Person.objects.create(name="王小明")
        response = upload(c, person, "切結書.pdf", PDF)
        assert response.status_code == 302
        attachment = Attachment.objects.get()
        assert attachment.original_name == "切結書.pdf" and attachment.size == len(PDF)
        assert not str(attachment.file.path).startswith(str(settings.STATIC_ROOT))
        assert attachment.original_name not in attachment.file.name  # random name on disk
        assert AuditEntry.objects.filter(model_label="core.attachment", action="create").exists()

    @pytest.mark.parametrize(
        "name,content,message",
        [
            ("virus.exe", b"MZ\x90\x00", "不接受此檔案類型"),
            ("fake.pdf", b"MZ\x90\x00 not a pdf", "檔案內容與副檔名"),
            ("image.png", PDF, "檔案內容與副檔名"),
            ("noext", PDF, "不接受此檔案類型"),
            ("empty.pdf", b"", "沒有任何檔案被提交"),
            ("binary.txt", b"abc\x00def", "文字檔內容不正確"),
        ],
    )
    def test_forbidden_types_are_refused_with_a_message(self, client_for, name, content, message):
        c = client_for(PERSONNEL)
        person = Person.objects.create(name="王小明")
        response = upload(c, person, name, content)
        assert response.status_code == 303
        assert not Attachment.objects.exists()
        page = c.get(person.get_absolute_url()).content.decode()
        assert message in page

    def test_files_over_the_limit_are_refused(self, client_for, settings):
        settings.ISMS_ATTACHMENT_MAX_BYTES = 1024 * 1024
        c = client_for(PERSONNEL)
        person = Person.objects.create(name="王小明")
        response = upload(c, person, "big.pdf", PDF + b"0" * (1024 * 1024))
        assert response.status_code == 303
        assert not Attachment.objects.exists()
        assert "超過上限" in c.get(person.get_absolute_url()).content.decode()

    def test_download_needs_the_right_to_see_the_record(self, client_for):
        keeper = client_for(PERSONNEL)
        person = Person.objects.create(name="王小明")
        upload(keeper, person, "scan.png", PNG)
        attachment = Attachment.objects.get()
        response = keeper.get(f"/core/attachments/{attachment.pk}/")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PNG
        assert AuditEntry.objects.filter(action="download").count() == 1
        assert client_for(SUPERVISOR).get(f"/core/attachments/{attachment.pk}/").status_code == 200
        # A teacher sees only their own person record, so not this file.
        assert client_for(STAFF).get(f"/core/attachments/{attachment.pk}/").status_code == 404
        assert client_for().get(f"/core/attachments/{attachment.pk}/").status_code == 404

    def test_only_writers_attach_and_void(self, client_for):
        person = Person.objects.create(name="王小明")
        reader = client_for(SUPERVISOR)
        assert upload(reader, person, "scan.png", PNG).status_code == 403
        keeper = client_for(PERSONNEL)
        upload(keeper, person, "scan.png", PNG)
        attachment = Attachment.objects.get()
        url = f"/core/attachments/{attachment.pk}/void/"
        assert reader.post(url, {"reason": "錯誤"}).status_code == 403
        keeper.post(url, {"reason": ""})
        attachment.refresh_from_db()
        assert attachment.voided_at is None
        keeper.post(url, {"reason": "上傳錯誤檔案"})
        attachment.refresh_from_db()
        assert attachment.voided_at is not None and attachment.void_reason == "上傳錯誤檔案"

    def test_attaching_to_an_unknown_record_type_is_404(self, client_for):
        c = client_for(PERSONNEL)
        response = c.post(
            "/core/attachments/add/core.nothing/1/", {"file": SimpleUploadedFile("a.pdf", PDF)}
        )
        assert response.status_code == 404
