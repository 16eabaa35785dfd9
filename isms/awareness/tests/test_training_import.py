"""The sign-in sheet import (簽到表, 5.2): matched row by row, all or nothing."""

import base64
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from isms.awareness import training
from isms.awareness.models import Attendance, TrainingSession
from isms.core.models import Person, Unit
from isms.core.roles import SECURITY_OFFICER, SUPERVISOR

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 28, 6, 5, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


@pytest.fixture
def school():
    it = Unit.objects.create(name="資訊組", code="it")
    arts = Unit.objects.create(name="教務處", code="arts")
    people = {
        "wang": Person.objects.create(name="王小明", unit=it, email="wang@school.tw"),
        "lin": Person.objects.create(name="林美華", unit=arts),
        "chen_it": Person.objects.create(name="陳志明", unit=it),
        "chen_arts": Person.objects.create(name="陳志明", unit=arts),
        "lee1": Person.objects.create(name="李大同", unit=it),
        "lee2": Person.objects.create(name="李大同", unit=it),
    }
    return people


@pytest.fixture
def sess():
    return TrainingSession.objects.create(
        title="資安通識", held_on=dt.date(2026, 11, 20), hours=Decimal("2"), kind="awareness"
    )


def csv_bytes(lines, encoding="utf-8-sig") -> bytes:
    return "\r\n".join(lines).encode(encoding)


