"""The rules of assets: the only place that changes an asset's state.

Every function takes the acting person, validates before it writes (``ValidationError``
with field → zh-TW message citing the clause; nothing saved) and leaves the audit trail
to the signals.
"""

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from isms.audit import trail

from .models import Asset, CommissioningRecord

State = Asset.State


def _save(obj, actor, **kwargs):
    with trail.as_actor(actor):
        obj.save(**kwargs)
    return obj


def check_asset(asset: Asset) -> dict:
    """Field errors of an asset as it would be saved."""
    errors = {}
    number = (asset.property_number or "").strip()
    asset.property_number = number
    if number:
        clash = Asset.objects.filter(property_number=number)
        if asset.pk:
            clash = clash.exclude(pk=asset.pk)
        if clash.exists():
            errors["property_number"] = _("財產編號「%(number)s」已登記（%(name)s）。") % {
                "number": number,
                "name": clash.first().name,
            }
    if not (asset.name or "").strip():
        errors["name"] = _("請填寫名稱。")
    return errors


def reviewed(asset: Asset, kinds) -> CommissioningRecord | None:
    """The latest A-1 record of these kinds reviewed by the supervisor, if any."""
    return (
        CommissioningRecord.objects.active()
        .filter(asset=asset, kind__in=kinds, reviewed_at__isnull=False)
        .order_by("-reviewed_at", "-id")
        .first()
    )


def needs_commissioning(asset: Asset) -> bool:
    """A server, or an official portable device, is commissioned before use (2.2.3, 4.2)."""
    return asset.kind == Asset.Kind.SERVER or (asset.portable and asset.official_use)


def entry_error(asset: Asset) -> str | None:
    """Why the asset cannot be put in use now, or None."""
    if not needs_commissioning(asset):
        return None
    # A new asset has no records yet (and an unsaved one cannot be looked up by).
    if asset.pk is None or reviewed(asset, [CommissioningRecord.Kind.COMMISSION]) is None:
        if asset.kind == Asset.Kind.SERVER:
            return _(
                "新伺服器啟用前，須有經主管覆核的啟用紀錄（掃毒、變更預設通行碼、系統更新；"
                "條文 2.2.3、A-1）。"
            )
        return _(
            "公務用可攜式設備使用前，須有經主管覆核的啟用紀錄（掃毒、變更預設通行碼、"
            "系統更新；條文 4.2、A-1）。"
        )
    return None


def exit_error(asset: Asset) -> str | None:
    """Why the asset cannot be decommissioned now, or None.

    Equipment with storage (or holding personal data) needs a reviewed 報廢 record with
    the wipe confirmed, reviewed after it last went into use or to another use: an old
    wipe before a reuse does not cover what was stored since (3.5, 7.10).
    """
    if not asset.has_storage:
        return None
    message = _(
        "含儲存媒體的設備報廢前，須有經主管覆核、已確認刪除硬碟資料（資料無法再還原）的報廢"
        "紀錄（條文 3.5、7.10、A-1）。"
    )
    if asset.pk is None:
        return message
    record = reviewed(asset, [CommissioningRecord.Kind.DECOMMISSION])
    if record is None or not record.wiped:
        return message
    later = reviewed(asset, [CommissioningRecord.Kind.COMMISSION, CommissioningRecord.Kind.REUSE])
    if later is not None and later.reviewed_at > record.reviewed_at:
        return message
    return None


def void_error(asset: Asset) -> str | None:
    """Only a record entered by mistake is voided: a new asset without any A-1 record."""
    if asset.state != State.NEW or CommissioningRecord.objects.filter(asset=asset).exists():
        return _(
            "已啟用或已有啟用與報廢紀錄的資產不能作廢；不再使用請依啟用與報廢紀錄單（A-1）"
            "報廢（條文 3.5）。"
        )
    return None


