"""The rules of the 啟用與報廢紀錄單 (A-1; clauses 2.2.3, 3.5, 4.2, 7.10).

The 設備組長 or a system administrator files a record of one commissioning (啟用), one
decommissioning (報廢) or one reuse (移轉他用) with its checks; the supervisor reviews it
(主管覆核), and the review carries the asset's state along through ``services.set_state``:

- a reviewed 啟用 puts a new or stored asset in use (the A-1 rule of 2.2.3 and 4.2);
- a reviewed 報廢 decommissions the asset (with storage: only after a confirmed wipe, 3.5);
- a reviewed 移轉他用 keeps the asset's state and records its new use, and its new
  custodian and unit when the record names them (3.5, 7.10). Equipment holding personal
  data is given another use (用途, 保管人, 使用單位) only this way (``services.transfer_error``).

Every function validates first (``ValidationError`` field → zh-TW message citing the
clause, nothing saved), takes the acting person and leaves the audit trail to the signals.
"""

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core.access import has_role
from isms.core.roles import EQUIPMENT_HEAD, SUPERVISOR, SYSADMIN

from . import services
from .models import Asset, CommissioningRecord

Kind = CommissioningRecord.Kind
State = Asset.State
# 報廢 and 移轉他用 both end the asset's present use of its data (3.5 「報廢或再使用」).
EXIT_KINDS = (Kind.DECOMMISSION, Kind.REUSE)
# The commissioning checks of A-1 (2.2.3, 4.2): field, label, and the word that must appear
# under 其它 when the check was not done (the label itself, or its distinctive part).
COMMISSION_CHECKS = (
    ("virus_scan", gettext_lazy("掃毒"), "掃毒"),
    ("default_password_changed", gettext_lazy("變更預設通行碼"), "預設通行碼"),
    ("system_updated", gettext_lazy("系統更新"), "系統更新"),
)
COMMISSION_FIELDS = tuple(name for name, _label, _key in COMMISSION_CHECKS)
EXIT_FIELDS = ("wiped", "wipe_method")
# An explanation under 其它 says more than the names of the checks: at least this many
# letters once the names and punctuation are taken out.
MIN_EXPLANATION = 2
# The duties whose states the records change (duties_commissioning).
DUTIES = ("assets.server_commissioning", "assets.portable_commissioning", "assets.disposal_review")


def may_execute(user) -> bool:
    """The 設備組長 and system administrators fill in A-1."""
    return has_role(user, EQUIPMENT_HEAD, SYSADMIN)


def may_review(user) -> bool:
    """The supervisor reviews A-1 (主管覆核)."""
    return has_role(user, SUPERVISOR)


def editable(record: CommissioningRecord) -> bool:
    return record.pk is not None and not record.reviewed and record.voided_at is None


def may_edit(user, record: CommissioningRecord) -> bool:
    """Only its executor changes a record, and only until it is reviewed."""
    return editable(record) and record.executor_id == getattr(user, "pk", None)


def may_review_record(user, record: CommissioningRecord) -> bool:
    """A supervisor who is not the record's executor, while it awaits review."""
    return (
        may_review(user)
        and editable(record)
        and record.executor_id != user.pk
        and record.asset.state != State.DECOMMISSIONED
    )


def model_text_of(asset: Asset) -> str:
    """設備型號 as the register has it: brand and model."""
    return " ".join(part for part in (asset.brand.strip(), asset.model.strip()) if part)


def initial_for(asset: Asset | None, kind: str = "") -> dict:
    """The add form's first values for an asset: its use and model from the register."""
    initial = {"executed_on": timezone.localdate()}
    if kind in Kind.values:
        initial["kind"] = kind
    if asset is not None:
        initial.update(asset=asset.pk, use=asset.purpose, model_text=model_text_of(asset))
    return initial


