"""Demo vendors for `isms demo`: the student-records system's maintenance vendor with its
running contract (both terms in it), its engineer on site, the company's A-9 signed and the
engineer's A-10 still to sign; the network vendor whose contract lacks the security terms
(a 6.1.1 finding); and the contract network administrator's A-8 — through the services,
as the security officer."""

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from isms.audit import trail
from isms.core.models import Person, User
from isms.identity.models import InformationSystem

from . import agreements, vendors
from .models import Agreement, Contract, Vendor

Form = Agreement.Form


def _scan(name: str) -> SimpleUploadedFile:
    # A one-page PDF standing in for the signed paper's scan.
    pdf = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]"
        b"/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return SimpleUploadedFile(name, pdf, content_type="application/pdf")


@transaction.atomic
def load_demo() -> None:
    if Vendor.objects.exists():
        return
    officer = User.objects.filter(username="officer").first()
    if officer is None:
        return
    today = timezone.localdate()
    engineer = Person.objects.filter(name="簡宏達", kind=Person.Kind.VENDOR).first()
    network = Person.objects.filter(name="范文傑", kind=Person.Kind.VENDOR).first()
    staff = Person.objects.filter(name="方志遠", kind=Person.Kind.CONTRACT).first()
    with trail.acting_as(officer):
        records = vendors.save_vendor(
            Vendor(
                name="宏達資訊股份有限公司",
                tax_id="04595257",
                representative="林宏達",
                address="新北市板橋區文化路一段 100 號 8 樓",
                phone="02-2960-1234",
            ),
            actor=officer,
            contacts=[{"name": "簡宏達", "title": "維護工程師", "phone": "0912-345-678"}],
        )
        system = InformationSystem.objects.filter(name="校務行政系統").first()
        contract = vendors.save_contract(
            Contract(
                vendor=records,
                title="校務行政系統維護合約",
                number="115-資-003",
                start_on=today.replace(month=1, day=1),
                end_on=today.replace(month=12, day=31),
                services="校務行政系統維護與版本更新\n系統異常排除（4 小時內到校）\n每月備份檢查",
                security_terms=True,
                confidentiality_terms=True,
                owner=officer,
            ),
            actor=officer,
            people=[engineer] if engineer else [],
            systems=[system] if system else [],
        )
        a9 = agreements.save_agreement(
            Agreement(form=Form.A9, vendor=records, contract=contract), actor=officer
        )
        agreements.sign(
            a9, actor=officer, signed_on=contract.start_on, scan=_scan("A-9-宏達資訊.pdf")
        )
        if engineer is not None:
            agreements.save_agreement(
                Agreement(
                    form=Form.A10,
                    person=engineer,
                    vendor=records,
                    contract=contract,
                    position="校務行政系統維護",
                ),
                actor=officer,
            )
        telecom = vendors.save_vendor(
            Vendor(name="中華電信股份有限公司", tax_id="96979933", phone="02-2344-5488"),
            actor=officer,
        )
        vendors.save_contract(
            Contract(
                vendor=telecom,
                title="校園網路設備維護",
                start_on=today - dt.timedelta(days=90),
                end_on=today + dt.timedelta(days=275),
                services="核心交換器與防火牆維護",
                security_terms=False,
                confidentiality_terms=True,
                owner=officer,
            ),
            actor=officer,
            people=[network] if network else [],
        )
        if staff is not None:
            a8 = agreements.save_agreement(
                Agreement(form=Form.A8, person=staff, position="約聘網管人員"),
                actor=officer,
                national_id="A123456789",
                address="新北市板橋區中山路一段 1 號",
            )
            agreements.sign(
                a8, actor=officer, signed_on=today - dt.timedelta(days=30), scan=_scan("A-8.pdf")
            )
        if engineer is not None:
            _server_room_visit(records, engineer)


def _server_room_visit(vendor: Vendor, engineer: Person) -> None:
    """The engineer's visit to the server room three days ago, linked to the vendor: his
    A-10 is still a draft, so the visit's page shows that gap (6.1.3)."""
    from isms.facilities import visits
    from isms.facilities.models import Room, Visit

    room = Room.objects.active().filter(kind=Room.Kind.SERVER_ROOM).order_by("id").first()
    head = User.objects.filter(username="equipment").first()
    if room is None or head is None:
        return
    now = timezone.now()
    entered = timezone.localtime(now).replace(hour=14, minute=0, second=0, microsecond=0)
    entered -= dt.timedelta(days=3)
    visit = visits.save_visit(
        Visit(
            room=room,
            entered_at=entered,
            exited_at=entered + dt.timedelta(hours=1, minutes=10),
            purpose=Visit.Purpose.REPAIR,
            purpose_detail="校務行政系統版本更新",
            unit=Visit.Unit.VENDOR,
            vendor=vendor,
            visitor_name=engineer.name,
            escort=head,
        ),
        actor=head,
        now=now,
    )
    guard = User.objects.filter(username="guard").first()
    if guard is not None:
        visits.confirm_key(visit, actor=guard, now=visit.exited_at + dt.timedelta(minutes=5))