@transaction.atomic
def save_asset(asset: Asset, *, actor) -> Asset:
    """Create or change an asset after its checks; its state changes only by set_state."""
    errors = check_asset(asset)
    if asset.pk is None:
        if asset.state == State.IN_USE and (error := entry_error(asset)):
            errors["state"] = error
        if asset.state == State.DECOMMISSIONED:
            errors["state"] = _("新登記的資產不能直接設為已報廢。")
    else:
        stored = Asset.objects.filter(pk=asset.pk).values_list("state", flat=True).first()
        if stored is not None and stored != asset.state:
            errors.update(state_errors(asset, asset.state, stored))
        if error := kind_change_error(asset):
            errors.setdefault("kind", error)
        if stored is not None and stored == asset.state:
            # An edit leaves the state alone: a review that put the asset in use meanwhile
            # is not undone by a form loaded before it.
            if errors:
                raise ValidationError(errors)
            fields = [
                f.name
                for f in Asset._meta.concrete_fields
                if not f.primary_key and f.name not in ("state", "created_at")
            ]
            return _save(asset, actor, update_fields=fields)
    if errors:
        raise ValidationError(errors)
    return _save(asset, actor)


def state_errors(asset: Asset, state: str, current: str) -> dict:
    if state not in State.values:
        return {"state": _("狀態不正確。")}
    if current == State.DECOMMISSIONED:
        return {"state": _("已報廢的資產不能再變更狀態。")}
    if state == State.NEW:
        return {"state": _("資產不能改回待啟用。")}
    if state == State.DECOMMISSIONED:
        from .models import EquipmentMovement

        out = EquipmentMovement.objects.active().filter(
            asset=asset, status=EquipmentMovement.Status.OUT
        )
        if number := out.values_list("number", flat=True).first():
            return {
                "state": _("設備已攜出（%(number)s），須歸還後才能報廢（條文 3.6）。")
                % {"number": number}
            }
    if state == State.IN_USE and (error := entry_error(asset)):
        return {"state": error}
    if state == State.DECOMMISSIONED and (error := exit_error(asset)):
        return {"state": error}
    return {}


@transaction.atomic
def set_state(asset: Asset, state: str, *, actor) -> Asset:
    """Put in use, store, send to repair, decommission — by the rules of A-1."""
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    errors = state_errors(asset, state, asset.state)
    if errors:
        raise ValidationError(errors)
    asset.state = state
    return _save(asset, actor)


# The register (2.1, 2.2.1, 2.2.2, 2.3.2, 2.6, 4.1, 4.3) ----------------------------------------
# The duties of the register (duties_inventory), refreshed after the register's writes.
INVENTORY_DUTIES = (
    "assets.antivirus",
    "assets.patches",
    "assets.portable_protected",
    "assets.media_controls",
)


# The findings use the rhythm the duties use: the school's setting (the compliance settings
# page) when it has one, else ISMS_ASSET_*_DAYS. Read at most every LIMITS_SECONDS in a
# process, and at once in the process that saves a setting (``forget_limits``).
LIMITS_SECONDS = 30.0
_limits: dict = {}


def forget_limits(**_kwargs) -> None:
    _limits.clear()


def _limit(key: str) -> int:
    from isms.compliance.models import ObligationSetting
    from isms.compliance.rhythms import Rhythm

    now = time.time()
    if _limits.get("at") is None or now - _limits["at"] > LIMITS_SECONDS:
        keys = ("assets.antivirus", "assets.patches")
        rows = ObligationSetting.objects.filter(key__in=keys).values_list("key", "rhythm")
        _limits.clear()
        _limits.update({"at": now, "rhythms": dict(rows)})
    text = _limits["rhythms"].get(key)
    if text:
        try:
            return Rhythm.parse(text).approx_days
        except ValueError:
            pass  # a setting the settings page would not save: the default holds
    name = "ISMS_ASSET_ANTIVIRUS_DAYS" if key == "assets.antivirus" else "ISMS_ASSET_PATCH_DAYS"
    return int(getattr(settings, name, 7 if key == "assets.antivirus" else 30))


def antivirus_days() -> int:
    """Virus definitions older than this many days are a finding (2.2.1)."""
    return _limit("assets.antivirus")


def patch_days() -> int:
    """An operating system last patched longer ago than this is a finding (2.2.1)."""
    return _limit("assets.patches")


def setup_days() -> int:
    """Days a newly registered portable device or medium has to get its protection (4.1, 4.3)."""
    return int(getattr(settings, "ISMS_ASSET_SETUP_DAYS", 7))


def refresh_duties(*keys) -> None:
    """Recompute the register's duty states at once (the worker would, within minutes)."""
    from isms.compliance import engine

    for key in keys or INVENTORY_DUTIES:
        engine.refresh(key)