def _explained(word: str, label, other: str) -> bool:
    """True when 其它 names the check (its Chinese word, or its name in the page's
    language) and says why (more than the names themselves)."""
    text = (other or "").lower()
    if word.lower() not in text and str(label).lower() not in text:
        return False
    rest = text
    for _name, each_label, each_word in COMMISSION_CHECKS:
        rest = rest.replace(str(each_label).lower(), "").replace(each_word.lower(), "")
    return len(re.sub(r"[\W_]+", "", rest)) >= MIN_EXPLANATION


def check_record(record: CommissioningRecord) -> dict:
    """Field errors of an A-1 record as it would be saved (see the module doc).

    1. The asset: registered (not voided) and not decommissioned already.
    2. 執行日期: not in the future, not before the asset was registered.
    3. 啟用: no 報廢 checks; a server or an official portable device has 掃毒, 變更預設
       通行碼 and 系統更新 ticked, or each one not ticked named under 其它 with the reason.
    4. 報廢 / 移轉他用: no 啟用 checks; with storage, 刪除硬碟資料 ticked (3.5, 7.10); a
       wipe says how; 移轉他用 names the new use. Only 移轉他用 names a new custodian or
       unit, and only active ones.
    """
    errors = {}
    record.use = (record.use or "").strip()
    record.model_text = (record.model_text or "").strip()
    record.other = (record.other or "").strip()
    record.wipe_method = (record.wipe_method or "").strip()
    asset = record.asset if record.asset_id else None
    if asset is None:
        return {"asset": _("請選擇資產。")}
    if asset.voided_at is not None:
        errors["asset"] = _("此資產已作廢，不能填寫啟用與報廢紀錄單。")
    elif asset.state == State.DECOMMISSIONED:
        errors["asset"] = _("此資產已報廢，不能再填寫啟用與報廢紀錄單（條文 3.5）。")
    if record.kind not in Kind.values:
        errors["kind"] = _("請選擇啟用、報廢或移轉他用。")
    day = record.executed_on
    if day is None:
        errors["executed_on"] = _("請填寫執行日期。")
    elif day > timezone.localdate():
        errors["executed_on"] = _("執行日期不可晚於今天。")
    # An earlier date is fine: a school entering its paper A-1 forms after importing the
    # property list records them with the days they were done.
    if record.kind == Kind.COMMISSION:
        errors.update(_commission_errors(record, asset))
    elif record.kind in EXIT_KINDS:
        errors.update(_exit_errors(record, asset))
    errors.update(_transfer_errors(record))
    return errors


def _commission_errors(record, asset) -> dict:
    errors = {}
    if record.wiped or record.wipe_method:
        errors["wiped"] = _("啟用紀錄不勾選報廢檢查項目；報廢或移轉他用請另填一張紀錄單。")
    if not services.needs_commissioning(asset):
        return errors
    clause = "2.2.3" if asset.kind == Asset.Kind.SERVER else "4.2"
    for name, label, word in COMMISSION_CHECKS:
        if not getattr(record, name) and not _explained(word, label, record.other):
            errors[name] = _(
                "%(kind)s啟用前須「%(label)s」（條文 %(clause)s、A-1）；未執行時請勾選後再送出，"
                "或於「其它」寫明「%(word)s」未執行的原因。"
            ) % {
                "kind": asset.get_kind_display() if clause == "2.2.3" else _("公務用可攜式設備"),
                "label": label,
                "clause": clause,
                "word": label,
            }
    return errors


def _exit_errors(record, asset) -> dict:
    errors = {}
    if any(getattr(record, name) for name in COMMISSION_FIELDS):
        errors["virus_scan"] = _("報廢或移轉他用紀錄不勾選啟用檢查項目；啟用請另填一張紀錄單。")
    if asset.has_storage and not record.wiped:
        errors["wiped"] = _(
            "含儲存媒體的設備報廢或移轉他用前，須確認已刪除硬碟資料（資料無法再還原）"
            "（條文 3.5、7.10、A-1）。"
        )
    if record.wiped and not record.wipe_method:
        errors["wipe_method"] = _(
            "請寫明刪除方式（例如：以工具覆寫、消磁、實體破壞），以確認資料無法再還原（條文 3.5）。"
        )
    if record.kind == Kind.REUSE and not record.use:
        errors["use"] = _("移轉他用請填寫移轉後的設備用途。")
    return errors


