"""The official code lists (7.1; PDPA art. 53): the lists shipped and loaded by migration,
the import rules (all or nothing, line numbers, update, never delete, deactivate-missing),
single-code edits, the command, the registers, the import page and the API, per role."""

import base64
import csv
import importlib
import io
import json
import re

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from isms.audit.models import AuditEntry
from isms.core import tabular
from isms.core.models import Unit
from isms.core.roles import ALL_ROLES, SECURITY_OFFICER, STAFF, SUPERVISOR
from isms.core.testing import ROLE_CASES, RegisterContract, roles_for
from isms.privacy import codes
from isms.privacy.models import CategoryCode, PersonalDataFile, PurposeCode
from isms.privacy.views_codes import CategoryRegister, PurposeRegister

pytestmark = pytest.mark.django_db

WRITERS = frozenset({SECURITY_OFFICER})
IMPORT_URL = "/privacy/codes/import/"
# The groups of the data categories and the codes each holds (the official list).
GROUP_RANGES = {
    "識別類": (1, 3),
    "特徵類": (11, 14),
    "家庭情形": (21, 24),
    "社會情況": (31, 41),
    "教育、考選、技術或其他專業": (51, 58),
    "受僱情形": (61, 73),
    "財務細節": (81, 94),
    "商業資訊": (101, 103),
    "健康與其他": (111, 121),
    "其他各類資訊": (131, 132),
}
CATEGORY_COUNT = 72


@pytest.fixture
def officer(make_user):
    return make_user("officer", SECURITY_OFFICER)


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


def names(model=PurposeCode) -> dict:
    return dict(model.objects.values_list("code", "name"))


def state(model=PurposeCode) -> list:
    return list(model.objects.order_by("code").values_list("code", "name", "is_active"))


def entries_since(first_id: int):
    return AuditEntry.objects.filter(id__gt=first_id).order_by("id")


def last_entry_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


# The lists shipped ----------------------------------------------------------------------------
class TestTheOfficialLists:
    def test_the_migration_loaded_182_purposes_in_order(self):
        assert PurposeCode.objects.count() == 182
        assert list(PurposeCode.objects.order_by("code").values_list("code", flat=True)) == [
            f"{n:03d}" for n in range(1, 183)
        ]
        assert not PurposeCode.objects.filter(is_active=False).exists()

    def test_the_migration_loaded_every_data_category(self):
        rows = codes.read_official(codes.CATEGORIES)
        assert len(rows) == CATEGORY_COUNT
        assert CategoryCode.objects.count() == CATEGORY_COUNT
        kept = set(CategoryCode.objects.values_list("code", flat=True))
        assert kept == {row["code"] for row in rows}

    def test_spot_checks_of_the_purposes(self):
        kept = names()
        assert kept["001"] == "人身保險"
        assert kept["002"].startswith("人事管理（包含甄選、離職及所屬員工基本資訊")
        assert kept["109"] == "教育或訓練行政"
        assert kept["158"] == "學生（員）（含畢、結業生）資料管理"
        assert kept["157"] == "調查、統計與研究分析"
        assert kept["181"] == "其他經營合於營業登記項目或組織章程所定之業務"
        assert kept["182"] == "其他諮詢與顧問服務"

    def test_spot_checks_of_the_categories(self):
        c001 = codes.category("C001")
        assert (c001.group, c001.name) == ("識別類", "辨識個人者")
        assert c001.description.startswith("例如：姓名、職稱、住址、工作地址、以前地址")
        assert "提供網路身分認證或申辦查詢服務之紀錄" in c001.description
        assert codes.category("C003").name == "政府資料中之辨識者"
        c051 = codes.category("C051")
        assert (c051.group, c051.name) == ("教育、考選、技術或其他專業", "學校紀錄")
        c111 = codes.category("C111")
        assert (c111.group, c111.name) == ("健康與其他", "健康紀錄")
        assert c111.description.startswith("例如：醫療報告")

    def test_each_category_sits_in_its_group(self):
        for code, group in CategoryCode.objects.values_list("code", "group"):
            low, high = GROUP_RANGES[group]
            assert low <= int(code[1:]) <= high, code
        assert codes.category_groups() == list(GROUP_RANGES)

    @pytest.mark.parametrize("kind", codes.KINDS)
    def test_the_shipped_files_pass_the_import_rules_and_match_the_database(self, kind, officer):
        rows = codes.read_official(kind)
        assert codes.row_errors(kind, rows) == []
        preview = codes.compare(kind, rows, deactivate_missing=True)
        assert not preview["has_changes"] and preview["unchanged"] == len(rows)

    def test_the_files_are_utf8_with_the_documented_header(self):
        for kind, path in codes.DATA_FILES.items():
            text = path.read_text(encoding="utf-8")
            assert next(csv.reader(io.StringIO(text))) == list(codes.COLUMNS[kind])

    def test_the_data_migration_updates_names_and_keeps_state_and_never_deletes(self):
        migration = importlib.import_module("isms.privacy.migrations.0002_codes")
        PurposeCode.objects.filter(code="109").update(name="改過的名稱", is_active=False)
        PurposeCode.objects.create(code="950", name="學校自訂")
        migration.load(django_apps, None)
        loaded = PurposeCode.objects.get(code="109")
        assert loaded.name == "教育或訓練行政" and loaded.is_active is False
        assert PurposeCode.objects.filter(code="950").exists()
        assert PurposeCode.objects.count() == 183
        assert CategoryCode.objects.count() == CATEGORY_COUNT

    def test_pickers_offer_only_codes_in_use(self):
        PurposeCode.objects.filter(code="001").update(is_active=False)
        CategoryCode.objects.filter(code="C013").update(is_active=False)
        assert "001" not in set(codes.active_purposes().values_list("code", flat=True))
        assert "C013" not in set(codes.active_categories().values_list("code", flat=True))
        assert codes.active_purposes().count() == 181