def duties_of(*kinds) -> tuple[str, ...]:
    """The register's duties whose subjects may be assets of these kinds."""
    keys = []
    if any(k in Asset.COMPUTERS for k in kinds):
        keys += ["assets.antivirus", "assets.patches"]
    if any(k in Asset.PORTABLE for k in kinds):
        keys.append("assets.portable_protected")
    if any(k in Asset.MEDIA for k in kinds):
        keys.append("assets.media_controls")
    return tuple(keys)


# The details ``clear_unrelated`` may blank.
CLEARED_FIELDS = (
    "downloads_restricted",
    "installs_restricted",
    "data_access_restricted",
    "protection",
    "sensitivity",
    "media_control",
)


def clear_unrelated(asset: Asset) -> Asset:
    """Blank the details that do not apply to the asset's kind (a PC has no media control).

    The flags that say what an asset is (shared, hosted systems) are not blanked but refused
    by ``kind_errors`` when they do not fit the kind.
    """
    if asset.kind != Asset.Kind.PC or not asset.shared:
        asset.downloads_restricted = asset.installs_restricted = False
        asset.data_access_restricted = False
    if not asset.portable:
        asset.protection = ""
    if not asset.medium:
        asset.sensitivity = asset.media_control = ""
    return asset


def kind_errors(asset: Asset, systems=None) -> dict:
    """What the policy asks of the asset's kind, as field errors (the register's form and API)."""
    errors = {}
    if systems and asset.kind != Asset.Kind.SERVER:
        errors["systems"] = _("只有伺服器登記承載的資訊系統（條文 2.1）。")
    if asset.shared and asset.kind != Asset.Kind.PC:
        errors["shared"] = _("只有個人電腦可標示為共用電腦（條文 2.6）。")
    if asset.shared and not (asset.purpose or "").strip():
        errors["purpose"] = _("共用電腦應以特定功能為目的，請填寫用途（條文 2.6）。")
    if asset.medium and not asset.sensitivity:
        errors["sensitivity"] = _("儲存媒體須標示所存資料的機敏性，據以控管（條文 4.3）。")
    now = timezone.now() + dt.timedelta(minutes=5)  # a reporting machine's clock may run ahead
    for name in ("antivirus_updated_at", "patched_at"):
        value = getattr(asset, name)
        if value is not None and value > now:
            errors[name] = _("不可晚於現在。")
    return errors


def kind_change_error(asset: Asset) -> str | None:
    """Once an asset has left 待啟用, its kind (and official use) are what its A-1 records
    were checked against: an edit cannot change them.

    Otherwise a PC commissioned without checks could become a server (2.2.3), a private
    notebook an official one (4.2), or a PC in use a printer disposed of without a wipe
    (3.5, 7.10).
    """
    if asset.pk is None:
        return None
    stored = Asset.objects.filter(pk=asset.pk).values("state", "kind", "official_use").first()
    if stored is None or stored["state"] == State.NEW:
        return None
    if stored["kind"] != asset.kind or (asset.official_use and not stored["official_use"]):
        return _(
            "資產已啟用過，不能變更類別或改為公務用：類別決定啟用與報廢紀錄單（A-1）的檢查項目"
            "（條文 2.2.3、3.5、4.2）。登記有誤請報廢後重新登記。"
        )
    return None


# 移轉他用 (7.10): the fields that say who uses the equipment for what.
TRANSFER_FIELDS = {"purpose": "purpose", "custodian_id": "custodian", "unit_id": "unit"}


def in_transfer_scope(state: str, stores_personal_data: bool) -> bool:
    """Equipment holding personal data that has been in service (7.10)."""
    return stores_personal_data and state not in (State.NEW, State.DECOMMISSIONED)


def transfer_changes(asset: Asset) -> list[str]:
    """The form fields (purpose, custodian, unit) an edit changes on equipment that holds
    personal data and has been in service: giving it to another use (7.10).

    A new asset, one still 待啟用 or one decommissioned has no use to leave; the stored
    or the edited 存有個人資料 counts (unticking it in the same edit is no way around).
    """
    if asset.pk is None:
        return []
    stored = (
        Asset.objects.filter(pk=asset.pk)
        .values("state", "stores_personal_data", *TRANSFER_FIELDS)
        .first()
    )
    if stored is None or not in_transfer_scope(
        stored["state"], stored["stores_personal_data"] or asset.stores_personal_data
    ):
        return []
    changed = []
    for name, field in TRANSFER_FIELDS.items():
        old, new = stored[name], getattr(asset, name)
        if name == "purpose":
            old, new = (old or "").strip(), (new or "").strip()
        if old != new:
            changed.append(field)
    return changed


