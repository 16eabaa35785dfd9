"""Demo systems and accounts for `isms demo` (the demo school's people)."""

from django.db import transaction

from isms.audit import trail
from isms.core.models import Person, Unit, User

from . import services
from .models import Account, InformationSystem

SYSTEMS = [
    ("校務行政系統", "學籍、成績、排課", "academic", True, "sso", True),
    ("公務電子郵件", "教職員公務信箱", "it", True, "directory", True),
    ("學校網站", "對外資訊公告", "it", False, "local", False),
    ("無線網路認證", "校園 Wi-Fi 身分認證", "it", False, "directory", False),
    ("AD 目錄服務", "教職員與電腦教室帳號", "it", True, "local", True),
]


@transaction.atomic
def load_demo() -> None:
    if InformationSystem.objects.exists():
        return
    sysadmin = User.objects.filter(username="sysadmin").first()
    with trail.acting_as(label="system:demo"):
        systems = {}
        for name, purpose, unit_code, core, sign_in, personal in SYSTEMS:
            system = InformationSystem.objects.create(
                name=name,
                purpose=purpose,
                owner_unit=Unit.objects.filter(code=unit_code).first(),
                core_business=core,
                sign_in=sign_in,
                holds_personal_data=personal,
            )
            if sysadmin is not None:
                system.administrators.add(sysadmin)
            systems[name] = system
        for user in User.objects.filter(person__isnull=False).select_related("person"):
            for system_name in ("公務電子郵件", "AD 目錄服務"):
                services.save_account(
                    Account(
                        system=systems[system_name], username=user.username, person=user.person
                    ),
                    actor=None,
                )
        admin = Person.objects.filter(name="張家豪").first()
        if admin is not None:
            services.save_account(
                Account(
                    system=systems["AD 目錄服務"],
                    username="administrator",
                    person=admin,
                    kind=Account.Kind.PRIVILEGED,
                    rights="網域管理員（Domain Admins）",
                ),
                actor=None,
            )
        services.save_account(
            Account(
                system=systems["學校網站"],
                username="webeditor",
                kind=Account.Kind.SHARED,
                notes="各處室共用的網站編輯帳號（尚未說明理由）",
            ),
            actor=None,
        )