# Import rules ---------------------------------------------------------------------------------
class TestImportRules:
    def test_bad_rows_apply_nothing_and_each_is_reported_with_its_line(self, officer):
        before, first = state(), last_entry_id()
        data = csv_bytes(
            [
                "code,name",
                "109,教育或訓練行政（新）",
                ",沒有代號的名稱",
                "1090,代號太長",
                "109,重複的代號",
                "950,",
                "C01,格式不對",
                "951,正確的新代號",
            ]
        )
        with pytest.raises(ValidationError) as error:
            codes.import_file(codes.PURPOSES, data, actor=officer)
        messages = error.value.message_dict["file"]
        assert messages[0].startswith("代號清單有 5 行錯誤，未匯入任何一筆")
        assert "個人資料保護法第 53 條" in messages[0]
        assert messages[1:] == [
            "第 3 行：沒有代號。",
            "第 4 行：代號「1090」格式不符，特定目的代號須為 3 位數字，例如 109。",
            "第 5 行：代號 109 與第 2 行重複。",
            "第 6 行：沒有名稱。",
            "第 7 行：代號「C01」格式不符，特定目的代號須為 3 位數字，例如 109。",
        ]
        assert state() == before
        assert not PurposeCode.objects.filter(code="951").exists()
        assert last_entry_id() == first

    def test_category_rows_are_checked_too(self, officer):
        data = csv_bytes(
            [
                "code,group,name,description",
                "C001,識別類,辨識個人者,",
                "001,識別類,少了 C,",
                "C999,其他,,",
                "C1000,其他,太長,",
                f"C950,其他,{'長' * 201},",
            ]
        )
        with pytest.raises(ValidationError) as error:
            codes.import_file(codes.CATEGORIES, data, actor=officer)
        lines = error.value.message_dict["file"][1:]
        assert lines[0] == (
            "第 3 行：代號「001」格式不符，個人資料類別代號須為 C 加 3 位數字，例如 C001。"
        )
        assert lines[1] == "第 4 行：沒有名稱。"
        assert lines[2].startswith("第 5 行：代號「C1000」格式不符")
        assert lines[3] == "第 6 行：類別超過 200 個字。"
        assert codes.category("C001").description.startswith("例如：")

    def test_import_updates_names_adds_new_codes_and_audits_each_with_the_actor(self, officer):
        first = last_entry_id()
        data = csv_bytes(
            [
                "代號,名稱",
                "109,教育或訓練行政（修正）",
                "950,校務研究",
                "158,學生（員）（含畢、結業生）資料管理",
            ]
        )
        done = codes.import_file(codes.PURPOSES, data, actor=officer)
        assert [a["code"] for a in done["added"]] == ["950"]
        assert [c["code"] for c in done["changed"]] == ["109"]
        assert done["unchanged"] == 1
        assert codes.purpose("109").name == "教育或訓練行政（修正）"
        assert codes.purpose("950").name == "校務研究"
        assert PurposeCode.objects.count() == 183
        made = list(entries_since(first))
        assert [(e.action, e.object_repr[:3]) for e in made] == [
            ("create", "950"),
            ("update", "109"),
        ]
        assert all(e.actor_id == officer.pk for e in made)
        assert made[1].changes == {"name": ["教育或訓練行政", "教育或訓練行政（修正）"]}

    def test_import_never_deletes_and_leaves_codes_not_in_the_file_alone(self, officer):
        PurposeCode.objects.filter(code="003").update(is_active=False)
        data = csv_bytes(["code,name", "001,人身保險", "003,入出國及移民"])
        done = codes.import_file(codes.PURPOSES, data, actor=officer)
        assert not done["has_changes"]
        assert PurposeCode.objects.count() == 182
        assert PurposeCode.objects.filter(is_active=True).count() == 181
        assert codes.purpose("003").is_active is False

    def test_deactivate_missing_makes_the_file_the_list_in_force(self, officer):
        PurposeCode.objects.filter(code="003").update(is_active=False)
        first = last_entry_id()
        lines = ["code,name"] + [f"{n:03d},{codes.purpose(f'{n:03d}').name}" for n in (1, 2, 3)]
        done = codes.import_file(
            codes.PURPOSES, csv_bytes(lines), actor=officer, deactivate_missing=True
        )
        assert [r["code"] for r in done["reactivated"]] == ["003"]
        assert len(done["deactivated"]) == 179
        assert set(codes.active_purposes().values_list("code", flat=True)) == {"001", "002", "003"}
        assert PurposeCode.objects.count() == 182
        made = list(entries_since(first))
        assert len(made) == 180 and all(e.actor_id == officer.pk for e in made)
        by_code = {e.object_repr[:3]: e.changes for e in made}
        assert by_code["003"] == {"is_active": [False, True]}
        assert by_code["109"] == {"is_active": [True, False]}

    def test_a_file_keeps_a_code_marked_not_in_use(self, officer):
        unit = Unit.objects.create(name="教務處", code="acad")
        record = PersonalDataFile.objects.create(
            name="學籍資料",
            unit=unit,
            legal_basis="高級中等教育法",
            retention="永久",
            users="註冊組",
        )
        record.purposes.add(codes.purpose("158"))
        codes.import_file(
            codes.PURPOSES,
            csv_bytes(["code,name", "109,教育或訓練行政"]),
            actor=officer,
            deactivate_missing=True,
        )
        assert codes.purpose("158").is_active is False
        assert list(record.purposes.values_list("code", flat=True)) == ["158"]

    def test_only_the_security_officer_imports(self, make_user):
        staff = make_user("teacher", STAFF)
        with pytest.raises(PermissionDenied):
            codes.import_file(codes.PURPOSES, csv_bytes(["code,name", "950,新"]), actor=staff)
        retired = make_user("retired", SECURITY_OFFICER, is_active=False)
        with pytest.raises(PermissionDenied):
            codes.import_file(codes.PURPOSES, csv_bytes(["code,name", "950,新"]), actor=retired)
        assert not PurposeCode.objects.filter(code="950").exists()

    def test_a_preview_changed_meanwhile_is_refused_as_stale(self, officer):
        data = csv_bytes(["code,name", "109,教育行政"])
        rows, _enc = codes.read_list(data, codes.PURPOSES)
        seen = codes.compare(codes.PURPOSES, rows)["digest"]
        PurposeCode.objects.filter(code="109").update(name="別人改過")
        with pytest.raises(codes.Stale):
            codes.import_file(codes.PURPOSES, data, actor=officer, digest_seen=seen)
        assert codes.purpose("109").name == "別人改過"

    def test_codes_are_read_in_the_forms_people_write_them(self, officer):
        data = csv_bytes(["code,name", "一○九,教育或訓練行政", " 9 ,中央銀行監理業務", "９５０,新"])
        done = codes.import_file(codes.PURPOSES, data, actor=officer)
        assert [a["code"] for a in done["added"]] == ["950"]
        cats = csv_bytes(["code,group,name,description", "ｃ○○一,識別類,辨識個人者,說明"])
        done = codes.import_file(codes.CATEGORIES, cats, actor=officer)
        assert [c["code"] for c in done["changed"]] == ["C001"]
        assert codes.category("C001").description == "說明"

    def test_big5_csv_and_xlsx_are_read(self, officer):
        big5 = csv_bytes(["代號,名稱", "950,校務研究"], encoding="cp950")
        rows, encoding = codes.read_list(big5, codes.PURPOSES)
        assert encoding == "cp950" and rows[0]["name"] == "校務研究"
        book = xlsx_bytes([["code", "name"], [951, "校外教學"], [1, "人身保險"]])
        done = codes.import_file(codes.PURPOSES, book, actor=officer, file_kind="xlsx")
        assert [a["code"] for a in done["added"]] == ["951"] and done["unchanged"] == 1

    def test_a_file_without_code_and_name_columns_is_refused(self, officer):
        with pytest.raises(tabular.FileError, match=r"code.*name"):
            codes.import_file(codes.PURPOSES, csv_bytes(["甲,乙", "1,2"]), actor=officer)

    def test_a_list_without_codes_is_refused_and_retires_nothing(self, officer):
        with pytest.raises(tabular.FileError, match="代號清單沒有任何代號"):
            codes.import_file(
                codes.PURPOSES,
                csv_bytes(["code,name", ","]),
                actor=officer,
                deactivate_missing=True,
            )
        assert codes.active_purposes().count() == 182

    def test_export_keeps_formulas_as_text_and_reads_back_the_same(self, officer):
        codes.save_code(PurposeCode(code="950", name="=HYPERLINK(1)"), actor=officer)
        text = codes.export_csv(codes.PURPOSES)
        assert "950,'=HYPERLINK(1)" in text
        done = codes.import_file(codes.PURPOSES, text.encode(), actor=officer)
        assert not done["has_changes"] and done["unchanged"] == 183