def transfer_message() -> str:
    return _(
        "存有個人資料的設備變更用途、保管人或使用單位即為移轉他用：須先刪除所存個人資料，"
        "以啟用與報廢紀錄單（A-1）「移轉他用」經主管覆核後變更（條文 7.10）。"
        "若僅更正登記錯誤，請填寫「更正說明」。"
    )


def register_errors(asset: Asset, *, systems=None, correction: str = "") -> dict:
    """Field errors of an asset as the register's form or API would save it.

    ``correction``: the keeper's statement that a change of use, custodian or unit of
    equipment holding personal data only corrects the register (not a 移轉他用, 7.10).
    """
    errors = kind_errors(asset, systems)
    if asset.pk is None and asset.state == State.IN_USE and (error := entry_error(asset)):
        errors["state"] = error
    if error := kind_change_error(asset):
        errors["kind"] = error
    if not (correction or "").strip():
        for field in transfer_changes(asset):
            errors[field] = transfer_message()
    for name, message in check_asset(asset).items():
        errors.setdefault(name, message)
    return errors


@transaction.atomic
def save_asset_entry(asset: Asset, *, actor, systems=None, correction: str = "") -> Asset:
    """Create or change an asset from the register (page or API), with its hosted systems.

    1. Blank the fields that do not apply to the kind; check the kind's rules (2.1, 2.6,
       4.3), that an edit does not skip commissioning (2.2.3, 4.2), and that equipment
       holding personal data changes use, custodian or unit only through a reviewed
       移轉他用 record — or as a correction the keeper states (7.10).
    2. ``save_asset``: the property number and the A-1 rules of the state.
    3. A stated correction is its own audit entry, beside the change it explains.
    4. Set the hosted systems (``None``: leave them), audited as a change of the asset.
    5. Refresh the register's duties.
    """
    clear_unrelated(asset)
    correction = (correction or "").strip()
    errors = register_errors(asset, systems=systems, correction=correction)
    if errors:
        raise ValidationError(errors)
    corrected = transfer_changes(asset) if correction else []
    before = Asset.objects.filter(pk=asset.pk).values_list("kind", flat=True).first()
    save_asset(asset, actor=actor)
    if corrected:
        trail.record(
            trail.Action.UPDATE,
            asset,
            changes={"correction": [None, correction]},
            message=_("更正登記（非移轉他用，條文 7.10）：%(fields)s")
            % {"fields": "、".join(str(Asset._meta.get_field(f).verbose_name) for f in corrected)},
            actor=actor,
        )
    if systems is not None:
        with trail.as_actor(actor):
            asset.systems.set(systems)
    if keys := duties_of(asset.kind, before):
        refresh_duties(*keys)
    return asset


def change_state(asset: Asset, state: str, *, actor) -> Asset:
    """The register's state action: ``set_state`` (A-1 rules), then the duties follow."""
    asset = set_state(asset, state, actor=actor)
    if keys := duties_of(asset.kind):
        refresh_duties(*keys)
    return asset


# Findings ------------------------------------------------------------------------------------
FINDINGS = {
    # code: (short label for the list, filter label, clause)
    "multi_system": (_lazy("承載多個系統"), _lazy("伺服器承載多個系統（條文 2.1）"), "2.1"),
    "shared_controls": (
        _lazy("共用電腦未設管控"),
        _lazy("共用電腦未設安全管控（條文 2.6）"),
        "2.6",
    ),
    "portable": (
        _lazy("未設保護機制"),
        _lazy("公務用可攜式設備未設保護機制（條文 4.1）"),
        "4.1",
    ),
    "media": (_lazy("媒體未依機敏性控管"), _lazy("儲存媒體未依機敏性控管（條文 4.3）"), "4.3"),
    "antivirus": (_lazy("防毒未更新"), _lazy("未裝防毒或病毒碼逾期（條文 2.2.1）"), "2.2.1"),
    "patches": (_lazy("系統未更新"), _lazy("作業系統更新逾期（條文 2.2.1）"), "2.2.1"),
    "licence": (_lazy("授權未確認"), _lazy("軟體授權未確認或無證明（條文 2.2.2）"), "2.2.2"),
    "screen_lock": (_lazy("未設螢幕保護"), _lazy("未設螢幕保護或鎖定（條文 2.3.2）"), "2.3.2"),
}


