"""The rules of outsourced vendors and their contracts (6.1, 6.2).

- A vendor (委外廠商, 6.1) has a name and a 統一編號: eight digits whose check digit is
  right (``tax_id_ok``), unique among the vendors in use. Its contacts (窗口) are saved
  with it in one go — each with a name; phone and e-mail optional — all or nothing.
  A vendor with a contract not ended yet is not voided.
- A contract (委外合約, 6.1.1) is with a vendor in use, from its start to its end (start ≤
  end), lists at least one service line, the systems it serves and the vendor's people who
  work at the school (people of kind 委外廠商人員, in service), and has an owner (承辦人): an
  active login holding the security officer's or the system administrator's role. A
  contract without security terms or without confidentiality terms is saved, but it is a
  finding (6.1.1): the list filters them, its page shows it in red.
- Access removal (6.2): when a contract has ended (its end day has passed) the worker
  opens, through the identity module's off-boarding, a removal task for every active
  account of each of its people who is on no other running contract (of any vendor),
  effective the end day, and marks the contract (``access_removal_opened_at``). A person
  taken off a contract gets the same at once, effective the day of the change.
- The duty ``vendors.access_removed`` (duties_vendors): the removal tasks of an ended
  contract are done within ``ISMS_VENDOR_ACCESS_DAYS`` days of its end.

Every function validates before it writes (``ValidationError`` field → zh-TW message
citing the clause; nothing saved), checks permission and takes the acting person for the
audit trail.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.core.access import has_role, user_roles
from isms.core.models import Person
from isms.core.roles import SECURITY_OFFICER, SYSADMIN
from isms.core.validators import tax_id_ok

from .models import Contract, Vendor, VendorContact

KEEPER_ROLES = frozenset({SECURITY_OFFICER, SYSADMIN})
DUTY = "vendors.access_removed"
CONTACT_FIELDS = ("name", "title", "phone", "email")


def may_keep(user) -> bool:
    """The security officer and system administrators keep vendors and contracts."""
    return has_role(user, *KEEPER_ROLES)


def is_owner_role(user) -> bool:
    """An active login holding a keeper's role (a superuser alone is not one)."""
    return user is not None and user.is_active and bool(user_roles(user) & KEEPER_ROLES)


def owners():
    """The active logins who may own a contract."""
    return (
        get_user_model()
        .objects.filter(groups__name__in=KEEPER_ROLES, is_active=True)
        .distinct()
        .order_by("username")
    )


def vendor_people():
    """The people a contract may list: vendor staff (委外廠商人員) in service."""
    return Person.objects.active().filter(kind=Person.Kind.VENDOR, status=Person.Status.ACTIVE)


def _save(obj, actor, **kwargs):
    with trail.as_actor(actor):
        obj.save(**kwargs)
    return obj


def _refresh() -> None:
    from isms.compliance import engine

    engine.refresh(DUTY)


def _strip(obj, *names) -> None:
    for name in names:
        value = getattr(obj, name)
        setattr(obj, name, value.strip() if isinstance(value, str) else "")


def _too_long(obj, names, errors: dict, prefix: str = "") -> None:
    for name in names:
        limit = type(obj)._meta.get_field(name).max_length
        value = getattr(obj, name) or ""
        key = prefix + name
        if limit and len(value) > limit and key not in errors:
            errors[key] = _("最多 %(limit)d 個字。") % {"limit": limit}


def _email_error(value: str) -> str | None:
    from django.core.validators import validate_email

    if not value:
        return None
    try:
        validate_email(value)
    except ValidationError:
        return _("電子郵件格式不正確。")
    return None


# Vendors (6.1) -----------------------------------------------------------------------------------
def tax_id_error(value: str) -> str | None:
    if not value:
        return _("請填寫統一編號（條文 6.1）。")
    if len(value) != 8 or not value.isdigit():
        return _("統一編號須為 8 位數字。")
    if not tax_id_ok(value):
        return _("統一編號檢查碼不正確。")
    return None


def vendor_errors(vendor: Vendor) -> dict:
    errors = {}
    _strip(vendor, "name", "tax_id", "representative", "address", "phone", "email", "notes")
    if not vendor.name:
        errors["name"] = _("請填寫公司名稱。")
    if error := tax_id_error(vendor.tax_id):
        errors["tax_id"] = error
    elif Vendor.objects.active().filter(tax_id=vendor.tax_id).exclude(pk=vendor.pk or 0).exists():
        errors["tax_id"] = _("已有使用中的委外廠商登錄此統一編號。")
    if error := _email_error(vendor.email):
        errors["email"] = error
    _too_long(vendor, ("name", "representative", "address", "phone"), errors)
    return errors


def contact_key(index: int, name: str) -> str:
    """The error key of one contact's field: ``contacts.<index>.<field>``."""
    return f"contacts.{index}.{name}"