# One code at a time ---------------------------------------------------------------------------
class TestSaveCode:
    def test_a_new_code_is_checked_and_audited(self, officer):
        with pytest.raises(ValidationError) as error:
            codes.save_code(PurposeCode(code="12a", name=""), actor=officer)
        assert error.value.message_dict == {
            "code": ["特定目的代號為 3 位數字，例如 109（個人資料保護法第 53 條）。"],
            "name": ["請填寫名稱。"],
        }
        with pytest.raises(ValidationError) as error:
            codes.save_code(PurposeCode(code="109", name="重複"), actor=officer)
        assert error.value.message_dict["code"] == ["代號 109 已經存在；請修改原有的代號。"]
        first = last_entry_id()
        saved = codes.save_code(CategoryCode(code=" c950 ", name=" 生物特徵 "), actor=officer)
        assert (saved.code, saved.name) == ("C950", "生物特徵")
        entry = entries_since(first).get()
        assert entry.action == "create" and entry.actor_id == officer.pk

    def test_a_code_is_never_changed_once_saved(self, officer):
        obj = codes.purpose("109")
        obj.code = "950"
        with pytest.raises(ValidationError) as error:
            codes.save_code(obj, actor=officer)
        assert "代號不能修改" in error.value.message_dict["code"][0]
        assert codes.purpose("109")

    def test_only_the_security_officer_saves(self, make_user):
        with pytest.raises(PermissionDenied):
            codes.save_code(PurposeCode(code="950", name="新"), actor=make_user("x", SUPERVISOR))
        assert not PurposeCode.objects.filter(code="950").exists()


