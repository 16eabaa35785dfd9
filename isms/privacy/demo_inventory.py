"""Demo personal-data files for `isms demo`: the inventory of a vocational high school.

Six files entered by the security officer through the service, linked to the demo
systems and equipment where they exist: one reviewed this year, one entered long ago and
never reviewed (「逾期未檢視」), one not published with its legal ground.
"""

import datetime as dt

from django.utils import timezone

from isms.assets.models import Asset
from isms.audit import trail
from isms.core.models import SchoolProfile, Unit, User
from isms.identity.models import InformationSystem

from . import inventory
from .models import CategoryCode, PersonalDataFile, PurposeCode

# The official names (法務部「個人資料保護法之特定目的及個人資料之類別」), used only when
# the code lists are not loaded yet.
PURPOSES = {
    "002": "人事管理（包含甄選、離職及所屬員工基本資訊、現職、學經歷、考試分發、終身學習訓練"
    "進修、考績獎懲、銓審、薪資待遇、差勤、福利措施、褫奪公權、特殊查核或其他人事措施）",
    "012": "公共衛生或傳染病防治",
    "109": "教育或訓練行政",
    "136": "資（通）訊與資料庫管理",
    "137": "資通安全與管理",
    "158": "學生（員）（含畢、結業生）資料管理",
}
CATEGORIES = {
    "C001": "辨識個人者",
    "C003": "政府資料中之辨識者",
    "C011": "個人描述",
    "C012": "身體描述",
    "C021": "家庭情形",
    "C023": "家庭其他成員之細節",
    "C038": "職業",
    "C051": "學校紀錄",
    "C052": "資格或技術",
    "C057": "學生（員）、應考人紀錄",
    "C061": "現行之受僱情形",
    "C072": "受訓紀錄",
    "C111": "健康紀錄",
}

# name, unit code, contact, extension, legal basis, purposes, note, categories, systems,
# assets (property number or name), paper, retention, users, internal reason, extra
FILES = [
    (
        "學籍資料",
        "academic",
        "註冊組長",
        "201",
        "高級中等教育法第 43 條；高級中等學校學生學籍管理辦法",
        ["158", "109"],
        "",
        ["C001", "C003", "C011", "C023", "C051"],
        ["校務行政系統"],
        ["3140102-05-000011"],
        True,
        "永久保存（學籍紀錄表）",
        "教務處註冊組；導師限查詢所屬班級學生",
        "",
        {"reviewed": True},
    ),
    (
        "學生成績資料",
        "academic",
        "註冊組長",
        "201",
        "高級中等學校學生成績評量準則",
        ["158", "109"],
        "",
        ["C001", "C051", "C057"],
        ["校務行政系統"],
        ["3140102-05-000011", "成績資料隨身碟"],
        False,
        "學生畢業後 5 年（歷年成績證明永久保存）",
        "教務處註冊組、任課教師（限所授課程）",
        "",
        {},
    ),
    (
        "學生健康檢查資料",
        "student",
        "健康中心護理師",
        "311",
        "學校衛生法第 8 條；學生健康檢查實施辦法",
        ["158", "012"],
        "學生健康檢查、傷病處理及健康管理。",
        ["C001", "C003", "C011", "C012", "C111"],
        [],
        [],
        True,
        "學生畢業後 10 年",
        "學生事務處健康中心護理師",
        "",
        # Entered long ago and never reviewed: overdue on the dashboard and the list.
        {"entered_days_ago": 500},
    ),
    (
        "教職員人事資料",
        "personnel",
        "人事主任",
        "501",
        "教育人員任用條例；公務人員任用法；公務人員人事資料管理規則",
        ["002"],
        "",
        ["C001", "C003", "C011", "C021", "C023", "C038", "C052", "C061", "C072"],
        [],
        [],
        True,
        "離職後 5 年（人事資料表永久保存）",
        "人事室",
        "",
        {},
    ),
    (
        "學生輔導紀錄",
        "counsel",
        "輔導主任",
        "401",
        "學生輔導法第 9 條；學生輔導資料保存及轉銜辦法",
        ["158", "109"],
        "",
        ["C001", "C011", "C021", "C023", "C111"],
        [],
        [],
        True,
        "學生畢業後 10 年（學生輔導資料保存及轉銜辦法）",
        "輔導室專任輔導教師",
        "學生輔導法第 17 條規定輔導紀錄應予保密；公開檔案項目將揭露學生接受輔導之事實，"
        "依政府資訊公開法第 18 條第 1 項第 6 款不予公開。",
        {},
    ),
    (
        "校務行政系統帳號",
        "it",
        "資訊組長",
        "601",
        "資通安全管理法第 10 條；資通安全責任等級分級辦法",
        ["136", "137"],
        "",
        ["C001"],
        ["校務行政系統", "AD 目錄服務"],
        ["3140102-05-000013"],
        False,
        "帳號停用後 1 年",
        "資訊組系統管理人員",
        "",
        {},
    ),
]


def _codes(model, wanted: list[str], names: dict) -> list:
    out = []
    for code in wanted:
        obj, _created = model.objects.get_or_create(code=code, defaults={"name": names[code]})
        out.append(obj)
    return out


def load_demo() -> None:
    officer = User.objects.filter(username="officer").first()
    if officer is None or PersonalDataFile.objects.exists():
        return
    school = SchoolProfile.load()
    units = {u.code: u for u in Unit.objects.all()}
    systems = {s.name: s for s in InformationSystem.objects.filter(voided_at__isnull=True)}
    assets = {}
    for asset in Asset.objects.filter(voided_at__isnull=True):
        assets[asset.property_number or asset.name] = asset
        assets.setdefault(asset.name, asset)
    now = timezone.now()
    for (
        name,
        unit_code,
        contact,
        extension,
        basis,
        purposes,
        note,
        categories,
        system_names,
        asset_keys,
        paper,
        retention,
        users,
        reason,
        extra,
    ) in FILES:
        unit = units.get(unit_code)
        if unit is None:
            continue
        phone = f"{school.phone}#{extension}" if school.phone else ""
        file = PersonalDataFile(
            name=name,
            unit=unit,
            contact_name=contact,
            contact_phone=phone,
            contact_email="" if phone else "privacy@kpvs.ntpc.edu.tw",
            legal_basis=basis,
            purpose_note=note,
            paper=paper,
            retention=retention,
            users=users,
            visibility=(
                PersonalDataFile.Visibility.INTERNAL
                if reason
                else PersonalDataFile.Visibility.PUBLIC
            ),
            internal_reason=reason,
        )
        file = inventory.save_file(
            file,
            actor=officer,
            purposes=_codes(PurposeCode, purposes, PURPOSES),
            categories=_codes(CategoryCode, categories, CATEGORIES),
            systems=[systems[n] for n in system_names if n in systems],
            assets=[assets[k] for k in asset_keys if k in assets],
        )
        if extra.get("entered_days_ago"):
            # A file the school had on paper before it used the product: its entry is
            # dated back, so that its yearly review is due already.
            entered = now - dt.timedelta(days=extra["entered_days_ago"])
            PersonalDataFile.objects.filter(pk=file.pk).update(created_at=entered)
            with trail.acting_as(label="system:demo"):
                trail.record(
                    trail.Action.UPDATE,
                    file,
                    changes={"created_at": [trail.jsonable(file.created_at), entered.isoformat()]},
                    message="demo",
                )
        if extra.get("reviewed"):
            inventory.review_file(
                file,
                actor=officer,
                note="四項公開內容、存放系統與設備、保存期限皆無變動。",
            )
    inventory.refresh_duty()
