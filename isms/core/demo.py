"""A plausible school for trying the product: 穀保家商 with people in every role.

``load()`` is idempotent: records are looked up by their natural keys and only created
when missing, so a second run changes nothing (and writes nothing to the audit trail).
"""

import datetime as dt

from django.db import transaction

from isms.audit import trail

from . import services
from .models import ContactEntry, Person, SchoolProfile, Unit, User
from .roles import (
    EQUIPMENT_HEAD,
    GUARD,
    PERSONNEL,
    PRINCIPAL,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    SYSADMIN,
)

DEMO_PASSWORD = "Kp-demo-2026x"

SCHOOL = {
    "name": "新北市穀保高級家事商業職業學校",
    "short_name": "穀保家商",
    "english_name": "Ku Bao Home Economics and Commercial Vocational High School",
    "address": "新北市三重區中正北路 520 號",
    "phone": "02-2971-5606",
    "oid": "2.16.886.111.900026.100107.0~4",
    "platform_url": "https://info.cert.tanet.edu.tw/",
}

UNITS = [
    ("principal", "校長室", None),
    ("academic", "教務處", None),
    ("student", "學生事務處", None),
    ("general", "總務處", None),
    ("practice", "實習處", None),
    ("counsel", "輔導室", None),
    ("library", "圖書館", None),
    ("it", "資訊組", "library"),
    ("equipment", "設備組", "academic"),
    ("personnel", "人事室", None),
    ("accounting", "會計室", None),
    ("guard", "守衛室", "general"),
]

# username, name, english name, unit, title, roles, birthday, extension
PEOPLE = [
    (
        "principal",
        "林志明",
        "Lin Chih-ming",
        "principal",
        "校長",
        [PRINCIPAL, STAFF],
        "1968-03-12",
        "100",
    ),
    (
        "officer",
        "陳怡君",
        "Chen Yi-chun",
        "it",
        "資訊組長（資安業務承辦人）",
        [SECURITY_OFFICER, STAFF],
        "1982-07-21",
        "601",
    ),
    (
        "supervisor",
        "黃建華",
        "Huang Chien-hua",
        "library",
        "圖書館主任（資安業務主管）",
        [SUPERVISOR, STAFF],
        "1975-11-02",
        "600",
    ),
    (
        "sysadmin",
        "張家豪",
        "Chang Chia-hao",
        "it",
        "系統管理師",
        [SYSADMIN, STAFF],
        "1988-01-30",
        "602",
    ),
    (
        "equipment",
        "李美玲",
        "Li Mei-ling",
        "equipment",
        "設備組長",
        [EQUIPMENT_HEAD, STAFF],
        "1979-05-17",
        "210",
    ),
    (
        "personnel",
        "王淑芬",
        "Wang Shu-fen",
        "personnel",
        "人事主任",
        [PERSONNEL, STAFF],
        "1972-09-08",
        "800",
    ),
    ("guard", "吳俊傑", "Wu Chun-chieh", "guard", "警衛", [GUARD], "1965-12-25", "999"),
    ("teacher", "劉雅婷", "Liu Ya-ting", "academic", "國文科教師", [STAFF], "1990-04-04", "301"),
]

MORE_STAFF = [
    ("蔡宗翰", "academic", "數學科教師"),
    ("鄭佩珊", "academic", "英文科教師"),
    ("謝明哲", "student", "生活輔導組長"),
    ("許雅雯", "student", "訓育組長"),
    ("洪志偉", "general", "事務組長"),
    ("郭靜怡", "general", "文書組長"),
    ("曾國豪", "practice", "實習組長"),
    ("邱惠君", "practice", "餐飲科主任"),
    ("廖俊宏", "counsel", "輔導教師"),
    ("賴怡萱", "counsel", "輔導教師"),
    ("周信宏", "library", "讀者服務組長"),
    ("葉淑惠", "accounting", "會計主任"),
    ("蘇建志", "academic", "資料處理科教師"),
    ("潘美華", "practice", "幼保科教師"),
    ("杜承恩", "student", "體育組長"),
]

CONTRACT_AND_VENDORS = [
    ("方志遠", Person.Kind.CONTRACT, "it", "約聘網管人員", ""),
    ("簡宏達", Person.Kind.VENDOR, None, "校務行政系統維護工程師", "宏達資訊股份有限公司"),
    ("范文傑", Person.Kind.VENDOR, None, "網路設備維護工程師", "中華電信股份有限公司"),
]


@transaction.atomic
def load() -> dict:
    """Create the demo school once; return the demo logins and their state."""
    with trail.acting_as(label="system:demo"):
        profile = SchoolProfile.load()
        if profile.name in ("", "本校"):
            for key, value in SCHOOL.items():
                setattr(profile, key, value)
            profile.save()
        units = {}
        for code, name, parent in UNITS:
            unit = Unit.objects.filter(code=code).first()
            if unit is None:
                unit = Unit.objects.create(code=code, name=name, parent=units.get(parent))
            units[code] = unit
        logins = []
        start = dt.date(2015, 8, 1)
        for i, (username, name, english, unit, title, roles, birthday, ext) in enumerate(PEOPLE):
            person = Person.objects.filter(name=name, unit=units[unit]).first()
            if person is None:
                person = Person.objects.create(
                    name=name,
                    english_name=english,
                    unit=units[unit],
                    title=title,
                    email=f"{username}@kpvs.ntpc.edu.tw",
                    extension=ext,
                    phone=f"02-2971-5606#{ext}",
                    birthday=dt.date.fromisoformat(birthday),
                    onboard_date=start + dt.timedelta(days=97 * i),
                )
            user = User.objects.filter(username=username).first()
            if user is None:
                user, _password = services.user_create(
                    actor=None,
                    username=username,
                    person=person,
                    roles=roles,
                    password=DEMO_PASSWORD,
                )
            logins.append(user)
        for i, (name, unit, title) in enumerate(MORE_STAFF):
            if not Person.objects.filter(name=name, unit=units[unit]).exists():
                Person.objects.create(
                    name=name,
                    unit=units[unit],
                    title=title,
                    extension=str(310 + i),
                    onboard_date=start + dt.timedelta(days=61 * i),
                )
        for name, kind, unit, title, organization in CONTRACT_AND_VENDORS:
            if not Person.objects.filter(name=name, kind=kind).exists():
                Person.objects.create(
                    name=name,
                    kind=kind,
                    unit=units.get(unit) if unit else None,
                    title=title,
                    organization=organization,
                )
        people = {p.name: p for p in Person.objects.filter(name__in=[p[1] for p in PEOPLE])}
        links = {
            ContactEntry.Role.SECURITY_OFFICER: people.get("陳怡君"),
            ContactEntry.Role.SECURITY_SUPERVISOR: people.get("黃建華"),
            ContactEntry.Role.PRINCIPAL: people.get("林志明"),
        }
        fixed = {
            ContactEntry.Role.BUREAU_OFFICER: ("新北市教育局資訊中心", "02-2960-3456"),
            ContactEntry.Role.TACERT: ("TACERT 臺灣學術網路危機處理中心", "07-525-0211"),
        }
        for entry in ContactEntry.objects.all():
            if entry.name or entry.person_id:
                continue
            person = links.get(entry.role)
            if person is not None:
                entry.person, entry.name, entry.phone = person, person.name, person.phone
            elif entry.role in fixed:
                entry.name, entry.phone = fixed[entry.role]
            else:
                continue
            entry.save()
    return {"logins": logins, "password": DEMO_PASSWORD}