# The command ----------------------------------------------------------------------------------
class TestCommand:
    def run(self, *args):
        out = io.StringIO()
        call_command("privacy_codes", *args, stdout=out)
        return out.getvalue()

    def test_import_names_the_actor_in_the_audit_trail(self, officer, tmp_path):
        path = tmp_path / "purposes.csv"
        path.write_bytes(csv_bytes(["code,name", "109,教育或訓練行政（修正）", "950,校務研究"]))
        first = last_entry_id()
        out = self.run("import", str(path), "--kind", "purposes", "--actor", "officer")
        assert "新增 1 筆、更新 1 筆" in out
        made = list(entries_since(first))
        assert len(made) == 2 and all(e.actor_id == officer.pk for e in made)
        assert all(e.actor_label == "officer" for e in made)

    def test_bad_rows_stop_the_command_with_their_lines(self, officer, tmp_path):
        path = tmp_path / "categories.csv"
        path.write_bytes(csv_bytes(["code,group,name", "C001,識別類,新名稱", "X1,其他,錯"]))
        with pytest.raises(CommandError) as error:
            self.run("import", str(path), "--kind", "categories", "--actor", "officer")
        assert "第 3 行：代號「X1」格式不符" in str(error.value)
        assert codes.category("C001").name == "辨識個人者"

    def test_deactivate_missing(self, officer, tmp_path):
        path = tmp_path / "p.csv"
        path.write_bytes(csv_bytes(["code,name", "109,教育或訓練行政"]))
        self.run(
            "import", str(path), "--kind", "purposes", "--actor", "officer", "--deactivate-missing"
        )
        assert list(codes.active_purposes().values_list("code", flat=True)) == ["109"]

    def test_the_actor_must_be_an_active_security_officer(self, make_user, tmp_path):
        path = tmp_path / "p.csv"
        path.write_bytes(csv_bytes(["code,name", "950,新"]))
        make_user("gone", SECURITY_OFFICER, is_active=False)
        make_user("teacher", STAFF)
        for actor, message in (
            ("nobody", "找不到帳號 nobody"),
            ("gone", "帳號 gone 已停用"),
            ("teacher", "teacher 不是資安業務承辦人"),
        ):
            with pytest.raises(CommandError, match=message):
                self.run("import", str(path), "--kind", "purposes", "--actor", actor)
        assert not PurposeCode.objects.filter(code="950").exists()

    def test_export_prints_the_list_in_the_import_format(self, officer, tmp_path):
        out = self.run("export", "--kind", "categories")
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["code", "group", "name", "description"]
        assert len(rows) == CATEGORY_COUNT + 1
        assert rows[1][:3] == ["C001", "識別類", "辨識個人者"]
        path = tmp_path / "back.csv"
        path.write_text(out, encoding="utf-8")
        out = self.run("import", str(path), "--kind", "categories", "--actor", "officer")
        assert "新增 0 筆、更新 0 筆" in out