def _transfer_errors(record) -> dict:
    """Only 移轉他用 names a new custodian and unit; the custodian is someone still here."""
    errors = {}
    if record.kind != Kind.REUSE:
        for name in ("new_custodian", "new_unit"):
            if getattr(record, f"{name}_id"):
                errors[name] = _("只有移轉他用的紀錄單填寫移轉後的保管人與使用單位。")
        return errors
    person = record.new_custodian
    if person is not None and (person.voided_at is not None or person.status == person.Status.LEFT):
        errors["new_custodian"] = _("移轉後保管人不可為已離職或已作廢的人員。")
    return errors


def _save(obj, actor, **kwargs):
    with trail.as_actor(actor):
        obj.save(**kwargs)
    return obj


@transaction.atomic
def record_save(record: CommissioningRecord, *, actor) -> CommissioningRecord:
    """File a new A-1 record (the actor is its executor) or change one before its review."""
    if not may_execute(actor):
        raise PermissionDenied
    if record.pk is None:
        record.executor = actor
    else:
        stored = CommissioningRecord.objects.select_for_update().get(pk=record.pk)
        if stored.executor_id != actor.pk:
            raise PermissionDenied
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此紀錄單已作廢，不能修改。")})
        if stored.reviewed:
            raise ValidationError(
                {"__all__": _("此紀錄單已經主管覆核，不能修改；如有錯誤請作廢後重新填寫。")}
            )
        record.executor_id = stored.executor_id
        record.asset_id = stored.asset_id  # the asset of a record does not change
    if record.asset_id:
        record.asset = Asset.objects.select_for_update().get(pk=record.asset_id)
        # The paper form has 設備用途 and 設備型號 on every record: left empty, they are
        # taken from the register, so the print never shows them blank.
        asset = record.asset
        if not (record.use or "").strip():
            record.use = asset.purpose
        if not (record.model_text or "").strip():
            record.model_text = " ".join(p for p in (asset.brand, asset.model) if p)[:200]
    errors = check_record(record)
    if errors:
        raise ValidationError(errors)
    _save(record, actor)
    refresh_duties()
    return record


def review_effect(record: CommissioningRecord) -> str:
    """What the review will do to the asset, in words (shown beside the review form)."""
    asset = record.asset
    if record.kind == Kind.COMMISSION:
        if asset.state in (State.NEW, State.STORAGE):
            return _("覆核後，資產狀態由「%(state)s」改為「使用中」。") % {
                "state": asset.get_state_display()
            }
        return _("覆核後，資產狀態維持「%(state)s」；本紀錄為其啟用檢查的佐證。") % {
            "state": asset.get_state_display()
        }
    if record.kind == Kind.DECOMMISSION:
        return _("覆核後，資產狀態改為「已報廢」，之後不能再變更。")
    changes = [
        _("%(field)s由「%(old)s」改為「%(new)s」") % {"field": label, "old": old, "new": new}
        for label, old, new in transfer_changes(record)
    ]
    if changes:
        return _("覆核後，資產%(changes)s，狀態維持「%(state)s」。") % {
            "changes": "、".join(changes),
            "state": asset.get_state_display(),
        }
    return _("覆核後，資產狀態維持「%(state)s」；本紀錄為移轉他用的佐證。") % {
        "state": asset.get_state_display()
    }


