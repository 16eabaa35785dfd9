"""Account requests (帳號申請單, form A-3; clauses 2.7–2.9, 6.2): file, execute, review.

The only place that changes a request. Every function takes the acting person, checks
everything before it writes (``ValidationError`` with field → zh-TW message; nothing
saved) and saves through ``trail.as_actor`` so that the audit trail names that person.
The accounts register is changed only through :mod:`isms.identity.services`.

Who may do what
---------------
* File a request: anyone signed in, for themselves (the applicant is their own Person).
  人事室 (personnel) and the security officer file for anyone: a newcomer, a person who
  left or moved, a vendor whose service ended (2.7, 6.2).
* Execute a line: the 設備組長 (equipment_head), or an administrator of that line's
  system (``InformationSystem.administrators``). Executing changes the accounts register.
  For 新增 and 重新啟用 the executor confirms that the system's managing unit authorises
  the applicant (``authorisation_checked``, 2.7); 新增, 重新啟用 and 重設通行碼 are not
  executed for an applicant or holder who has left in the meantime (2.7, 6.2).
* Review (覆核) an executed request: the 資訊業務主管 (supervisor), who is neither the
  applicant nor one who executed a line of it (a second pair of eyes, 2.7).
* Return (退回) a request that is not reviewed yet: the supervisor, with a reason. A
  returned request is closed: its lines not executed yet are no longer executed; what
  was executed stays in the register and is undone, if needed, with a new request.
* Confirm that the default password was changed (2.9.1): the holder of the account.

Which lines are refused (:func:`check_lines`)
----------------------------------------------
1. The system must be in the register and not voided.
2. Eligibility (2.7 授權使用): except for 刪除 and 停用 (taking access away needs no
   authorisation), the system must be open to requests (``requests_open``), and when it
   names the units that may ask (``request_units``), the applicant's unit must be one of
   them (:func:`eligibility_unit` says which unit counts).
3. 新增: no account of that name may exist on that system in the register, in any state
   (names are unique per system and compared case-insensitively; a removed account is
   asked back with 重新啟用).
4. The other actions: the account must be in the register on that system and be held by
   the applicant. An account without a holder (shared or service) may be asked for only
   by those who file for others (personnel, the security officer).
5. The action must fit the account's state: 刪除 not of a removed account, 停用 only of
   an active one, 重新啟用 only of a disabled or removed one, 異動 and 重設通行碼 not of a
   removed one.
6. An applicant who left the school may only have accounts deleted or disabled (2.7, 6.2).
7. One line per account in a request, and no account already in an open request (a line
   of a request that is neither executed, returned nor voided).
8. 異動 needs a note saying what changes.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import numbering, roc
from isms.core.access import has_role, user_roles
from isms.core.models import Person
from isms.core.roles import (
    EQUIPMENT_HEAD,
    MANAGERS,
    PERSONNEL,
    SECURITY_OFFICER,
    SUPERVISOR,
    SYSADMIN,
)
from isms.core.services import site_url

from . import services
from .models import Account, AccountRequest, AccountRequestLine, InformationSystem

Action = AccountRequestLine.Action
Status = AccountRequest.Status
AccountStatus = Account.Status

# Who sees every request: the office, those who execute, and 人事室 (who files for others).
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD, PERSONNEL}
# Who files for someone else.
FOR_OTHERS = frozenset({PERSONNEL, SECURITY_OFFICER})
# Actions that issue a default password the holder must change at first sign-in (2.9.1).
ISSUES_PASSWORD = (Action.ADD, Action.RESET_PASSWORD)
# Actions that take access away: asked for on any system, whoever the applicant (2.7, 6.2).
TAKES_AWAY = (Action.DELETE, Action.DISABLE)
# Actions executed only once the executor confirmed the managing unit's authorisation (2.7).
NEEDS_AUTHORISATION = (Action.ADD, Action.REENABLE)
# Actions that give (back) access: not executed for a person who has left (2.7, 6.2).
GIVES_ACCESS = (Action.ADD, Action.REENABLE, Action.RESET_PASSWORD)
MAX_REMARKS = 1000
# A clock may run a little ahead of the server's: a time this far ahead is still "now".
SKEW = dt.timedelta(minutes=2)
MAX_LINES = 20

# 帳號使用注意事項 of form A-3, verbatim from the policy; printed on every request.
A3_NOTES = (
    gettext_lazy(
        "使用者須妥善保管帳號通行碼，不可告知他人或書寫於他人可取得之處，如便條紙、螢幕或"
        "主機外殼等，亦應避免放置於其他易遭他人窺視之場所。"
    ),
    gettext_lazy("使用者通行碼的長度最少應由 8 個字元組成，並且英文與數字混和。"),
    gettext_lazy("使用者通行碼應避免包含使用者相關之個人資訊，如電話號碼、生日或姓名。"),
    gettext_lazy("使用者通行碼宜定期變更，並避免重複使用或循環使用舊通行碼。"),
    gettext_lazy("使用者離職須移除其系統帳號始完成離職手續。"),
)


# Who may ---------------------------------------------------------------------------------------
def files_for_others(user) -> bool:
    return has_role(user, *FOR_OTHERS)


def may_review(user) -> bool:
    return has_role(user, SUPERVISOR)


def administered_ids(user) -> set[int]:
    """The systems this person administers (their lines they may execute)."""
    if user is None or not user.is_authenticated:
        return set()
    return set(services.systems_for(user).values_list("pk", flat=True))


def may_execute(user, line, administered: set[int] | None = None) -> bool:
    """The 設備組長, or an administrator of the line's system."""
    if has_role(user, EQUIPMENT_HEAD):
        return True
    if administered is None:
        administered = administered_ids(user)
    return line.system_id in administered