# Registers ------------------------------------------------------------------------------------
class TestPurposeRegister(RegisterContract):
    register = PurposeRegister
    api_prefix = "personal-data-purposes"
    readers = ALL_ROLES
    writers = WRITERS

    def make_sample(self, **overrides):
        self._n = getattr(self, "_n", 199) + 1
        values = {"code": f"{self._n:03d}", "name": f"測試目的{self._n}", **overrides}
        return PurposeCode.objects.create(**values)

    def form_data(self):
        return {"code": "950", "name": "校務研究", "is_active": "on"}

    def change_data(self, obj):
        return {"code": obj.code, "name": f"{obj.name}（修正）", "is_active": "on"}


class TestCategoryRegister(RegisterContract):
    register = CategoryRegister
    api_prefix = "personal-data-categories"
    readers = ALL_ROLES
    writers = WRITERS

    def make_sample(self, **overrides):
        self._n = getattr(self, "_n", 199) + 1
        values = {"code": f"C{self._n}", "name": f"測試類別{self._n}", "group": "測試"}
        return CategoryCode.objects.create(**{**values, **overrides})

    def form_data(self):
        return {"code": "C950", "group": "特徵類", "name": "生物特徵", "is_active": "on"}

    def change_data(self, obj):
        return {"code": obj.code, "group": obj.group, "name": "新名稱", "description": "例如"}


