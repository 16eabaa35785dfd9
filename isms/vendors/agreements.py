"""The rules of the confidentiality agreements (保密切結書; clauses 5.1, 6.1.2, 6.1.3).

Three paper forms, one ``Agreement`` each:

- **A-8 保密切結書** (5.1): a contract staff member (約聘(僱)人員, ``Person.Kind.CONTRACT``)
  who handles official secrets, personal rights or the school's sensitive data; the paper
  carries the position (職務), the ID number (身分證字號) and the household address (戶籍地址).
- **A-9 服務委外單位服務暨保密切結書** (6.1.2): a vendor company, with the services it provides
  (by default those of the contract chosen).
- **A-10 委外廠商人員保密切結書** (6.1.3): a vendor employee (``Person.Kind.VENDOR``) who
  works at the school, with the work done (工作) and the company (name and 統一編號).

The security officer creates the draft (``save_agreement``), prints the paper, and records
it as signed (``sign``) with the signed date and the signed scan attached. Once signed it
is the signed paper: only its notes and validity may change; a wrong one is voided and made
again.

The A-8's ID number and address are personal data: sealed with ``crypto.seal`` before they
are written, never in clear in the database nor in the audit trail (whose entries for these
columns read 「（已變更）」: ``_write`` writes them itself, past the trail's signal), shown
masked (``******6789``) and revealed only to the security officer, each reveal audited
(``reveal``).

Every function validates first (``ValidationError`` field → zh-TW message citing the
clause, nothing saved), checks permission (``PermissionDenied``), takes the acting person
and writes inside ``trail.as_actor``.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.audit.signals import SECRET_MARK
from isms.core import crypto, roc
from isms.core import services as core_services
from isms.core.access import has_role
from isms.core.models import Person
from isms.core.roles import SECURITY_OFFICER
from isms.core.validators import national_id_ok

from .models import Agreement, Contract, Vendor

Form = Agreement.Form
Status = Agreement.Status

CLAUSES = {Form.A8: "5.1", Form.A9: "6.1.2", Form.A10: "6.1.3"}
DUTIES = {
    Form.A8: "vendors.agreement_a8",
    Form.A9: "vendors.agreement_a9",
    Form.A10: "vendors.agreement_a10",
}
# The kind of person each personal form is for.
PERSON_KIND = {Form.A8: Person.Kind.CONTRACT, Form.A10: Person.Kind.VENDOR}
# Days after the need arose (onboarding, the first contract) by which the paper is signed.
GRACE_DAYS = 14
ONE_DAY = dt.timedelta(days=1)

# Who writes the agreements and who may see an A-8's ID number and address in clear.
WRITERS = frozenset({SECURITY_OFFICER})
REVEALERS = frozenset({SECURITY_OFFICER})

# The sealed columns: never in clear, never in the trail.
SEALED_FIELDS = ("national_id_sealed", "national_id_last4", "address_sealed")
# What an edit may still change once the agreement is signed.
OPEN_AFTER_SIGNING = frozenset({"notes", "valid_until"})
ENTRY_FIELDS = (
    "form",
    "person",
    "vendor",
    "contract",
    "position",
    "services",
    "valid_until",
    "notes",
)
TEXT_FIELDS = ("position", "services", "notes")
ADDRESS_MAX = 300
REVEAL_MESSAGE = gettext_lazy("檢視身分證字號及戶籍地址")
PRINT_REVEAL_MESSAGE = gettext_lazy("列印保密切結書（含身分證字號及戶籍地址）")


# Who may do what ---------------------------------------------------------------------------
def may_write(user) -> bool:
    return has_role(user, *WRITERS)


def may_reveal(user) -> bool:
    return has_role(user, *REVEALERS)


def clause_of(form: str) -> str:
    return CLAUSES.get(form, "")


# Reading ------------------------------------------------------------------------------------
def masked_id(agreement: Agreement) -> str:
    """The ID number as the pages show it: ``******6789`` (only the last four are kept
    in clear)."""
    if not agreement.national_id_sealed:
        return ""
    return f"******{agreement.national_id_last4}"


def masked_address(agreement: Agreement) -> str:
    if not agreement.address_sealed:
        return ""
    return str(_("（已加密保存）"))


def reveal(agreement: Agreement, *, actor, printing: bool = False) -> dict:
    """The A-8's ID number and address in clear, for the security officer only; each
    reveal is an audit entry naming the agreement."""
    if not may_reveal(actor):
        raise PermissionDenied
    if not agreement.national_id_sealed and not agreement.address_sealed:
        return {"national_id": "", "address": ""}
    values = {
        "national_id": crypto.unseal(agreement.national_id_sealed),
        "address": crypto.unseal(agreement.address_sealed),
    }
    trail.record(
        trail.Action.EXPORT,
        agreement,
        changes={"fields": [None, ["national_id", "address"]]},
        message=str(PRINT_REVEAL_MESSAGE if printing else REVEAL_MESSAGE),
        actor=actor,
    )
    return values


def service_lines(text: str) -> list[str]:
    """The services, one a line, blank lines dropped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def default_vendor(person: Person) -> Vendor | None:
    """The company of a vendor employee, when it is registered: the vendor of the newest
    contract listing them, else the vendor named as their organisation."""
    contract = (
        Contract.objects.filter(people=person, voided_at__isnull=True, vendor__voided_at=None)
        .select_related("vendor")
        .order_by("-start_on", "-id")
        .first()
    )
    if contract is not None:
        return contract.vendor
    name = (person.organization or "").strip()
    if name:
        return Vendor.objects.filter(name=name, voided_at__isnull=True).first()
    return None


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def earliest_signing(agreement: Agreement) -> tuple[dt.date | None, str]:
    """The first day the agreement may have been signed, and why: the person's onboarding
    (到職日) and the contract's start. When the records were entered in the product says
    nothing: a paper signed before the school began using it is still valid."""
    bounds = []
    person = agreement.person
    if person is not None and person.onboard_date:
        bounds.append((person.onboard_date, _("到職日")))
    contract = agreement.contract
    if contract is not None:
        bounds.append((contract.start_on, _("合約起始日")))
    if not bounds:
        return None, ""
    return max(bounds, key=lambda pair: pair[0])