def request_scope(queryset, user, action):
    """The office sees every request; others their own (as applicant or filer) and those
    with a line on a system they administer (they execute it)."""
    if user_roles(user) & READERS:
        return queryset
    mine = Q(submitted_by=user) | Q(
        pk__in=AccountRequestLine.objects.filter(
            system__administrators=user, system__voided_at__isnull=True
        ).values("request_id")
    )
    if user.person_id:
        mine |= Q(applicant_id=user.person_id)
    return queryset.filter(mine)


def is_open(req) -> bool:
    """Lines may still be executed (submitted, not returned, not voided)."""
    return req.voided_at is None and req.status == Status.SUBMITTED


# Helpers ---------------------------------------------------------------------------------------
def _save(obj, actor):
    with trail.as_actor(actor):
        obj.save()
    return obj


def line_key(position: int, field: str) -> str:
    """The error key of a field of the n-th line given to :func:`submit_request`."""
    return f"lines.{position}.{field}"


def parse_line_key(key: str):
    """``lines.2.system`` → (2, "system"); None for any other key."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
        return int(parts[1]), parts[2]
    return None


def _insert(req, actor):
    """Save a new request as ``A3-115-0007``: the ROC year and its running number."""
    return numbering.insert_numbered(req, template="A3-{year}-", width=4, actor=actor)


def find_account(system_id, name: str):
    """The account of that name on the system in the register (not voided), or None."""
    return (
        Account.objects.active()
        .filter(system_id=system_id, username_key=(name or "").strip().lower())
        .select_related("person")
        .first()
    )


def _when(value) -> str:
    return roc.format_roc_datetime(value) if value else "—"


def _users_of(person):
    if person is None:
        return []
    return list(get_user_model().objects.filter(person=person, is_active=True))


def _holders(*roles):
    return list(get_user_model().objects.filter(groups__name__in=roles, is_active=True).distinct())


def _notify(recipients, *, subject, body, key, actor):
    from isms.notifications import services as notifications

    seen = set()
    for user in recipients:
        if user is None or user.pk in seen or user == actor:
            continue
        seen.add(user.pk)
        notifications.notify(
            recipient=user,
            subject=subject,
            body=body,
            dedup_key=f"{key}:{user.pk}",
            actor=actor,
        )


def _link(req) -> str:

    return site_url(req.get_absolute_url())


# Filing ----------------------------------------------------------------------------------------
def has_left(person) -> bool:
    """The person left the school (status 離職, or a leave date reached)."""
    return person.status == Person.Status.LEFT or (
        person.leave_date is not None and person.leave_date <= timezone.localdate()
    )


def _state_error(action, account) -> str:
    """Rule 5: the action does not fit the account's state (empty when it does)."""
    status = account.status
    if action == Action.DELETE and status == AccountStatus.REMOVED:
        return _("帳號「%(name)s」已刪除。")
    if action == Action.DISABLE and status != AccountStatus.ACTIVE:
        return _("帳號「%(name)s」目前不是啟用狀態，無法停用。")
    if action == Action.REENABLE and status == AccountStatus.ACTIVE:
        return _("帳號「%(name)s」目前已是啟用狀態。")
    if action in (Action.CHANGE, Action.RESET_PASSWORD) and status == AccountStatus.REMOVED:
        return _("帳號「%(name)s」已刪除，請先申請重新啟用。")
    return ""