class TestRegisterPages:
    def test_the_code_cannot_be_edited_and_a_code_is_marked_not_in_use(self, client_for):
        c = client_for(SECURITY_OFFICER)
        obj = codes.purpose("109")
        url = reverse("privacy:purposecode_edit", args=[obj.pk])
        response = c.post(url, {"code": "950", "name": "教育或訓練行政"})
        assert response.status_code == 302
        obj.refresh_from_db()
        assert obj.code == "109" and obj.is_active is False
        page = c.get(obj.get_absolute_url()).content.decode()
        assert "此代號目前不使用" in page

    def test_the_detail_counts_the_files_that_chose_the_code(self, client_for):
        unit = Unit.objects.create(name="學務處", code="stu")
        record = PersonalDataFile.objects.create(
            name="學生輔導資料",
            unit=unit,
            legal_basis="學生輔導法",
            retention="5 年",
            users="輔導室",
        )
        record.categories.add(codes.category("C111"))
        page = client_for(STAFF).get(codes.category("C111").get_absolute_url()).content.decode()
        assert "選用此代號的個人資料檔案：1 筆。" in page

    def test_a_bad_add_is_refused_with_the_rule(self, client_for):
        c = client_for(SECURITY_OFFICER)
        response = c.post(reverse("privacy:purposecode_add"), {"code": "109", "name": "重複"})
        assert response.status_code == 400
        assert "代號 109 已經存在" in response.content.decode()
        response = c.post(reverse("privacy:categorycode_add"), {"code": "X12", "name": "錯"})
        assert response.status_code == 400
        assert "C 加 3 位數字" in response.content.decode()

    def test_the_lists_search_and_filter(self, client_for):
        c = client_for(STAFF)
        page = c.get(reverse("privacy:purposecode_list"), {"q": "教育或訓練"}).content.decode()
        assert "教育或訓練行政" in page and "人身保險" not in page
        PurposeCode.objects.filter(code="001").update(is_active=False)
        page = c.get(reverse("privacy:purposecode_list"), {"is_active": "false"}).content.decode()
        assert "共 1 筆" in page and "人身保險" in page
        page = c.get(reverse("privacy:categorycode_list"), {"group": "識別類"}).content.decode()
        assert "共 3 筆" in page and "辨識個人者" in page

    def test_the_menu_offers_both_lists_to_every_role_and_the_import_to_the_officer(
        self, client_for
    ):
        staff_page = client_for(STAFF).get(reverse("privacy:purposecode_list")).content.decode()
        assert "特定目的代號" in staff_page and "個人資料類別代號" in staff_page
        assert IMPORT_URL not in staff_page
        officer_page = client_for(SECURITY_OFFICER).get(reverse("privacy:purposecode_list"))
        assert IMPORT_URL in officer_page.content.decode()

    def test_the_api_is_read_only_and_filters(self, client_for):
        c = RegisterContract().api_client(client_for, SECURITY_OFFICER)
        response = c.get("/api/personal-data-categories/", {"group": "識別類"})
        assert response.status_code == 200
        body = response.json()
        assert [r["code"] for r in body["results"]] == ["C001", "C002", "C003"]
        assert set(body["results"][0]) == {
            "id",
            "code",
            "group",
            "name",
            "description",
            "is_active",
        }
        body = json.dumps({"code": "950", "name": "新"})
        for method in (c.post, c.put, c.patch):
            url = (
                "/api/personal-data-purposes/"
                if method is c.post
                else (f"/api/personal-data-purposes/{codes.purpose('109').pk}/")
            )
            assert method(url, body, content_type="application/json").status_code == 405
        assert not PurposeCode.objects.filter(code="950").exists()