def xlsx_bytes(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def preview_of(sess, data, kind="csv"):
    rows, encoding = training.read_sheet(data, kind)
    return training.match_sheet(sess, rows), encoding


GOOD = ["姓名,單位,電子郵件", "王小明,,", "林美華,教務處,", "陳志明,資訊組,"]


class TestMatching:
    def test_good_file_is_applied(self, officer, school, sess):
        data = csv_bytes(GOOD)
        preview, encoding = preview_of(sess, data)
        assert preview["bad"] == [] and preview["ready"] == 3
        rows = training.apply_sheet(
            sess,
            data=data,
            kind="csv",
            encoding=encoding,
            digest_seen=preview["digest"],
            actor=officer,
        )
        assert len(rows) == 3
        ids = set(Attendance.objects.values_list("person_id", flat=True))
        assert ids == {school["wang"].pk, school["lin"].pk, school["chen_it"].pk}
        assert all(a.hours == Decimal("2") for a in Attendance.objects.all())

    def test_unknown_and_ambiguous_rows_are_reported_and_nothing_applied(
        self, officer, school, sess
    ):
        data = csv_bytes(
            ["姓名,單位", "王小明,", "不存在,", "陳志明,", "李大同,資訊組", ",資訊組", "王小明,"]
        )
        preview, encoding = preview_of(sess, data)
        reasons = {e["line"]: e["reason"] for e in preview["rows"]}
        assert reasons == {
            2: "",
            3: "unknown",
            4: "ambiguous",
            5: "ambiguous",
            6: "no_name",
            7: "twice",
        }
        assert preview["bad"] == [3, 4, 5, 6, 7]
        with pytest.raises(ValidationError) as error:
            training.apply_sheet(
                sess,
                data=data,
                kind="csv",
                encoding=encoding,
                digest_seen=preview["digest"],
                skip=[3, 4, 5],
                actor=officer,
            )
        assert "6、7" in error.value.message_dict["skip"][0]
        assert not Attendance.objects.exists()
        training.apply_sheet(
            sess,
            data=data,
            kind="csv",
            encoding=encoding,
            digest_seen=preview["digest"],
            skip=[3, 4, 5, 6, 7],
            actor=officer,
        )
        assert list(Attendance.objects.values_list("person_id", flat=True)) == [school["wang"].pk]

    def test_email_tells_namesakes_apart_and_a_wrong_one_is_reported(self, school, sess):
        school["chen_arts"].email = "chen@school.tw"
        school["chen_arts"].save()
        data = csv_bytes(["姓名,電子郵件", "陳志明,chen@school.tw", "王小明,other@school.tw"])
        preview, _enc = preview_of(sess, data)
        first, second = preview["rows"]
        assert first["person"]["id"] == school["chen_arts"].pk and not first["reason"]
        assert second["reason"] == "email_mismatch"

    def test_big5_csv(self, officer, school, sess):
        data = csv_bytes(GOOD, encoding="cp950")
        preview, encoding = preview_of(sess, data)
        assert encoding == "cp950" and preview["ready"] == 3
        training.apply_sheet(
            sess,
            data=data,
            kind="csv",
            encoding=encoding,
            digest_seen=preview["digest"],
            actor=officer,
        )
        assert Attendance.objects.count() == 3

    def test_xlsx(self, officer, school, sess):
        data = xlsx_bytes(
            [["簽到表"], ["姓名", "單位"], ["林美華", "教務處"], ["陳志明", "教務處"]]
        )
        preview, _encoding = preview_of(sess, data, "xlsx")
        assert preview["ready"] == 2
        training.apply_sheet(
            sess,
            data=data,
            kind="xlsx",
            encoding="",
            digest_seen=preview["digest"],
            actor=officer,
        )
        ids = set(Attendance.objects.values_list("person_id", flat=True))
        assert ids == {school["lin"].pk, school["chen_arts"].pk}

    def test_a_changed_preview_is_stale(self, officer, school, sess):
        data = csv_bytes(GOOD)
        preview, encoding = preview_of(sess, data)
        Attendance.objects.create(session=sess, person=school["wang"], hours=1)
        with pytest.raises(training.Stale):
            training.apply_sheet(
                sess,
                data=data,
                kind="csv",
                encoding=encoding,
                digest_seen=preview["digest"],
                actor=officer,
            )
        assert Attendance.objects.count() == 1

    def test_no_name_column_is_a_file_error(self, sess):
        with pytest.raises(training.tabular.FileError):
            training.read_sheet(csv_bytes(["單位,電子郵件", "資訊組,a@b.tw"]), "csv")


class TestPages:
    def test_upload_preview_and_apply(self, client_for, school, sess):
        c = client_for(SECURITY_OFFICER)
        url = reverse("awareness:trainingsession_sheet", args=[sess.pk])
        upload = io.BytesIO(csv_bytes(["姓名", "王小明", "不存在"]))
        upload.name = "簽到表.csv"
        page = c.post(url, {"file": upload})
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-reason="unknown"' in html and not Attendance.objects.exists()
        ctx = page.context
        form = {
            "sheet": ctx["sheet"],
            "kind": ctx["kind"],
            "encoding": ctx["encoding"],
            "digest": ctx["preview"]["digest"],
        }
        refused = c.post(url, form)
        assert refused.status_code == 400 and not Attendance.objects.exists()
        assert c.post(url, {**form, "skip": ["3"]}).status_code == 302
        assert Attendance.objects.get().person_id == school["wang"].pk

    def test_a_tampered_sheet_is_refused(self, client_for, sess):
        c = client_for(SECURITY_OFFICER)
        url = reverse("awareness:trainingsession_sheet", args=[sess.pk])
        response = c.post(url, {"sheet": "%%%", "kind": "csv", "digest": "x"})
        assert response.status_code == 400
        other = base64.b64encode(csv_bytes(GOOD)).decode()
        assert c.post(url, {"sheet": other, "kind": "csv", "digest": "x"}).status_code == 400
        assert not Attendance.objects.exists()

    def test_not_a_sheet(self, client_for, sess):
        c = client_for(SECURITY_OFFICER)
        url = reverse("awareness:trainingsession_sheet", args=[sess.pk])
        upload = io.BytesIO(b"\x00\x01binary")
        upload.name = "x.exe"
        assert c.post(url, {"file": upload}).status_code == 400

    def test_readers_cannot_import(self, client_for, sess):
        url = reverse("awareness:trainingsession_sheet", args=[sess.pk])
        upload = io.BytesIO(csv_bytes(GOOD))
        upload.name = "a.csv"
        assert client_for(SUPERVISOR).post(url, {"file": upload}).status_code == 403