def eligibility_unit(applicant, unit=None, *, actor=None):
    """The unit that rule 2 compares with a system's ``request_units``: the applicant's
    unit in the people directory. 人事室 and the security officer, who file for others, may
    name another (a newcomer not placed yet, a transfer); the unit that one filing for
    themselves picks is printed on the form but opens no system."""
    if unit is not None and actor is not None and files_for_others(actor):
        return unit
    return applicant.unit if applicant is not None else None


def eligibility_error(system, unit) -> str:
    """Rule 2 for one line that gives or changes access: why the applicant (of ``unit``)
    cannot ask for an account on ``system`` (empty when they can)."""
    if not system.requests_open:
        return _(
            "系統「%(system)s」不開放帳號申請，帳號由該系統的系統管理人員建立；"
            "只能申請刪除或停用（條文 2.7）。"
        ) % {"system": system.name}
    allowed = sorted(system.request_units.all(), key=lambda u: u.name)
    if not allowed or (unit is not None and unit.pk in {u.pk for u in allowed}):
        return ""
    params = {"system": system.name, "units": "、".join(u.name for u in allowed)}
    if unit is None:
        return (
            _("系統「%(system)s」只受理%(units)s人員申請帳號，申請人沒有登記所屬單位（條文 2.7）。")
            % params
        )
    return _(
        "系統「%(system)s」只受理%(units)s人員申請帳號，申請人所屬單位「%(unit)s」"
        "不在其中（條文 2.7）。"
    ) % {**params, "unit": unit.name}


def check_lines(applicant, lines, *, actor, unit=None) -> dict:
    """Field errors of the lines (keys from :func:`line_key`); the rules in this module's
    docstring. ``lines`` are dicts with system (an InformationSystem), account_name,
    action and note; ``unit`` is the one the request is filed under."""
    errors = {}
    for_others = files_for_others(actor)
    departed = applicant is not None and has_left(applicant)
    counted_unit = eligibility_unit(applicant, unit, actor=actor)
    seen = {}
    for pos, line in enumerate(lines):
        system = line.get("system")
        name = (line.get("account_name") or "").strip()
        action = line.get("action")
        note = (line.get("note") or "").strip()
        if system is None or system.voided_at is not None:
            errors[line_key(pos, "system")] = _("此系統不在資訊系統清冊中或已作廢，不可申請。")
            continue
        if not name:
            errors[line_key(pos, "account_name")] = _("請填寫帳號。")
            continue
        if any(ch.isspace() for ch in name):
            errors[line_key(pos, "account_name")] = _("帳號不可包含空白。")
            continue
        if action not in Action.values:
            errors[line_key(pos, "action")] = _("請選擇申請項目。")
            continue
        params = {"system": system.name, "name": name}
        key = (system.pk, name.lower())
        if key in seen:
            errors[line_key(pos, "account_name")] = _(
                "同一帳號在本申請單中重複（第 %(n)d 項）。"
            ) % {"n": seen[key] + 1}
            continue
        seen[key] = pos
        if departed and action not in TAKES_AWAY:
            errors[line_key(pos, "action")] = _(
                "申請人已離職，只能申請刪除或停用帳號（條文 2.7、6.2）。"
            )
            continue
        if action not in TAKES_AWAY:
            problem = eligibility_error(system, counted_unit)
            if problem:
                errors[line_key(pos, "system")] = problem
                continue
        if action == Action.CHANGE and not note:
            errors[line_key(pos, "note")] = _("異動請說明變更內容。")
            continue
        pending = AccountRequestLine.objects.filter(
            system=system,
            account_name__iexact=name,
            executed_at__isnull=True,
            request__status=Status.SUBMITTED,
            request__voided_at__isnull=True,
        ).select_related("request")
        other = pending.first()
        if other is not None:
            errors[line_key(pos, "account_name")] = _(
                "系統「%(system)s」的帳號「%(name)s」已在申請單 %(number)s 中處理中。"
            ) % {**params, "number": other.request.number}
            continue
        if action == Action.ADD:
            taken = Account.objects.filter(system=system, username_key=name.lower()).first()
            if taken is not None:
                errors[line_key(pos, "account_name")] = (
                    _(
                        "系統「%(system)s」已有帳號「%(name)s」（帳號不分大小寫）；"
                        "已刪除或停用的帳號請申請重新啟用。"
                    )
                    % params
                )
            continue
        account = find_account(system.pk, name)
        if account is None:
            errors[line_key(pos, "account_name")] = (
                _("系統「%(system)s」的帳號登記簿中沒有帳號「%(name)s」。") % params
            )
            continue
        if account.person_id is None:
            if not for_others:
                errors[line_key(pos, "account_name")] = (
                    _("帳號「%(name)s」沒有登記使用人（共用或服務帳號），請洽資安業務承辦人。")
                    % params
                )
                continue
        elif applicant is None or account.person_id != applicant.pk:
            errors[line_key(pos, "account_name")] = (
                _("帳號「%(name)s」登記的使用人不是申請人，不可代為申請。") % params
            )
            continue
        problem = _state_error(action, account)
        if problem:
            errors[line_key(pos, "action")] = problem % params
    return errors