def is_valid(agreement: Agreement, day: dt.date | None = None) -> bool:
    """Signed, not voided, not lapsed."""
    day = day or timezone.localdate()
    return (
        agreement.voided_at is None
        and agreement.status == Status.SIGNED
        and (agreement.valid_until is None or agreement.valid_until >= day)
    )


def valid_q(form: str, prefix: str = "", day: dt.date | None = None) -> Q:
    """The agreements (through ``prefix``) that are evidence today: of the form, signed,
    not voided, not lapsed."""
    day = day or timezone.localdate()
    return Q(
        **{
            f"{prefix}form": form,
            f"{prefix}status": Status.SIGNED,
            f"{prefix}voided_at__isnull": True,
        }
    ) & (Q(**{f"{prefix}valid_until__isnull": True}) | Q(**{f"{prefix}valid_until__gte": day}))


def has_scan(agreement: Agreement) -> bool:
    if agreement.pk is None:
        return False
    return core_services.attachments_for(agreement).filter(voided_at__isnull=True).exists()


# The rules ------------------------------------------------------------------------------------
def fill_defaults(agreement: Agreement) -> None:
    """What a draft takes when left blank: A-9's vendor and services from its contract;
    A-10's company from its contract or the person's registered company."""
    if agreement.form not in (Form.A9, Form.A10):
        return
    contract = agreement.contract if agreement.contract_id else None
    if agreement.vendor_id is None and contract is not None:
        agreement.vendor = contract.vendor
    if agreement.form == Form.A9 and not (agreement.services or "").strip() and contract:
        agreement.services = contract.services
    if agreement.form == Form.A10 and agreement.vendor_id is None and agreement.person_id:
        agreement.vendor = default_vendor(agreement.person)