# The import page ------------------------------------------------------------------------------
def upload(c, data, *, kind="purposes", name="list.csv", deactivate=False):
    form = {"kind": kind, "file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if deactivate:
        form["deactivate_missing"] = "on"
    return c.post(IMPORT_URL, form)


def apply_form(response) -> dict:
    html = response.content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    fields.pop("csrfmiddlewaretoken", None)
    return fields


class TestImportPage:
    @pytest.mark.parametrize("role", ROLE_CASES)
    def test_only_the_officer_opens_it(self, role, client_for):
        response = client_for(*roles_for(role)).get(IMPORT_URL)
        assert response.status_code == (200 if role == SECURITY_OFFICER else 403)
        data = csv_bytes(["code,name", "950,新"])
        response = upload(client_for(*roles_for(role)), data)
        assert response.status_code == (200 if role == SECURITY_OFFICER else 403)
        assert not PurposeCode.objects.filter(code="950").exists()

    def test_anonymous_people_are_sent_to_sign_in(self, client):
        response = client.get(IMPORT_URL)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    def test_preview_then_apply(self, client_for):
        c = client_for(SECURITY_OFFICER)
        response = upload(c, csv_bytes(["code,name", "109,教育或訓練行政（修正）", "950,校務研究"]))
        assert response.status_code == 200
        page = response.content.decode()
        assert "新增 1 筆" in page and "更新 1 筆" in page and "教育或訓練行政（修正）" in page
        assert codes.purpose("109").name == "教育或訓練行政"
        first = last_entry_id()
        response = c.post(IMPORT_URL, apply_form(response))
        assert response.status_code == 302
        assert response["Location"] == reverse("privacy:purposecode_list")
        assert codes.purpose("109").name == "教育或訓練行政（修正）"
        assert codes.purpose("950").name == "校務研究"
        assert {e.actor_id for e in entries_since(first)} == {c.user.pk}

    def test_bad_rows_show_their_lines_and_offer_no_apply(self, client_for):
        c = client_for(SECURITY_OFFICER)
        before = state(CategoryCode)
        data = csv_bytes(["code,group,name,description", "C001,識別類,新名稱,", "C1,識別類,,"])
        response = upload(c, data, kind="categories")
        assert response.status_code == 400
        page = response.content.decode()
        assert "整份清單都不會匯入" in page
        assert "第 3 行：代號「C1」格式不符" in page and "沒有名稱" in page
        assert 'name="data"' not in page
        assert state(CategoryCode) == before

    def test_a_forged_apply_of_a_bad_file_applies_nothing(self, client_for):
        c = client_for(SECURITY_OFFICER)
        data = csv_bytes(["code,name", "109,新名稱", "1,"])
        response = c.post(
            IMPORT_URL,
            {
                "data": base64.b64encode(data).decode(),
                "kind": "purposes",
                "file_kind": "csv",
                "encoding": "utf-8-sig",
                "deactivate_missing": "0",
                "digest": "x",
            },
        )
        assert response.status_code == 400
        assert "第 3 行：沒有名稱。" in response.content.decode()
        assert codes.purpose("109").name == "教育或訓練行政"

    def test_a_stale_preview_is_shown_again(self, client_for):
        c = client_for(SECURITY_OFFICER)
        response = upload(c, csv_bytes(["code,name", "109,新名稱"]), deactivate=True)
        assert "改為不使用 181 筆" in response.content.decode()
        PurposeCode.objects.create(code="950", name="別人剛新增")
        response = c.post(IMPORT_URL, apply_form(response))
        assert response.status_code == 400
        assert "已重新比對" in response.content.decode()
        assert "改為不使用 182 筆" in response.content.decode()
        assert codes.active_purposes().count() == 183

    def test_an_unreadable_upload_is_refused(self, client_for):
        c = client_for(SECURITY_OFFICER)
        response = upload(c, b"\x00\x01binary", name="list.exe")
        assert response.status_code == 400
        assert "只接受 CSV 或 XLSX" in response.content.decode()
        response = c.post(IMPORT_URL, {"data": "not base64!", "kind": "purposes"})
        assert response.status_code == 400
        assert "請重新上傳代號清單" in response.content.decode()