def _contact_changes(vendor: Vendor, contacts) -> tuple[dict, list, list]:
    """(errors, contacts to save, contacts to delete) from the wanted contacts.

    ``contacts`` is a list of dicts: ``id`` (an existing contact of this vendor, or none
    for a new one), ``name``, ``title``, ``phone``, ``email`` and ``delete``.
    """
    errors, save, delete = {}, [], []
    current = {c.pk: c for c in vendor.contacts.all()} if vendor.pk else {}
    for index, wanted in enumerate(contacts):
        pk = wanted.get("id")
        if pk:
            contact = current.get(pk)
            if contact is None:
                errors[contact_key(index, "id")] = _("沒有這位聯絡人。")
                continue
        else:
            contact = VendorContact(vendor=vendor)
        if wanted.get("delete"):
            if contact.pk:
                delete.append(contact)
            continue
        before = tuple(getattr(contact, f) for f in CONTACT_FIELDS)
        for name in CONTACT_FIELDS:
            value = wanted.get(name, getattr(contact, name))
            setattr(contact, name, value.strip() if isinstance(value, str) else "")
        if not contact.name:
            errors[contact_key(index, "name")] = _("請填寫聯絡人姓名。")
        if error := _email_error(contact.email):
            errors[contact_key(index, "email")] = error
        _too_long(contact, ("name", "title", "phone"), errors, prefix=f"contacts.{index}.")
        if contact.pk is None or before != tuple(getattr(contact, f) for f in CONTACT_FIELDS):
            save.append(contact)
    return errors, save, delete


@transaction.atomic
def save_vendor(vendor: Vendor, *, actor, contacts=None) -> Vendor:
    """Create or change a vendor and (when given) its contacts, all or nothing.

    Each contact that changes is one audit entry, each one removed too.
    """
    if not may_keep(actor):
        raise PermissionDenied
    if vendor.pk is not None:
        stored = Vendor.objects.select_for_update().get(pk=vendor.pk)
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此委外廠商已作廢，不能修改。")})
    else:
        vendor.voided_at, vendor.voided_by, vendor.void_reason = None, None, ""
    errors = vendor_errors(vendor)
    contact_errors, to_save, to_delete = _contact_changes(vendor, contacts or [])
    errors.update(contact_errors)
    if errors:
        raise ValidationError(errors)
    _save(vendor, actor)
    with trail.as_actor(actor):
        for contact in to_delete:
            contact.delete()
    for contact in to_save:
        contact.vendor = vendor
        _save(contact, actor)
    return vendor


def vendor_void_error(vendor: Vendor) -> str | None:
    today = timezone.localdate()
    if Contract.objects.active().filter(vendor=vendor, end_on__gte=today).exists():
        return _("此廠商仍有未終止的委外合約，請先作廢或結束合約後再作廢廠商。")
    return None


@transaction.atomic
def void_vendor(vendor: Vendor, *, actor, reason: str) -> Vendor:
    from isms.core import services

    if not may_keep(actor):
        raise PermissionDenied
    vendor = Vendor.objects.select_for_update().get(pk=vendor.pk)
    if vendor.voided_at is not None:
        raise ValidationError({"__all__": _("此筆資料已作廢。")})
    if error := vendor_void_error(vendor):
        raise ValidationError({"__all__": error})
    return services.record_void(vendor, actor=actor, reason=reason)


# Contracts (6.1.1) -------------------------------------------------------------------------------
def service_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def terms_missing(contract: Contract) -> bool:
    """6.1.1: the contract lacks the vendor's security duties or confidentiality terms."""
    return not (contract.security_terms and contract.confidentiality_terms)


def state_of(contract: Contract, today=None) -> str:
    """``upcoming``, ``running`` or ``ended`` (its end day passed)."""
    today = today or timezone.localdate()
    if contract.end_on < today:
        return "ended"
    if contract.start_on > today:
        return "upcoming"
    return "running"


def running(today=None):
    """Contracts in use whose period holds ``today`` (start and end days included)."""
    today = today or timezone.localdate()
    return Contract.objects.active().filter(start_on__lte=today, end_on__gte=today)


def contract_errors(contract: Contract, people, systems, stored=None) -> dict:
    errors = {}
    _strip(contract, "title", "number", "services", "notes")
    contract.services = "\n".join(service_lines(contract.services))
    if contract.vendor_id is None:
        errors["vendor"] = _("請選擇委外廠商。")
    elif stored is None or stored.vendor_id != contract.vendor_id:
        vendor = Vendor.objects.filter(pk=contract.vendor_id).first()
        if vendor is None or vendor.voided_at is not None:
            errors["vendor"] = _("委外廠商已作廢，請選擇使用中的廠商（條文 6.1）。")
    if not contract.title:
        errors["title"] = _("請填寫合約名稱。")
    if contract.start_on is None:
        errors["start_on"] = _("請填寫起始日。")
    if contract.end_on is None:
        errors["end_on"] = _("請填寫終止日。")
    elif contract.start_on is not None and contract.start_on > contract.end_on:
        errors["end_on"] = _("終止日不可早於起始日。")
    if not contract.services:
        errors["services"] = _("請列出至少一項服務項目（每行一項，條文 6.1）。")
    if contract.owner_id is None:
        errors["owner"] = _("請選擇承辦人。")
    elif stored is None or stored.owner_id != contract.owner_id:
        owner = get_user_model().objects.filter(pk=contract.owner_id).first()
        if not is_owner_role(owner):
            errors["owner"] = _("承辦人須為在職的資安業務承辦人或系統管理人員。")
    had_people = set(stored.people.values_list("pk", flat=True)) if stored else set()
    fresh = [p for p in people if p.pk not in had_people]
    if fresh:
        allowed = set(
            vendor_people().filter(pk__in=[p.pk for p in fresh]).values_list("pk", flat=True)
        )
        wrong = [p.name for p in fresh if p.pk not in allowed]
        if wrong:
            errors["people"] = _(
                "到校服務人員須為人員名錄中身分為「委外廠商人員」且在職者：%(names)s。"
            ) % {"names": "、".join(wrong)}
    had_systems = set(stored.systems.values_list("pk", flat=True)) if stored else set()
    fresh_systems = [s for s in systems if s.pk not in had_systems]
    if any(s.voided_at is not None for s in fresh_systems):
        errors["systems"] = _("請選擇使用中的資訊系統。")
    _too_long(contract, ("title", "number"), errors)
    return errors