def normalise(agreement: Agreement) -> None:
    """Trim the texts; clear what the form does not carry."""
    for name in TEXT_FIELDS:
        setattr(agreement, name, (getattr(agreement, name) or "").strip())
    if agreement.form == Form.A8:
        agreement.vendor, agreement.contract, agreement.services = None, None, ""
    elif agreement.form == Form.A9:
        agreement.person, agreement.position = None, ""
    elif agreement.form == Form.A10:
        agreement.services = ""


def _person_errors(agreement: Agreement, kept: Agreement | None) -> dict:
    form = agreement.form
    clause = clause_of(form)
    if agreement.person_id is None:
        return {
            "person": _("請選擇切結人（條文 %(clause)s，%(form)s）。")
            % {"clause": clause, "form": form}
        }
    person = agreement.person
    unchanged = kept is not None and kept.person_id == agreement.person_id
    if person.kind != PERSON_KIND[form]:
        if form == Form.A8:
            message = _(
                "A-8 保密切結書由身分為「約聘(僱)人員」者簽署（條文 5.1）；"
                "委外廠商人員請用 A-10，正式教職員不需簽署。"
            )
        else:
            message = _(
                "A-10 委外廠商人員保密切結書由身分為「委外廠商人員」者簽署（條文 6.1.3）；"
                "請先在人員名錄將其身分設為委外廠商人員。"
            )
        return {"person": message}
    if not unchanged and (person.voided_at is not None or person.status == Person.Status.LEFT):
        return {"person": _("此人員已離職或已作廢，不能再建立保密切結書。")}
    return {}


def check_agreement(
    agreement: Agreement,
    *,
    national_id: str | None,
    address: str | None,
    kept: Agreement | None = None,
) -> dict:
    """Field errors of an agreement as it would be saved.

    1. 表單: A-8, A-9 or A-10.
    2. A-8 (5.1): a 約聘(僱)人員, the position (職務), the ID number with a correct check
       digit and the household address (kept already, or given).
    3. A-9 (6.1.2): a vendor (not voided), at least one service; a contract chosen is the
       vendor's.
    4. A-10 (6.1.3): a 委外廠商人員, the work (工作); a vendor or contract chosen is theirs.
    5. 有效期限 not before the signed date.
    """
    errors = {}
    form = agreement.form
    if form not in Form.values:
        return {"form": _("請選擇表單：A-8、A-9 或 A-10。")}
    clause = clause_of(form)
    if form in PERSON_KIND:
        errors.update(_person_errors(agreement, kept))
    if form in (Form.A8, Form.A10) and not agreement.position:
        if form == Form.A8:
            message = _("請填寫切結人擔任的職務（A-8「擔任○○學校之＿＿職務」）。")
        else:
            message = _("請填寫切結人於本校執行的工作（A-10「因執行＿＿工作」）。")
        errors["position"] = message
    if form == Form.A8:
        if national_id is not None:
            text = national_id.strip().upper()
            if not text:
                errors["national_id"] = _("請填寫切結人的身分證字號（A-8，條文 5.1）。")
            elif not national_id_ok(text):
                errors["national_id"] = _("身分證字號檢查碼不正確")
        elif not (kept and kept.national_id_sealed):
            errors["national_id"] = _("請填寫切結人的身分證字號（A-8，條文 5.1）。")
        if address is not None:
            if not address.strip():
                errors["address"] = _("請填寫切結人的戶籍地址（A-8，條文 5.1）。")
            elif len(address.strip()) > ADDRESS_MAX:
                errors["address"] = _("戶籍地址最多 %(limit)d 個字。") % {"limit": ADDRESS_MAX}
        elif not (kept and kept.address_sealed):
            errors["address"] = _("請填寫切結人的戶籍地址（A-8，條文 5.1）。")
    if form in (Form.A9, Form.A10):
        vendor_unchanged = kept is not None and kept.vendor_id == agreement.vendor_id
        if agreement.vendor_id is None and form == Form.A9:
            errors["vendor"] = _("請選擇簽署切結書的委外廠商（條文 6.1.2，A-9）。")
        elif (
            agreement.vendor_id and agreement.vendor.voided_at is not None and not vendor_unchanged
        ):
            errors["vendor"] = _("此委外廠商已作廢，請選擇其他廠商。")
        contract = agreement.contract
        if contract is not None:
            contract_unchanged = kept is not None and kept.contract_id == agreement.contract_id
            if contract.voided_at is not None and not contract_unchanged:
                errors["contract"] = _("此合約已作廢，請選擇其他合約。")
            elif agreement.vendor_id and contract.vendor_id != agreement.vendor_id:
                errors["contract"] = _("所選合約不是此委外廠商的合約。")
    if form == Form.A9 and not service_lines(agreement.services):
        errors["services"] = _(
            "請列出廠商將提供的服務項目，每行一項"
            "（A-9「本公司提供服務項目如下」，條文 %(clause)s）。"
        ) % {"clause": clause}
    if (
        agreement.valid_until
        and agreement.signed_on
        and agreement.valid_until < agreement.signed_on
    ):
        errors["valid_until"] = _("有效期限不可早於簽署日期。")
    for name in TEXT_FIELDS:
        limit = Agreement._meta.get_field(name).max_length
        value = getattr(agreement, name) or ""
        if limit and len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
                "limit": limit,
                "n": len(value),
            }
    return errors