def _hosted_counts():
    """Servers' number of hosted systems that are not voided, for a subquery."""
    through = Asset.systems.through
    return (
        through.objects.filter(informationsystem__voided_at__isnull=True)
        .values("asset_id")
        .annotate(n=Count("informationsystem_id"))
        .filter(n__gt=1)
        .values("asset_id")
    )


def finding_q(code: str, now=None) -> Q:
    """The assets with this finding, as a filter (the same rules as ``findings``)."""
    now = now or timezone.now()
    in_use = Q(state=State.IN_USE)
    computers = in_use & Q(kind__in=Asset.COMPUTERS)
    if code == "multi_system":
        return in_use & Q(kind=Asset.Kind.SERVER, pk__in=_hosted_counts())
    if code == "shared_controls":
        return (in_use & Q(kind=Asset.Kind.PC, shared=True)) & (
            Q(downloads_restricted=False)
            | Q(installs_restricted=False)
            | Q(data_access_restricted=False)
        )
    if code == "portable":
        return in_use & Q(kind__in=Asset.PORTABLE, official_use=True, protection="")
    if code == "media":
        return (
            Q(kind__in=Asset.MEDIA, official_use=True)
            & ~Q(state=State.DECOMMISSIONED)
            & (
                Q(sensitivity="")
                | (~Q(sensitivity=Asset.Sensitivity.GENERAL) & Q(media_control=""))
            )
        )
    if code == "antivirus":
        stale = now - dt.timedelta(days=antivirus_days())
        return computers & (
            Q(antivirus=False)
            | Q(antivirus_updated_at__isnull=True)
            | Q(antivirus_updated_at__lt=stale)
        )
    if code == "patches":
        stale = now - dt.timedelta(days=patch_days())
        return computers & (Q(patched_at__isnull=True) | Q(patched_at__lt=stale))
    if code == "licence":
        return computers & (Q(software_licensed=False) | Q(licence_evidence=""))
    if code == "screen_lock":
        return computers & Q(screen_lock=False)
    if code == "any":
        query = Q(pk__in=[])
        for each in FINDINGS:
            query |= finding_q(each, now)
        return query
    raise ValueError(code)


def findings(asset: Asset, now=None) -> list[str]:
    """The codes of what the policy still asks of this asset (see ``finding_q``).

    Reads the asset's hosted systems (prefetch them for a list).
    """
    now = now or timezone.now()
    out = []
    kind, state = asset.kind, asset.state
    in_use = state == State.IN_USE
    computer = in_use and kind in Asset.COMPUTERS
    hosts = in_use and kind == Asset.Kind.SERVER
    if hosts and sum(1 for s in asset.systems.all() if s.voided_at is None) > 1:
        out.append("multi_system")
    if (
        in_use
        and kind == Asset.Kind.PC
        and asset.shared
        and not (
            asset.downloads_restricted
            and asset.installs_restricted
            and asset.data_access_restricted
        )
    ):
        out.append("shared_controls")
    if in_use and asset.portable and asset.official_use and not asset.protection:
        out.append("portable")
    if (
        asset.medium
        and asset.official_use
        and state != State.DECOMMISSIONED
        and (
            not asset.sensitivity
            or (asset.sensitivity != Asset.Sensitivity.GENERAL and not asset.media_control)
        )
    ):
        out.append("media")
    if computer:
        updated = asset.antivirus_updated_at
        if (
            not asset.antivirus
            or updated is None
            or updated < now - dt.timedelta(days=antivirus_days())
        ):
            out.append("antivirus")
        if asset.patched_at is None or asset.patched_at < now - dt.timedelta(days=patch_days()):
            out.append("patches")
        if not asset.software_licensed or not asset.licence_evidence:
            out.append("licence")
        if not asset.screen_lock:
            out.append("screen_lock")
    return out


_FINDING_LABELS: dict = {}


