"""Demo assets for `isms demo`: the demo school's servers, computer classroom, notebooks,
USB sticks, a switch and a printer, with a few findings left for the office to see."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from isms.audit import trail
from isms.core.models import Person, Unit, User
from isms.identity.models import InformationSystem

from . import services
from .models import Asset, CommissioningRecord

K = Asset.Kind

# property number, kind, name, brand, model, location, unit code, custodian, purpose, details
ASSETS = [
    (
        "3140102-05-000011",
        K.SERVER,
        "校務行政主機",
        "Dell",
        "PowerEdge R450",
        "圖書館 3 樓資訊機房",
        "it",
        "張家豪",
        "校務行政系統專屬主機",
        {"systems": ["校務行政系統"], "stores_personal_data": True, "up": True},
    ),
    (
        "3140102-05-000012",
        K.SERVER,
        "網站與郵件主機",
        "HPE",
        "ProLiant DL360",
        "圖書館 3 樓資訊機房",
        "it",
        "張家豪",
        "學校網站與公務電子郵件",
        # Two systems of different purposes on one host: the register shows it (2.1).
        {"systems": ["學校網站", "公務電子郵件"], "stores_personal_data": True, "up": True},
    ),
    (
        "3140102-05-000013",
        K.SERVER,
        "網域控制站",
        "Dell",
        "PowerEdge T350",
        "圖書館 3 樓資訊機房",
        "it",
        "張家豪",
        "AD 目錄服務",
        {"systems": ["AD 目錄服務"], "stores_personal_data": True, "up": True},
    ),
    *(
        (
            f"3140101-03-0002{n:02d}",
            K.PC,
            f"電腦教室（一）學生電腦 {n:02d}",
            "Acer",
            "Veriton M4690G",
            "實習大樓 2 樓電腦教室（一）",
            "practice",
            "蘇建志",
            "資料處理科上課用",
            {"shared": True, "controls": n != 3, "up": True},
        )
        for n in range(1, 5)
    ),
    (
        "3140101-03-000301",
        K.PC,
        "教師休息室共用電腦",
        "ASUS",
        "ExpertCenter D5",
        "行政大樓 1 樓教師休息室",
        "academic",
        "劉雅婷",
        "教師查詢課表與列印講義",
        {"shared": True, "controls": True, "up": True, "stale": True},
    ),
    (
        "3140101-03-000121",
        K.PC,
        "設備組辦公電腦",
        "Lenovo",
        "ThinkCentre M70s",
        "教務處設備組",
        "equipment",
        "李美玲",
        "財產管理與公文",
        {"up": True, "stores_personal_data": True},
    ),
    (
        "3140101-04-000031",
        K.NOTEBOOK,
        "資訊組公務筆電",
        "Lenovo",
        "ThinkPad E14",
        "資訊組",
        "it",
        "陳怡君",
        "資安業務與外出研習",
        {"protection": Asset.Protection.FINGERPRINT, "up": True, "stores_personal_data": True},
    ),
    (
        "3140101-04-000032",
        K.NOTEBOOK,
        "教務處公務筆電",
        "ASUS",
        "ExpertBook B1",
        "教務處設備組",
        "equipment",
        "李美玲",
        "借用於校外研習",
        {"new": True},
    ),
    (
        "",
        K.USB,
        "成績資料隨身碟",
        "SanDisk",
        "Ultra 64GB",
        "教務處註冊組上鎖櫃",
        "academic",
        "劉雅婷",
        "學期成績交換",
        {"sensitivity": Asset.Sensitivity.CONFIDENTIAL, "media_control": Asset.MediaControl.BOTH},
    ),
    (
        "",
        K.USB,
        "輔導室活動照片隨身碟",
        "Transcend",
        "JetFlash 32GB",
        "輔導室",
        "counsel",
        "",
        "活動照片",
        # Sensitive (photos of students) and neither encrypted nor locked away: a finding.
        {"sensitivity": Asset.Sensitivity.SENSITIVE},
    ),
    (
        "3140101-07-000005",
        K.DISK,
        "異地備份外接硬碟",
        "WD",
        "My Passport 4TB",
        "總務處保險櫃",
        "it",
        "張家豪",
        "每週備份異地存放（條文 2.4.1）",
        {"sensitivity": Asset.Sensitivity.CONFIDENTIAL, "media_control": Asset.MediaControl.BOTH},
    ),
    (
        "3140102-11-000021",
        K.NETWORK,
        "核心交換器",
        "Cisco",
        "Catalyst 9300",
        "圖書館 3 樓資訊機房",
        "it",
        "張家豪",
        "校園骨幹網路",
        {"up": True},
    ),
    (
        "3140101-09-000042",
        K.PRINTER,
        "教務處多功能事務機",
        "Fuji Xerox",
        "ApeosPort C2560",
        "教務處",
        "academic",
        "",
        "公文與講義列印",
        {"up": True},
    ),
]


@transaction.atomic
def load_demo() -> None:
    if Asset.objects.exists():
        return
    now = timezone.now()
    units = {u.code: u for u in Unit.objects.all()}
    people = {p.name: p for p in Person.objects.active()}
    systems = {s.name: s for s in InformationSystem.objects.active()}
    executor = User.objects.filter(username="sysadmin").first()
    reviewer = User.objects.filter(username="supervisor").first()
    with trail.acting_as(label="system:demo"):
        for number, kind, name, brand, model, location, unit, keeper, purpose, extra in ASSETS:
            asset = Asset(
                kind=kind,
                property_number=number,
                name=name,
                brand=brand,
                model=model,
                location=location,
                unit=units.get(unit),
                custodian=people.get(keeper),
                purpose=purpose,
                stores_personal_data=extra.get("stores_personal_data", False),
                shared=extra.get("shared", False),
                protection=extra.get("protection", ""),
                sensitivity=extra.get("sensitivity", ""),
                media_control=extra.get("media_control", ""),
            )
            if asset.shared and extra.get("controls"):
                asset.downloads_restricted = asset.installs_restricted = True
                asset.data_access_restricted = True
            elif asset.shared:
                asset.downloads_restricted = asset.data_access_restricted = True
            if kind in Asset.COMPUTERS:
                days = 20 if extra.get("stale") else 1
                asset.antivirus = asset.auto_updates = asset.screen_lock = True
                asset.antivirus_updated_at = now - dt.timedelta(days=days, hours=3)
                asset.patched_at = now - dt.timedelta(days=days * 2 + 5)
                asset.software_licensed = True
                asset.licence_evidence = "教育部校園軟體授權（Microsoft 365 A3）；採購案 114-資-012"
            if extra.get("new"):
                asset.state = Asset.State.NEW
            elif not services.needs_commissioning(asset):
                asset.state = Asset.State.IN_USE
            services.save_asset(asset, actor=None)
            hosted = [systems[s] for s in extra.get("systems", ()) if s in systems]
            if hosted:
                asset.systems.set(hosted)
            if services.needs_commissioning(asset) and extra.get("up") and executor and reviewer:
                _commission(asset, executor, reviewer, now)
    services.refresh_duties()


def _commission(asset, executor, reviewer, now):
    """An A-1 commissioning record reviewed by the supervisor, then the asset in use."""
    CommissioningRecord.objects.create(
        asset=asset,
        kind=CommissioningRecord.Kind.COMMISSION,
        executor=executor,
        executed_on=timezone.localdate(now) - dt.timedelta(days=200),
        use=asset.purpose,
        model_text=f"{asset.brand} {asset.model}",
        virus_scan=True,
        default_password_changed=True,
        system_updated=True,
        reviewed_by=reviewer,
        reviewed_at=now - dt.timedelta(days=199),
        review_note="檢查項目已完成",
    )
    services.set_state(asset, Asset.State.IN_USE, actor=None)