# Writing ----------------------------------------------------------------------------------------
def _columns() -> list:
    return [f for f in Agreement._meta.concrete_fields if f.attname != "updated_at"]


def _shown(name: str, value):
    """A value as the trail keeps it: the sealed columns only say that they changed."""
    if name in SEALED_FIELDS and value not in (None, ""):
        return SECRET_MARK
    return value


def _write(agreement: Agreement, kept: Agreement | None) -> None:
    """Write the agreement past the trail's signal (which would keep the sealed tokens) and
    record the one audit entry ourselves, the sealed columns as 「（已變更）」."""
    if kept is None:
        if not connection.features.can_return_rows_from_bulk_insert:  # pragma: no cover
            raise RuntimeError("the database cannot return the new row's id")
        Agreement.objects.bulk_create([agreement])
        changes = {}
        for field in _columns():
            value = trail.jsonable(getattr(agreement, field.attname))
            if value not in (None, ""):
                changes[field.attname] = [None, _shown(field.attname, value)]
        trail.record(trail.Action.CREATE, agreement, changes=changes)
        return
    diff, values = {}, {}
    for field in _columns():
        if field.primary_key:
            continue
        before = getattr(kept, field.attname)
        after = getattr(agreement, field.attname)
        if before != after:
            values[field.attname] = after
            diff[field.attname] = [
                _shown(field.attname, trail.jsonable(before)),
                _shown(field.attname, trail.jsonable(after)),
            ]
    if not diff:
        return
    agreement.updated_at = timezone.now()
    values["updated_at"] = agreement.updated_at
    Agreement.objects.filter(pk=agreement.pk).update(**values)
    trail.record(trail.Action.UPDATE, agreement, changes=diff)


def _seal(agreement: Agreement, national_id: str | None, address: str | None) -> None:
    if agreement.form != Form.A8:
        agreement.national_id_sealed = ""
        agreement.national_id_last4 = ""
        agreement.address_sealed = ""
        return
    if national_id is not None:
        text = national_id.strip().upper()
        agreement.national_id_sealed = crypto.seal(text)
        agreement.national_id_last4 = text[-4:]
    if address is not None:
        agreement.address_sealed = crypto.seal(address.strip())