@transaction.atomic
def save_contract(contract: Contract, *, actor, people=None, systems=None) -> Contract:
    """Create or change a contract with its people and systems (``None``: unchanged).

    A person taken off the contract who is on no other running contract has their
    accounts' removal opened at once, effective today (6.2). A contract whose end moves
    to today or later is no longer treated as ended (its removal opens again at the new
    end).
    """
    if not may_keep(actor):
        raise PermissionDenied
    stored = None
    if contract.pk is not None:
        stored = Contract.objects.select_for_update().get(pk=contract.pk)
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此委外合約已作廢，不能修改。")})
    else:
        contract.voided_at, contract.voided_by, contract.void_reason = None, None, ""
        contract.access_removal_opened_at = None
    if people is None:
        people = list(stored.people.all()) if stored else []
    if systems is None:
        systems = list(stored.systems.all()) if stored else []
    people, systems = list(dict.fromkeys(people)), list(dict.fromkeys(systems))
    errors = contract_errors(contract, people, systems, stored)
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    if contract.access_removal_opened_at is not None and contract.end_on >= today:
        contract.access_removal_opened_at = None
    removed = []
    if stored is not None:
        wanted = {p.pk for p in people}
        removed = [p for p in stored.people.all() if p.pk not in wanted]
    _save(contract, actor)
    with trail.as_actor(actor):
        contract.people.set(people)
        contract.systems.set(systems)
    for person in removed:
        remove_access(person, actor=actor, effective_on=today, today=today)
    _refresh()
    return contract


def on_other_running_contract(person, *, exclude=None, today=None) -> bool:
    others = running(today).filter(people=person)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def remove_access(person, *, actor, effective_on: dt.date, today=None, exclude=None) -> list:
    """Open the removal of the person's accounts (identity off-boarding, 6.2) unless they
    still serve on a running contract. Returns the tasks opened."""
    from isms.identity.models import OffboardingTask
    from isms.identity.services import offboard

    if on_other_running_contract(person, exclude=exclude, today=today):
        return []
    return offboard(
        person,
        actor=actor,
        reason=OffboardingTask.Reason.VENDOR_ENDED,
        effective_on=effective_on,
    )


@transaction.atomic
def void_contract(contract: Contract, *, actor, reason: str) -> Contract:
    from isms.core import services

    if not may_keep(actor):
        raise PermissionDenied
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.voided_at is not None:
        raise ValidationError({"__all__": _("此筆資料已作廢。")})
    services.record_void(contract, actor=actor, reason=reason)
    _refresh()
    return contract


def open_ended_contracts(now=None) -> int:
    """The worker's job: each contract whose end day has passed and whose removal is not
    opened yet gets it — a removal task for every active account of each of its people on
    no other running contract — and is marked. Idempotent; audited as the worker."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    pending = list(
        Contract.objects.active()
        .filter(end_on__lt=today, access_removal_opened_at__isnull=True)
        .values_list("pk", flat=True)
    )
    count = 0
    with trail.acting_as(None, label="worker"):
        for pk in pending:
            with transaction.atomic():
                contract = (
                    Contract.objects.select_for_update()
                    .filter(pk=pk, access_removal_opened_at__isnull=True, voided_at__isnull=True)
                    .first()
                )
                if contract is None:  # another worker took it
                    continue
                for person in contract.people.all():
                    count += len(
                        remove_access(
                            person,
                            actor=None,
                            effective_on=contract.end_on,
                            today=today,
                            exclude=contract,
                        )
                    )
                contract.access_removal_opened_at = now
                contract.save(update_fields=["access_removal_opened_at", "updated_at"])
    if pending:
        _refresh()
    return count


def access_due(contract: Contract) -> dt.datetime:
    """The end of the day ``ISMS_VENDOR_ACCESS_DAYS`` days after the contract's end."""
    from django.conf import settings

    day = contract.end_on + dt.timedelta(days=settings.ISMS_VENDOR_ACCESS_DAYS + 1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min)) - dt.timedelta(seconds=1)