def findings_text(asset: Asset, now=None) -> str:
    """The short labels of the asset's findings (a list's column: labels translated once)."""
    codes = findings(asset, now)
    if not codes:
        return ""
    language = get_language()
    labels = _FINDING_LABELS.get(language)
    if labels is None:
        labels = _FINDING_LABELS[language] = {k: str(v[0]) for k, v in FINDINGS.items()}
    return "、".join(labels[code] for code in codes)


# The inventory script (2.2.1, 2.3.2) -------------------------------------------------------------
INVENTORY_FIELDS = (
    "antivirus",
    "antivirus_updated_at",
    "auto_updates",
    "patched_at",
    "screen_lock",
)
INVENTORY_MAX_LINES = 10_000


@dataclass(frozen=True)
class LineError:
    """One refused line of an inventory report: its number (from 1), field and reason."""

    line: int
    field: str
    message: str


class InventoryRefused(ValidationError):
    """The report was refused as a whole; ``lines`` says which lines and why."""

    def __init__(self, lines: list[LineError]):
        self.lines = lines
        super().__init__(
            [
                _("第 %(line)d 筆 %(field)s：%(message)s")
                % {"line": e.line, "field": e.field, "message": e.message}
                for e in lines
            ]
        )


def inventory_errors(items, *, assets=None) -> list[LineError]:
    """What is wrong with an inventory report's lines (already typed by the API).

    ``items`` are ``(line, values)`` pairs, ``values`` holding ``property_number`` and some
    of ``INVENTORY_FIELDS``. A number unknown to the register, voided or decommissioned,
    given twice, or a moment in the future refuses its line.
    """
    if assets is None:
        assets = _assets_by_number(values["property_number"] for _line, values in items)
    errors, seen = [], {}
    limit = timezone.now() + dt.timedelta(minutes=5)
    for line, values in items:
        number = values["property_number"]
        asset = assets.get(number)
        if number in seen:
            errors.append(
                LineError(
                    line,
                    "property_number",
                    _("財產編號「%(number)s」與第 %(first)d 筆重複。")
                    % {"number": number, "first": seen[number]},
                )
            )
            continue
        seen[number] = line
        if asset is None:
            message = _("財產編號「%(number)s」不在資產清冊中。") % {"number": number}
        elif asset.voided_at is not None:
            message = _("財產編號「%(number)s」的資產已作廢。") % {"number": number}
        elif asset.state == State.DECOMMISSIONED:
            message = _("財產編號「%(number)s」的資產已報廢，不應再回報狀態（條文 3.5）。") % {
                "number": number
            }
        else:
            message = None
        if message:
            errors.append(LineError(line, "property_number", message))
        for name in ("antivirus_updated_at", "patched_at"):
            moment = values.get(name)
            if moment is not None and moment > limit:
                errors.append(LineError(line, name, _("不可晚於現在。")))
    return errors


def _assets_by_number(numbers, *, lock=False) -> dict:
    wanted = {str(n).strip() for n in numbers if str(n).strip()}
    qs = Asset.objects.filter(property_number__in=wanted)
    if lock:
        qs = qs.select_for_update()
    return {a.property_number: a for a in qs}


@transaction.atomic
def update_inventory(items, *, actor) -> dict:
    """Apply an inventory script's report of antivirus, updates and screen lock, all or nothing.

    1. Read the assets named by property number (locked); refuse the whole report with every
       bad line (``InventoryRefused``) when one line is wrong.
    2. Write the changed assets with one ``bulk_update``; one audit entry per changed asset
       with its before and after, as a save would write it.
    3. Refresh the antivirus and update duties.
    """
    items = [(line, dict(values)) for line, values in items]
    if not items:
        raise InventoryRefused([LineError(0, "non_field_errors", _("沒有任何資料。"))])
    if len(items) > INVENTORY_MAX_LINES:
        raise InventoryRefused(
            [
                LineError(
                    0,
                    "non_field_errors",
                    _("一次最多回報 %(n)d 筆。") % {"n": INVENTORY_MAX_LINES},
                )
            ]
        )
    for _line, values in items:
        values["property_number"] = str(values.get("property_number", "")).strip()
    assets = _assets_by_number((v["property_number"] for _l, v in items), lock=True)
    errors = inventory_errors(items, assets=assets)
    if errors:
        raise InventoryRefused(errors)
    now = timezone.now()
    touched, entries = [], []
    for _line, values in items:
        asset = assets[values["property_number"]]
        diff = {}
        for name in INVENTORY_FIELDS:
            if name not in values:
                continue
            old, new = getattr(asset, name), values[name]
            if old != new:
                diff[name] = [trail.jsonable(old), trail.jsonable(new)]
                setattr(asset, name, new)
        if diff:
            asset.updated_at = now
            touched.append(asset)
            entries.append((trail.Action.UPDATE, asset, diff))
    if touched:
        Asset.objects.bulk_update(touched, [*INVENTORY_FIELDS, "updated_at"], batch_size=500)
        trail.record_many(entries, actor=actor)
        refresh_duties("assets.antivirus", "assets.patches")
    return {"lines": len(items), "updated": len(touched), "unchanged": len(items) - len(touched)}