@transaction.atomic
def save_agreement(
    agreement: Agreement,
    *,
    actor,
    national_id: str | None = None,
    address: str | None = None,
) -> Agreement:
    """Create a draft (the actor records it) or correct one.

    ``national_id`` and ``address`` (A-8) are sealed; None keeps what is stored. Once
    signed only the notes and the validity may change.
    """
    if not may_write(actor):
        raise PermissionDenied
    kept = None
    if agreement.pk is None:
        agreement.status = Status.DRAFT
        agreement.signed_on = None
        agreement.recorded_by = None
        agreement.national_id_sealed = agreement.national_id_last4 = ""
        agreement.address_sealed = ""
    else:
        kept = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if kept.voided_at is not None:
            raise ValidationError({"__all__": _("此保密切結書已作廢，不能修改。")})
        for name in (
            "status",
            "signed_on",
            "recorded_by_id",
            "voided_at",
            "voided_by_id",
            "void_reason",
            "created_at",
            *SEALED_FIELDS,
        ):
            setattr(agreement, name, getattr(kept, name))
    normalise(agreement)
    if kept is not None and kept.status == Status.SIGNED:
        changed = [
            name
            for name in ENTRY_FIELDS
            if name not in OPEN_AFTER_SIGNING
            and getattr(agreement, Agreement._meta.get_field(name).attname)
            != getattr(kept, Agreement._meta.get_field(name).attname)
        ]
        if national_id and national_id.strip().upper() != crypto.unseal(kept.national_id_sealed):
            changed.append("national_id")
        if address and address.strip() != crypto.unseal(kept.address_sealed):
            changed.append("address")
        if changed:
            message = _(
                "此保密切結書已登錄為已簽署，只能修改有效期限與備註；內容如有錯誤，"
                "請作廢後重新建立並重新簽署。"
            )
            raise ValidationError({name: message for name in changed})
        national_id = address = None
    else:
        fill_defaults(agreement)
    errors = check_agreement(agreement, national_id=national_id, address=address, kept=kept)
    if errors:
        raise ValidationError(errors)
    if kept is not None:
        # An unchanged value is not sealed again (a new token each time would read as a change).
        if national_id is not None and national_id.strip().upper() == crypto.unseal(
            kept.national_id_sealed
        ):
            national_id = None
        if address is not None and address.strip() == crypto.unseal(kept.address_sealed):
            address = None
    _seal(agreement, national_id, address)
    with trail.as_actor(actor):
        _write(agreement, kept)
    refresh_duties()
    return agreement


def check_signing(
    agreement: Agreement, *, signed_on, valid_until, scan_given: bool, today=None
) -> dict:
    """Field errors of 「登錄已簽署」.

    1. A draft, not voided.
    2. 簽署日期 given, not in the future, not before the person / vendor / contract existed.
    3. 有效期限 (optional) not before the signed date.
    4. The signed scan attached (already, or with this form).
    5. An A-8 carries the ID number and the address.
    """
    today = today or timezone.localdate()
    errors = {}
    if agreement.voided_at is not None:
        return {"__all__": _("此保密切結書已作廢。")}
    if agreement.status == Status.SIGNED:
        return {
            "__all__": _("此保密切結書已於 %(day)s 登錄為已簽署。")
            % {"day": roc.format_roc(agreement.signed_on)}
        }
    if signed_on is None:
        errors["signed_on"] = _("請填寫切結書上的簽署日期（「日期：　年　月　日」）。")
    elif signed_on > today:
        errors["signed_on"] = _("簽署日期不可晚於今天；請於簽署後再登錄。")
    else:
        bound, why = earliest_signing(agreement)
        if bound is not None and signed_on < bound:
            errors["signed_on"] = _(
                "簽署日期不可早於%(why)s（%(day)s）：當時尚無此人員、廠商或合約。"
            ) % {"why": why, "day": roc.format_roc(bound)}
    if valid_until is not None and signed_on is not None and valid_until < signed_on:
        errors["valid_until"] = _("有效期限不可早於簽署日期。")
    if not scan_given and not has_scan(agreement):
        errors["scan"] = _("請上傳已簽署切結書的掃描檔（於本頁「附件」上傳，或在此一併選擇檔案）。")
    if agreement.form == Form.A8 and not (
        agreement.national_id_sealed and agreement.address_sealed
    ):
        errors["__all__"] = _("A-8 保密切結書須先登錄切結人的身分證字號與戶籍地址。")
    return errors