def check_request(*, actor, applicant, requested_on, lines, unit=None, remarks="") -> dict:
    """Field errors of a request as it would be filed (nothing is written)."""
    errors = {}
    if len((remarks or "").strip()) > MAX_REMARKS:
        errors["remarks"] = _("備註最多 %(n)d 字。") % {"n": MAX_REMARKS}
    if applicant is None:
        if getattr(actor, "person_id", None) is None and not files_for_others(actor):
            errors["applicant"] = _("您的登入帳號沒有對應的人員資料，請洽人事室。")
        else:
            errors["applicant"] = _("請選擇申請人。")
    elif applicant.voided_at is not None:
        errors["applicant"] = _("此人員資料已作廢。")
    elif not files_for_others(actor) and applicant.pk != actor.person_id:
        errors["applicant"] = _("只能為自己申請帳號；代他人申請請洽人事室或資安業務承辦人。")
    if requested_on is None:
        errors["requested_on"] = _("請填寫申請日期。")
    elif requested_on > timezone.localdate():
        errors["requested_on"] = _("申請日期不可晚於今天。")
    if not lines:
        errors["lines"] = _("請至少填寫一項申請項目。")
    elif len(lines) > MAX_LINES:
        errors["lines"] = _("一張申請單最多 %(n)d 項。") % {"n": MAX_LINES}
    elif "applicant" not in errors:
        errors.update(check_lines(applicant, lines, actor=actor, unit=unit))
    return errors


@transaction.atomic
def submit_request(
    *, actor, applicant, requested_on, lines, unit=None, extension: str = "", remarks: str = ""
) -> AccountRequest:
    """File an A-3 request with its lines, all or nothing; ``remarks`` is the applicant's
    備註, printed on the form."""
    lines = [
        {
            "system": line.get("system"),
            "account_name": (line.get("account_name") or "").strip(),
            "action": line.get("action"),
            "note": (line.get("note") or "").strip(),
        }
        for line in lines
    ]
    remarks = (remarks or "").strip()
    errors = check_request(
        actor=actor,
        applicant=applicant,
        requested_on=requested_on,
        lines=lines,
        unit=unit,
        remarks=remarks,
    )
    if errors:
        raise ValidationError(errors)
    req = AccountRequest(
        applicant=applicant,
        unit=unit or applicant.unit,
        extension=(extension or "").strip() or applicant.extension,
        requested_on=requested_on,
        remarks=remarks,
        submitted_by=actor,
        status=Status.SUBMITTED,
    )
    _insert(req, actor)
    for line in lines:
        _save(AccountRequestLine(request=req, **line), actor)
    executors = _holders(EQUIPMENT_HEAD)
    for line in lines:
        executors += list(line["system"].administrators.filter(is_active=True))
    _notify(
        executors,
        subject=_("【帳號申請】%(number)s %(who)s") % {"number": req.number, "who": applicant.name},
        body=_(
            "有新的帳號申請單待執行（條文 2.7、表單 A-3）。\n編號：%(number)s\n申請人：%(who)s\n"
            "項目：\n%(lines)s\n%(link)s"
        )
        % {
            "number": req.number,
            "who": applicant.name,
            "lines": "\n".join(
                f"- {line['system'].name} {line['account_name']} {Action(line['action']).label}"
                for line in lines
            ),
            "link": _link(req),
        },
        key=f"a3:{req.pk}:submitted",
        actor=actor,
    )
    return req