def transfer_changes(record: CommissioningRecord) -> list[tuple[str, str, str]]:
    """(label, register's value, record's value) of what a 移轉他用 record changes."""
    asset, out = record.asset, []
    if record.use and record.use != asset.purpose:
        out.append((_("用途"), asset.purpose or "—", record.use))
    if record.new_custodian_id and record.new_custodian_id != asset.custodian_id:
        old = asset.custodian.name if asset.custodian_id else "—"
        out.append((_("保管人"), old, record.new_custodian.name))
    if record.new_unit_id and record.new_unit_id != asset.unit_id:
        old = asset.unit.name if asset.unit_id else "—"
        out.append((_("使用單位"), old, record.new_unit.name))
    return out


@transaction.atomic
def record_review(record: CommissioningRecord, *, actor, note: str = "") -> CommissioningRecord:
    """The supervisor's 主管覆核, and the asset's state after it, in one transaction.

    1. Only a supervisor, never the executor themself, once, on a record not voided.
    2. The record must still pass its checks (the asset may have changed since filing).
    3. The review is saved; then 啟用 puts a new or stored asset in use, 報廢 decommissions
       it, 移轉他用 records the new use — each through ``services``; when they refuse
       (``set_state`` citing the clause), the review is refused and nothing is kept.
    """
    if not may_review(actor):
        raise PermissionDenied
    record = (
        CommissioningRecord.objects.select_for_update().select_related("asset").get(pk=record.pk)
    )
    if record.voided_at is not None:
        raise ValidationError({"__all__": _("此紀錄單已作廢，不能覆核。")})
    if record.reviewed:
        raise ValidationError({"__all__": _("此紀錄單已經主管覆核。")})
    if record.executor_id == actor.pk:
        raise ValidationError({"__all__": _("覆核者不可為執行人本人，請由另一位主管覆核。")})
    record.asset = Asset.objects.select_for_update().get(pk=record.asset_id)
    errors = check_record(record)
    if errors:
        raise ValidationError(
            {"__all__": [_("此紀錄單須由執行人補正後才能覆核："), *errors.values()]}
        )
    record.reviewed_by = actor
    record.reviewed_at = timezone.now()
    record.review_note = (note or "").strip()
    _save(record, actor)
    try:
        _follow(record, actor)
    except ValidationError as error:
        reasons = [m for messages in error.message_dict.values() for m in messages]
        raise ValidationError({"__all__": [_("無法覆核："), *reasons]}) from None
    refresh_duties()
    return record


def _follow(record, actor) -> None:
    """The asset after a reviewed record (see ``record_review``)."""
    asset = record.asset
    if record.kind == Kind.COMMISSION:
        if asset.state in (State.NEW, State.STORAGE):
            asset = services.set_state(asset, State.IN_USE, actor=actor)
        if record.use and not asset.purpose:
            asset.purpose = record.use
            services.save_asset(asset, actor=actor)
    elif record.kind == Kind.DECOMMISSION:
        services.set_state(asset, State.DECOMMISSIONED, actor=actor)
    else:  # 移轉他用: same state, a new use, only after this record's wipe (3.5, 7.10)
        if asset.has_storage and not record.wiped:
            raise ValidationError(
                {
                    "wiped": _(
                        "含儲存媒體或個人資料的設備移轉他用前，須確認已刪除硬碟資料（資料無法再"
                        "還原）（條文 3.5、7.10、A-1）。"
                    )
                }
            )
        changed = False
        if record.use and record.use != asset.purpose:
            asset.purpose, changed = record.use, True
        if record.new_custodian_id and record.new_custodian_id != asset.custodian_id:
            asset.custodian_id, changed = record.new_custodian_id, True
        if record.new_unit_id and record.new_unit_id != asset.unit_id:
            asset.unit_id, changed = record.new_unit_id, True
        if changed:
            services.save_asset(asset, actor=actor)


def refresh_duties():
    """Recompute the A-1 duties' states (derived data) at once, as the other modules do."""
    from isms.compliance import engine

    for key in DUTIES:
        engine.refresh(key)