# Many at once (the property-list import) ---------------------------------------------------
# The fields an import may set on an asset it adds, and bring up to date on one it has.
IMPORT_FIELDS = (
    "name",
    "brand",
    "model",
    "serial",
    "location",
    "unit_id",
    "custodian_id",
    "purpose",
)


def _field_errors(asset: Asset) -> dict:
    """Lengths and choices of the plain fields (no query: relations were looked up)."""
    try:
        asset.clean_fields(exclude=["unit", "custodian", "systems"])
    except ValidationError as error:
        return error.message_dict
    return {}


def _of(asset: Asset, errors: dict) -> ValidationError:
    error = ValidationError(errors)
    error.asset = asset  # which one, for the import to name its line
    return error


@transaction.atomic
def import_assets(new: list[Asset], updates: list[tuple[Asset, dict]], *, actor) -> None:
    """Add and bring up to date many assets in a few queries, each audited as one save.

    The same rules as ``save_asset`` for what an import can change: property numbers
    unique, a name, field lengths; a new asset starts neither in use without its A-1 review
    nor decommissioned; an existing asset's kind and state are never changed here.
    Raises ValidationError with the offending asset's property number; nothing is saved.
    """
    from isms.audit.signals import created_changes

    numbers = [a.property_number for a in new if a.property_number]
    taken = set(
        Asset.objects.filter(property_number__in=numbers).values_list("property_number", flat=True)
    )
    for asset in new:
        errors = _field_errors(asset)
        if not (asset.name or "").strip():
            errors["name"] = [_("請填寫名稱。")]
        if asset.property_number in taken:
            errors["property_number"] = [
                _("財產編號「%(number)s」已登記。") % {"number": asset.property_number}
            ]
        if asset.state == State.DECOMMISSIONED:
            errors["state"] = [_("新登記的資產不能直接設為已報廢。")]
        elif asset.state == State.IN_USE and needs_commissioning(asset):
            errors["state"] = [entry_error(asset)]
        if errors:
            raise _of(asset, errors)
        taken.add(asset.property_number)
    items, changed = [], []
    for asset, values in updates:
        unknown = set(values) - set(IMPORT_FIELDS)
        if unknown:
            raise ValueError(f"an import does not change {sorted(unknown)}")
        if in_transfer_scope(asset.state, asset.stores_personal_data) and any(
            name in TRANSFER_FIELDS and values[name] != getattr(asset, name) for name in values
        ):
            raise _of(asset, {"purpose": [transfer_message()]})
        diff = {}
        for field, value in values.items():
            old = getattr(asset, field)
            if old != value:
                diff[field] = [trail.jsonable(old), trail.jsonable(value)]
                setattr(asset, field, value)
        if not diff:
            continue
        errors = _field_errors(asset)
        if not (asset.name or "").strip():
            errors["name"] = [_("請填寫名稱。")]
        if errors:
            raise _of(asset, errors)
        asset.updated_at = timezone.now()
        changed.append(asset)
        items.append((trail.Action.UPDATE, asset, diff))
    if new:
        created = Asset.objects.bulk_create(new, batch_size=500)
        items = [(trail.Action.CREATE, a, created_changes(a)) for a in created] + items
    if changed:
        Asset.objects.bulk_update(changed, [*IMPORT_FIELDS, "updated_at"], batch_size=500)
    trail.record_many(items, actor=actor)