# Executing -------------------------------------------------------------------------------------
def _apply(line, req, *, actor, executed_at, note) -> Account:
    """Change the accounts register as the line asks (through services)."""
    tag = _("帳號申請單 %(number)s") % {"number": req.number}
    if line.action == Action.ADD:
        applicant = req.applicant
        account = Account(
            system=line.system,
            username=line.account_name,
            person=applicant,
            display_name=applicant.name,
            email=applicant.email,
            kind=Account.Kind.PERSONAL,
            status=AccountStatus.ACTIVE,
            source=Account.Source.REQUEST,
            request_line=line,
            created_on=timezone.localdate(executed_at),
        )
        services.issue_default_password(account, actor=actor, now=executed_at)
        return services.save_account(account, actor=actor)
    account = find_account(line.system_id, line.account_name)
    if account is None:
        raise ValidationError(
            {
                "__all__": _("系統「%(system)s」的帳號登記簿中已沒有帳號「%(name)s」。")
                % {"system": line.system.name, "name": line.account_name}
            }
        )
    if line.action in (Action.DELETE, Action.DISABLE, Action.REENABLE):
        status = {
            Action.DELETE: AccountStatus.REMOVED,
            Action.DISABLE: AccountStatus.DISABLED,
            Action.REENABLE: AccountStatus.ACTIVE,
        }[line.action]
        return services.set_status(account, status, actor=actor, note=f"{tag}：{note}")
    if line.action == Action.CHANGE:
        account.notes = (
            f"{account.notes}\n{roc.format_roc(timezone.localdate(executed_at))} {tag}"
            f"（{_('異動')}）：{line.note}；{note}"
        ).strip()
        return services.save_account(account, actor=actor)
    # 重設通行碼: a new default password that expires unless changed (2.9.1).
    services.issue_default_password(account, actor=actor, now=executed_at)
    return services.save_account(account, actor=actor)


def departed_party(line, req):
    """The applicant, or the holder of the line's account, if they have left (else None)."""
    if req.applicant_id is not None and has_left(req.applicant):
        return req.applicant
    if line.action != Action.ADD:
        account = find_account(line.system_id, line.account_name)
        if account is not None and account.person_id is not None and has_left(account.person):
            return account.person
    return None


@transaction.atomic
def execute_line(
    line, *, actor, note: str, executed_at=None, authorisation_checked: bool = False
) -> AccountRequestLine:
    """Record how and when a line was carried out and change the accounts register.

    1. Only an open request's line not executed yet, with a note and a time between the
       request date and now.
    2. 新增 and 重新啟用: the executor confirms the managing unit's authorisation (2.7).
    3. 新增, 重新啟用, 重設通行碼: not for an applicant or holder who has left (2.7, 6.2).
    4. Change the register (:func:`_apply`), record the execution, tell who acts next.
    """
    req = (
        AccountRequest.objects.select_for_update()
        .select_related("applicant")
        .get(pk=line.request_id)
    )
    line = AccountRequestLine.objects.select_for_update().select_related("system").get(pk=line.pk)
    if not may_execute(actor, line):
        raise PermissionDenied
    now = timezone.now()
    executed_at = executed_at or now
    note = (note or "").strip()
    errors = {}
    if req.voided_at is not None:
        errors["__all__"] = _("此申請單已作廢。")
    elif req.status == Status.REJECTED:
        errors["__all__"] = _("此申請單已退回，不再執行。")
    elif line.executed_at is not None:
        errors["__all__"] = _("此項目已於 %(at)s 執行。") % {"at": _when(line.executed_at)}
    elif req.status != Status.SUBMITTED:
        errors["__all__"] = _("此申請單已執行完畢。")
    if not note:
        errors["execution_note"] = _("請說明執行方式。")
    if executed_at > now + SKEW:
        errors["executed_at"] = _("執行時間不可晚於現在。")
    elif timezone.localdate(executed_at) < req.requested_on:
        errors["executed_at"] = _("執行時間不可早於申請日期。")
    if line.action in NEEDS_AUTHORISATION and not authorisation_checked:
        errors["authorisation_checked"] = _(
            "新增或重新啟用帳號前，須確認申請人已經系統管理單位授權使用此系統（條文 2.7）。"
        )
    if "__all__" not in errors and line.action in GIVES_ACCESS:
        gone = departed_party(line, req)
        if gone is not None:
            errors["__all__"] = _(
                "%(who)s 已離職，不可執行「%(action)s」；離職人員的帳號應刪除或停用"
                "（條文 2.7、6.2）。"
            ) % {"who": gone.name, "action": line.get_action_display()}
    if errors:
        raise ValidationError(errors)
    try:
        account = _apply(line, req, actor=actor, executed_at=executed_at, note=note)
    except ValidationError as error:
        raise ValidationError({"__all__": error.messages}) from error
    line.executed_at, line.executed_by, line.execution_note = executed_at, actor, note
    line.authorisation_checked = line.action in NEEDS_AUTHORISATION and bool(authorisation_checked)
    line.account = account
    _save(line, actor)
    if line.action in ISSUES_PASSWORD:
        _notify(
            _users_of(account.person),
            subject=_("【帳號】%(system)s 帳號 %(name)s 已設定預設通行碼")
            % {"system": line.system.name, "name": account.username},
            body=_(
                "您申請的帳號已設定預設通行碼。請於首次登入時立即變更，預設通行碼於 %(due)s "
                "失效（條文 2.9.1）。變更後請至申請單按「我已變更通行碼」。\n%(link)s"
            )
            % {"due": _when(account.default_password_expires_at), "link": _link(req)},
            key=f"a3:line:{line.pk}:password",
            actor=actor,
        )
    if not req.lines.filter(executed_at__isnull=True).exists():
        req.status = Status.EXECUTED
        _save(req, actor)
        _notify(
            _holders(SUPERVISOR),
            subject=_("【帳號申請待覆核】%(number)s") % {"number": req.number},
            body=_("帳號申請單 %(number)s 已全部執行，請覆核（條文 2.7）。\n%(link)s")
            % {"number": req.number, "link": _link(req)},
            key=f"a3:{req.pk}:executed",
            actor=actor,
        )
    return line