@transaction.atomic
def sign(
    agreement: Agreement,
    *,
    actor,
    signed_on: dt.date | None,
    valid_until: dt.date | None = None,
    scan=None,
    today: dt.date | None = None,
) -> Agreement:
    """Record the agreement as signed (「登錄已簽署」) on ``signed_on``, with the signed scan
    (``scan``, an uploaded file, or one already attached)."""
    if not may_write(actor):
        raise PermissionDenied
    agreement = (
        Agreement.objects.select_for_update(of=("self",))
        .select_related("person", "vendor", "contract")
        .get(pk=agreement.pk)
    )
    errors = check_signing(
        agreement,
        signed_on=signed_on,
        valid_until=valid_until,
        scan_given=scan is not None,
        today=today,
    )
    if scan is not None and "scan" not in errors:
        try:
            core_services.check_upload(scan)
        except ValidationError as error:
            errors["scan"] = error.messages
    if errors:
        raise ValidationError(errors)
    if scan is not None:
        core_services.attachment_add(
            target=agreement,
            upload=scan,
            description=str(_("已簽署切結書掃描檔")),
            actor=actor,
        )
    agreement.status = Status.SIGNED
    agreement.signed_on = signed_on
    if valid_until is not None:
        agreement.valid_until = valid_until
    agreement.recorded_by = actor
    with trail.as_actor(actor):
        agreement.save(
            update_fields=["status", "signed_on", "valid_until", "recorded_by", "updated_at"]
        )
    refresh_duties()
    return agreement


@transaction.atomic
def void_agreement(agreement: Agreement, *, actor, reason: str) -> Agreement:
    if not may_write(actor):
        raise PermissionDenied
    core_services.record_void(agreement, actor=actor, reason=reason)
    refresh_duties()
    return agreement


def refresh_duties() -> None:
    """Recompute the three duties' states (derived data) at once."""
    from isms.compliance import engine

    for key in DUTIES.values():
        engine.refresh(key)