# Review ----------------------------------------------------------------------------------------
def _lock(req):
    return AccountRequest.objects.select_for_update().get(pk=req.pk)


@transaction.atomic
def review_request(req, *, actor, note: str = "") -> AccountRequest:
    """The supervisor's 覆核 of an executed request."""
    if not may_review(actor):
        raise PermissionDenied
    req = _lock(req)
    errors = {}
    if req.voided_at is not None:
        errors["__all__"] = _("此申請單已作廢。")
    elif req.status != Status.EXECUTED:
        errors["__all__"] = _("申請單須全部執行後才能覆核（目前：%(status)s）。") % {
            "status": req.get_status_display()
        }
    elif actor.person_id is not None and actor.person_id == req.applicant_id:
        errors["__all__"] = _("覆核者不可為申請人本人。")
    elif req.lines.filter(executed_by=actor).exists():
        errors["__all__"] = _("覆核者不可為執行人，請由另一位主管覆核。")
    if errors:
        raise ValidationError(errors)
    req.status = Status.REVIEWED
    req.reviewed_by, req.reviewed_at, req.review_note = actor, timezone.now(), (note or "").strip()
    return _save(req, actor)


@transaction.atomic
def return_request(req, *, actor, reason: str) -> AccountRequest:
    """The supervisor returns (退回) a request not reviewed yet, with a reason."""
    if not may_review(actor):
        raise PermissionDenied
    req = _lock(req)
    reason = (reason or "").strip()
    errors = {}
    if req.voided_at is not None:
        errors["__all__"] = _("此申請單已作廢。")
    elif req.status not in (Status.SUBMITTED, Status.EXECUTED):
        errors["__all__"] = _("此申請單已%(status)s，不可退回。") % {
            "status": req.get_status_display()
        }
    if not reason:
        errors["reason"] = _("請說明退回理由。")
    if errors:
        raise ValidationError(errors)
    req.status = Status.REJECTED
    req.reviewed_by, req.reviewed_at, req.review_note = actor, timezone.now(), reason
    _save(req, actor)
    _notify(
        [req.submitted_by, *_users_of(req.applicant)],
        subject=_("【帳號申請退回】%(number)s") % {"number": req.number},
        body=_("帳號申請單 %(number)s 已由 %(who)s 退回。\n理由：%(reason)s\n%(link)s")
        % {
            "number": req.number,
            "who": actor.display_name,
            "reason": reason,
            "link": _link(req),
        },
        key=f"a3:{req.pk}:returned",
        actor=actor,
    )
    return req


# The holder (2.9.1) ----------------------------------------------------------------------------
def is_holder(user, account) -> bool:
    return (
        account is not None
        and account.person_id is not None
        and account.person_id == getattr(user, "person_id", None)
    )


def awaits_password_change(line) -> bool:
    """A new or reset account whose default password is not confirmed changed yet."""
    account = line.account
    return (
        line.action in ISSUES_PASSWORD
        and line.executed_at is not None
        and account is not None
        and account.default_password_expires_at is not None
        and account.password_changed_at is None
    )


def confirm_password(line, *, actor) -> Account:
    """The holder confirms they changed the default password of a new or reset account."""
    line = AccountRequestLine.objects.select_related("account").get(pk=line.pk)
    if line.action not in ISSUES_PASSWORD or line.executed_at is None or line.account is None:
        raise ValidationError({"__all__": _("此項目沒有待變更的預設通行碼。")})
    if not is_holder(actor, line.account):
        raise PermissionDenied
    return services.confirm_password_changed(line.account, actor=actor)


# What happened, in order -----------------------------------------------------------------------
@dataclass
class Step:
    at: dt.datetime
    who: str
    what: str
    text: str = ""


def _execution_text(line) -> str:
    """How a line was executed, and the authorisation check when it was confirmed."""
    parts = [line.execution_note]
    if line.authorisation_checked:
        parts.append(_("已確認經系統管理單位授權"))
    return "\n".join(p for p in parts if p)


def timeline(req, lines) -> list[Step]:
    """Each step of the request with who and when: filed, executed, confirmed, reviewed."""
    steps = [
        Step(
            req.created_at,
            req.submitted_by.display_name,
            _("送出申請"),
            ""
            if req.submitted_by.person_id == req.applicant_id
            else _("代 %(who)s 填單") % {"who": req.applicant.name},
        )
    ]
    for n, line in enumerate(lines, start=1):
        if line.executed_at is None:
            continue
        steps.append(
            Step(
                line.executed_at,
                line.executed_by.display_name if line.executed_by_id else "",
                _("執行第 %(n)d 項：%(action)s %(system)s %(name)s")
                % {
                    "n": n,
                    "action": line.get_action_display(),
                    "system": line.system.name,
                    "name": line.account_name,
                },
                _execution_text(line),
            )
        )
        account = line.account
        if (
            line.action in ISSUES_PASSWORD
            and account is not None
            and account.password_changed_at is not None
            and account.password_changed_at >= line.executed_at
        ):
            steps.append(
                Step(
                    account.password_changed_at,
                    account.person.name if account.person_id else "",
                    _("確認已變更預設通行碼：%(system)s %(name)s")
                    % {"system": line.system.name, "name": account.username},
                )
            )
    if req.reviewed_at is not None:
        steps.append(
            Step(
                req.reviewed_at,
                req.reviewed_by.display_name if req.reviewed_by_id else "",
                _("退回") if req.status == Status.REJECTED else _("主管覆核"),
                req.review_note,
            )
        )
    if req.voided_at is not None:
        steps.append(
            Step(
                req.voided_at,
                req.voided_by.display_name if req.voided_by_id else "",
                _("作廢"),
                req.void_reason,
            )
        )
    return sorted(steps, key=lambda s: s.at)


@dataclass
class Executor:
    name: str
    at: dt.datetime
    deputy: bool  # not a 設備組長: the system's administrator executed in their stead


def executors(lines) -> list[Executor]:
    """Who executed the lines and when they last did (the 設備組長 line of A-3); one who
    does not hold the 設備組長 role signs as the system's administrator (代)."""
    latest = {}
    for line in lines:
        if line.executed_at is None or not line.executed_by_id:
            continue
        user = line.executed_by
        if user.pk not in latest or line.executed_at > latest[user.pk][1]:
            latest[user.pk] = (user, line.executed_at)
    if not latest:
        return []
    heads = set(
        get_user_model()
        .objects.filter(pk__in=latest, groups__name=EQUIPMENT_HEAD)
        .values_list("pk", flat=True)
    )
    return sorted(
        (Executor(user.display_name, at, user.pk not in heads) for user, at in latest.values()),
        key=lambda e: e.at,
    )


def systems_open_for_requests():
    """The systems a line may name (not voided), with what rule 2 needs of each; those
    closed to requests or limited to some units are still named for 刪除 and 停用."""
    return InformationSystem.objects.active().prefetch_related("request_units").order_by("name")