# Who should have signed -------------------------------------------------------------------------
def need_start(day: dt.date) -> dt.datetime:
    """The local midnight starting ``day``."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def due_moment(start: dt.date) -> dt.datetime:
    """The end of the ``GRACE_DAYS``-th day after the need arose (Asia/Taipei)."""
    return need_start(start + dt.timedelta(days=GRACE_DAYS + 1))


def _evidence_annotations(form: str, today: dt.date) -> dict:
    """What a subject's agreements of ``form`` say: the last valid signature (``signed``),
    the last lapsed validity (``lapsed_on``) and an open draft (``draft_id``)."""
    base = Q(agreements__form=form, agreements__voided_at__isnull=True)
    signed = base & Q(agreements__status=Status.SIGNED)
    return {
        "signed": Max("agreements__signed_on", filter=valid_q(form, "agreements__", today)),
        "lapsed_on": Max(
            "agreements__valid_until", filter=signed & Q(agreements__valid_until__lt=today)
        ),
        "draft_id": Max("agreements__id", filter=base & Q(agreements__status=Status.DRAFT)),
    }


def people_needing(form: str, today: dt.date | None = None):
    """Active people of the form's kind (A-8: 約聘(僱)人員, A-10: 委外廠商人員), each with
    ``signed``, ``lapsed_on``, ``draft_id`` and ``need_on`` (onboarding, else their entry in
    the directory)."""
    today = today or timezone.localdate()
    return (
        Person.objects.filter(
            kind=PERSON_KIND[form], status=Person.Status.ACTIVE, voided_at__isnull=True
        )
        .annotate(**_evidence_annotations(form, today))
        .order_by("name", "id")
    )


def vendors_needing(today: dt.date | None = None):
    """Vendors (not voided) with a contract running today (6.1.2), each with ``signed``,
    ``lapsed_on``, ``draft_id``, ``first_start`` (their first contract's start, when the
    need arose) and ``running_contract`` (the id of a contract running today).

    The contract figures are correlated subqueries, so that the grouped join is over the
    vendor's agreements alone, not agreements × contracts (on the bench's 2,000 vendors
    with 15 agreements and 3 contracts each: 27 ms instead of 70 ms). The agreements stay
    an aggregate of the join, as for people: SQLite searches them by vendor, where as
    subqueries it may pick the (form, status) index and scan every A-9 for each vendor."""
    today = today or timezone.localdate()
    live = Contract.objects.filter(vendor=OuterRef("pk"), voided_at__isnull=True)
    running = live.filter(start_on__lte=today, end_on__gte=today)
    return (
        Vendor.objects.filter(voided_at__isnull=True)
        .filter(Exists(running))
        .annotate(
            **_evidence_annotations(Form.A9, today),
            first_start=Subquery(live.order_by("start_on").values("start_on")[:1]),
            running_contract=Subquery(running.order_by("-id").values("id")[:1]),
        )
        .order_by("name", "id")
    )


def need_on(subject) -> dt.date:
    """When the need for the agreement arose."""
    if isinstance(subject, Vendor):
        return subject.first_start or local_date(subject.created_at)
    return subject.onboard_date or local_date(subject.created_at)


def findings(today: dt.date | None = None) -> list[dict]:
    """「應簽未簽」: per form, who should have a valid signed agreement and has none (or only
    a lapsed one), with when it was due. Three queries."""
    today = today or timezone.localdate()
    now = timezone.now()
    sections = []
    for form, rows, field in (
        (Form.A8, people_needing(Form.A8, today), "person"),
        (Form.A9, vendors_needing(today), "vendor"),
        (Form.A10, people_needing(Form.A10, today), "person"),
    ):
        # Those without a valid signature (``signed`` is None), found before the figures
        # are aggregated: only their agreements are grouped, not every subject's.
        valid = Agreement.objects.filter(
            valid_q(form, day=today), signed_on__isnull=False, **{field: OuterRef("pk")}
        )
        missing = []
        for subject in rows.filter(~Exists(valid)):
            start = need_on(subject)
            due = due_moment(start)
            missing.append(
                {
                    "subject": subject,
                    "need_on": start,
                    "due_on": start + dt.timedelta(days=GRACE_DAYS),
                    "overdue": now >= due,
                    "lapsed_on": subject.lapsed_on,
                    "draft_id": subject.draft_id,
                }
            )
        sections.append(
            {"form": form, "label": Form(form).label, "clause": clause_of(form), "rows": missing}
        )
    return sections


# A vendor's visit to a server room (3.1.3 with 6.1) -------------------------------------------
def visit_gaps(vendor_id: int, visitor_name: str, day: dt.date) -> list[str]:
    """What the records lack for a registered vendor's person working in a server room on
    ``day`` (the visit is recorded all the same: the log tells what happened).

    1. 6.1: a contract of the vendor in use on that day;
    2. 6.1.2: the vendor's A-9, valid on that day;
    3. 6.1.3: the visitor (by name) among the vendor staff of the vendor's contracts, with
       an A-10 valid on that day.
    """
    vendor = Vendor.objects.filter(pk=vendor_id).first()
    if vendor is None:
        return []
    gaps = []
    contracts = Contract.objects.active().filter(vendor_id=vendor_id)
    if not contracts.filter(start_on__lte=day, end_on__gte=day).exists():
        gaps.append(
            _("%(vendor)s 於 %(day)s 沒有執行中的委外合約（條文 6.1）。")
            % {"vendor": vendor.name, "day": roc.format_roc(day)}
        )
    if not Agreement.objects.filter(valid_q(Form.A9, day=day), vendor_id=vendor_id).exists():
        gaps.append(
            _("%(vendor)s 沒有於 %(day)s 有效的 A-9 服務委外單位服務暨保密切結書（條文 6.1.2）。")
            % {"vendor": vendor.name, "day": roc.format_roc(day)}
        )
    name = (visitor_name or "").strip()
    if not name:
        return gaps
    people = Person.objects.filter(vendor_contracts__in=contracts, name=name).distinct()
    if not people.exists():
        gaps.append(
            _("「%(name)s」不在 %(vendor)s 委外合約的到校服務人員名單中（條文 6.1.3）。")
            % {"name": name, "vendor": vendor.name}
        )
    elif not Agreement.objects.filter(valid_q(Form.A10, day=day), person__in=people).exists():
        gaps.append(
            _("「%(name)s」沒有於 %(day)s 有效的 A-10 委外廠商人員保密切結書（條文 6.1.3）。")
            % {"name": name, "day": roc.format_roc(day)}
        )
    return gaps
