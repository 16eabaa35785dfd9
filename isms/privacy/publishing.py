"""The rules of publishing personal data on a unit's web page (網頁公布個資核准; clause 7.4).

7.4: personal data is published on a web site or page a unit manages only with the
approval of the unit's head (所屬單位主管), and handled under the law. Each publication is a
``PublishingApproval``: what is published (and its data categories), where (the page's
address), why, and from when until when.

The steps (each audited with the person who takes it):

1. **申請** (``save_request``): any member of staff (any role) for a unit they belong to
   (their person's unit, or a unit they head); the security officer for any unit. The
   publication starts today or later: a request is made *before* publishing (a page
   already online without approval is taken down first, then requested). There is no
   longest span: the policy sets none; the request says until when.
2. **核定** (``approve`` / ``reject``): the unit's head (``awareness.OfficeHead``) approves
   or rejects; a rejection gives its reason. When the requester is the head, the
   principal (校長) decides. No one decides their own request. A unit without a head
   cannot be decided: the page says so and the security officers are told to name one.
3. **下架** (``record_removal``): once approved, the requester, the unit's head or the
   security officer records when the data was taken off the page. An approval whose
   publish_until has passed and that is not taken down is 逾期未下架 — the duty
   ``privacy.publishing_expiry`` (due at the end of that day, Asia/Taipei) reminds the
   requester and the head before it and flags it after.

A pending request may be corrected by its requester (or the officer), or withdrawn by its
requester (voided, with the reason); the officer voids a mistaken record. A decided
request is not changed: a new period or content is a new request.

Every function validates first (``ValidationError`` field → zh-TW message citing 7.4,
nothing saved), checks permission (``PermissionDenied``), takes the acting person and
writes inside ``trail.as_actor``.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc
from isms.core import services as core_services
from isms.core.access import has_role, user_roles
from isms.core.generic import url_or_none
from isms.core.roles import MANAGERS, PRINCIPAL, SECURITY_OFFICER

from . import notices
from .models import PublishingApproval

DUTY = "privacy.publishing_expiry"
CLAUSE = "7.4"
Status = PublishingApproval.Status
TEXT_LIMITS = {"what": 1000, "reason": 1000, "decision_note": 1000}
URL_LIMIT = PublishingApproval._meta.get_field("where").max_length
# What the requester enters; the rest is the service's.
ENTRY_FIELDS = ("unit", "what", "where", "reason", "publish_from", "publish_until")
# A moment "now" on the person's clock may run a little ahead of the server's.
CLOCK_SKEW = dt.timedelta(minutes=5)


class Decider:
    """Who decides a request of a unit (``decider``)."""

    HEAD = "head"  # the unit's head
    PRINCIPAL = "principal"  # the head asked: the principal decides
    NONE = "none"  # no head named: nobody can decide yet
    INACTIVE = "inactive"  # the head's login is disabled: nobody can decide yet


class State:
    """What a record is now, for the list (status and dates together)."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    LIVE = "live"
    OVERDUE = "overdue"
    REJECTED = "rejected"
    REMOVED = "removed"

    choices = [
        (PENDING, gettext_lazy("待核准")),
        (SCHEDULED, gettext_lazy("已核准（尚未公布）")),
        (LIVE, gettext_lazy("已核准（公布中）")),
        (OVERDUE, gettext_lazy("逾期未下架")),
        (REJECTED, gettext_lazy("不核准")),
        (REMOVED, gettext_lazy("已下架")),
    ]


STATE_LABELS = dict(State.choices)


# Who may do what -----------------------------------------------------------------------------
def is_officer(user) -> bool:
    return has_role(user, SECURITY_OFFICER)


def is_manager(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or bool(user_roles(user) & MANAGERS)


units_for = notices.units_for
acts_for_a_unit = notices.acts_for_a_unit


def _person_unit(user):
    if not getattr(user, "person_id", None):
        return None
    return user.person.unit_id


def scope(queryset, user, action):
    """The managers read every request and the officer acts on any; anyone else reads the
    requests they made and those of the units they belong to or head, and changes (edit,
    attachments) those they made or of the units they head (the service narrows further)."""
    from isms.awareness.models import OfficeHead

    if action in {"view", "export"} and is_manager(user):
        return queryset
    if action not in {"view", "export"} and is_officer(user):
        return queryset
    headed = OfficeHead.objects.filter(user_id=user.pk).values("unit_id")
    if action not in {"view", "export"}:
        return queryset.filter(Q(requested_by_id=user.pk) | Q(unit_id__in=headed))
    return queryset.filter(
        Q(requested_by_id=user.pk) | Q(unit_id__in=headed) | Q(unit_id=_person_unit(user) or 0)
    )


def head_of(unit_id):
    """The unit's head (``OfficeHead``, with its login), or None."""
    from isms.awareness.models import OfficeHead

    return OfficeHead.objects.filter(unit_id=unit_id).select_related("user__person").first()


def decider(approval: PublishingApproval, head=False) -> tuple[str, object]:
    """(``Decider`` kind, the head's login or None) for this request now. ``head`` may
    give the unit's ``OfficeHead`` already read (None: the unit has none)."""
    if head is False:
        head = head_of(approval.unit_id)
    if head is None:
        return Decider.NONE, None
    if not head.user.is_active:
        return Decider.INACTIVE, head.user
    if head.user_id == approval.requested_by_id:
        return Decider.PRINCIPAL, head.user
    return Decider.HEAD, head.user


def principals() -> list:
    return list(
        get_user_model()
        .objects.filter(groups__name=PRINCIPAL, is_active=True)
        .select_related("person")
        .distinct()
    )


def officers() -> list:
    return list(
        get_user_model()
        .objects.filter(groups__name=SECURITY_OFFICER, is_active=True)
        .select_related("person")
        .distinct()
    )


def may_decide(user, approval: PublishingApproval, head=False) -> bool:
    """The unit's head (the principal when the head asked), never the requester."""
    if not getattr(user, "is_authenticated", False) or user.pk == approval.requested_by_id:
        return False
    kind, head_user = decider(approval, head)
    if kind == Decider.HEAD:
        return head_user.pk == user.pk
    if kind == Decider.PRINCIPAL:
        # The role itself: a superuser is not the principal.
        return PRINCIPAL in user_roles(user)
    return False


def may_edit(user, approval: PublishingApproval) -> bool:
    """A pending request: its requester or the security officer."""
    return (
        approval.voided_at is None
        and approval.status == Status.PENDING
        and (is_officer(user) or approval.requested_by_id == user.pk)
    )


def may_withdraw(user, approval: PublishingApproval) -> bool:
    return (
        approval.voided_at is None
        and approval.status == Status.PENDING
        and approval.requested_by_id == user.pk
    )


def may_remove(user, approval: PublishingApproval, head=False) -> bool:
    """After approval: the requester, the unit's head or the security officer."""
    if approval.voided_at is not None or approval.status != Status.APPROVED:
        return False
    if is_officer(user) or approval.requested_by_id == user.pk:
        return True
    if head is False:
        head = head_of(approval.unit_id)
    return head is not None and head.user_id == user.pk


# Reading --------------------------------------------------------------------------------------
def state(approval: PublishingApproval, today: dt.date | None = None) -> str:
    today = today or timezone.localdate()
    if approval.status == Status.APPROVED:
        if approval.publish_until < today:
            return State.OVERDUE
        if approval.publish_from > today:
            return State.SCHEDULED
        return State.LIVE
    return {
        Status.PENDING: State.PENDING,
        Status.REJECTED: State.REJECTED,
        Status.REMOVED: State.REMOVED,
    }.get(approval.status, State.PENDING)


def state_label(approval: PublishingApproval, today: dt.date | None = None) -> str:
    return str(STATE_LABELS[state(approval, today)])


def overdue_q(today: dt.date | None = None, prefix: str = "") -> Q:
    """Approved, not taken down, past its publish_until (逾期未下架)."""
    today = today or timezone.localdate()
    return Q(
        **{
            f"{prefix}status": Status.APPROVED,
            f"{prefix}publish_until__lt": today,
            f"{prefix}voided_at__isnull": True,
        }
    )


def state_q(code: str, today: dt.date | None = None) -> Q:
    today = today or timezone.localdate()
    if code == State.OVERDUE:
        return overdue_q(today)
    if code == State.SCHEDULED:
        return Q(status=Status.APPROVED, publish_from__gt=today)
    if code == State.LIVE:
        return Q(status=Status.APPROVED, publish_from__lte=today, publish_until__gte=today)
    if code in (State.PENDING, State.REJECTED, State.REMOVED):
        return Q(status=code)
    return Q()


def is_overdue(approval: PublishingApproval, today: dt.date | None = None) -> bool:
    return approval.voided_at is None and state(approval, today) == State.OVERDUE


def due_moment(day: dt.date) -> dt.datetime:
    """The last second of ``day`` in Asia/Taipei: after it the data should be off the page."""
    from isms.compliance.rhythms import LAST_SECOND, day_start

    return day_start(day + dt.timedelta(days=1)) - LAST_SECOND


def head_page_url() -> str | None:
    """Where the officer names a unit's head (the self-check module's page), when there."""
    return url_or_none("awareness:officehead_add") or url_or_none("awareness:officehead_list")


# The rules -------------------------------------------------------------------------------------
def normalise(approval: PublishingApproval) -> None:
    for name in ("what", "where", "reason"):
        setattr(approval, name, (getattr(approval, name) or "").strip())


def too_long(name: str, value: str) -> str:
    limit = TEXT_LIMITS.get(name) or URL_LIMIT
    if len(value) <= limit:
        return ""
    return _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {"limit": limit, "n": len(value)}


def date_errors(publish_from, publish_until, *, kept=None, today=None) -> dict:
    """The period's rules.

    1. Both days given (a publication has an end: 7.4 asks until when).
    2. publish_until not before publish_from.
    3. A new request (or a changed start) starts today or later: the head approves
       *before* the data goes online.
    """
    today = today or timezone.localdate()
    errors = {}
    if publish_from is None:
        errors["publish_from"] = _("請填寫公布起日（條文 7.4）。")
    if publish_until is None:
        errors["publish_until"] = _(
            "請填寫公布期限：公布個人資料須載明公布到何時，期滿下架（條文 7.4）。"
        )
    if errors:
        return errors
    if publish_until < publish_from:
        errors["publish_until"] = _("公布期限不可早於公布起日。")
    start_changed = kept is None or kept.publish_from != publish_from
    if start_changed and publish_from < today:
        errors["publish_from"] = _(
            "公布起日不可早於今天（%(today)s）：個人資料須先經所屬單位主管核准才能公布"
            "（條文 7.4）；已公布而未經核准的網頁請先下架，再提出申請。"
        ) % {"today": roc.format_roc(today)}
    return errors


def check_request(
    approval: PublishingApproval, *, categories, actor, kept=None, today=None
) -> dict:
    """Field errors of a request as it would be saved.

    1. The unit is one the actor belongs to (the officer: any active unit).
    2. What, where (an http(s) address) and why are given, within their limits.
    3. At least one data category; a code newly chosen is in use.
    4. The period (``date_errors``).
    """
    errors = {}
    if approval.unit_id is None:
        errors["unit"] = _("請選擇公布個人資料的單位（條文 7.4）。")
    else:
        errors.update(
            notices.unit_errors(
                approval.unit_id,
                actor,
                kept.unit_id if kept is not None else None,
                clause=CLAUSE,
                message=_("您只能為自己所屬的單位提出申請（條文 7.4：須經所屬單位主管核准）。"),
            )
        )
    required = {
        "what": _("請填寫公布內容：公布哪些人的哪些個人資料（條文 7.4）。"),
        "where": _("請填寫公布個人資料的網頁網址（條文 7.4）。"),
        "reason": _("請填寫公布目的及依據（條文 7.4「依相關法律及規範處理」）。"),
    }
    for name, message in required.items():
        value = getattr(approval, name)
        if not value or (message := too_long(name, value)):
            errors[name] = message
    if approval.where and "where" not in errors:
        try:
            URLValidator(schemes=["http", "https"])(approval.where)
        except ValidationError:
            errors["where"] = _("請填寫完整的網頁網址，以 http:// 或 https:// 開頭。")
    kept_codes = set(kept.categories.values_list("pk", flat=True)) if kept else set()
    if not categories:
        errors["categories"] = _("請至少選擇一項公布的個人資料類別（條文 7.4）。")
    else:
        errors.update(notices.code_errors(categories, kept_codes, "categories"))
    errors.update(
        date_errors(approval.publish_from, approval.publish_until, kept=kept, today=today)
    )
    return errors


# Notifications ---------------------------------------------------------------------------------
def _notify(recipients, *, subject, body, key, actor):
    from isms.notifications import services as notifications

    seen = set()
    for user in recipients:
        if user is None or user.pk in seen or not user.is_active:
            continue
        if actor is not None and user.pk == actor.pk:
            continue
        seen.add(user.pk)
        notifications.notify(
            recipient=user, subject=subject, body=body, dedup_key=f"{key}:{user.pk}", actor=actor
        )


def _link(approval) -> str:
    return core_services.site_url(approval.get_absolute_url())


def _facts(approval) -> dict:
    return {
        "unit": approval.unit.name,
        "who": approval.requested_by.display_name,
        "what": approval.what,
        "where": approval.where,
        "start": roc.format_roc(approval.publish_from),
        "end": roc.format_roc(approval.publish_until),
        "link": _link(approval),
    }


def _tell_deciders(approval, *, actor) -> None:
    """A new request: to the head (the principals when the head asked); with no head, to
    the security officers, who name one."""
    kind, head_user = decider(approval)
    facts = _facts(approval)
    if kind in (Decider.HEAD, Decider.PRINCIPAL):
        recipients = [head_user] if kind == Decider.HEAD else principals()
        _notify(
            recipients,
            subject=_("【網頁公布個資核准】%(unit)s %(who)s 申請，待核准")
            % {"unit": facts["unit"], "who": facts["who"]},
            body=_(
                "有新的網頁公布個人資料申請待您核准（條文 7.4）。\n單位：%(unit)s\n"
                "申請人：%(who)s\n公布內容：%(what)s\n網頁：%(where)s\n"
                "期間：%(start)s 至 %(end)s\n%(link)s"
            )
            % facts,
            key=f"privacy.publishing:{approval.pk}:requested",
            actor=actor,
        )
        return
    setup = head_page_url()
    _notify(
        officers(),
        subject=_("【網頁公布個資核准】%(unit)s 尚未設定單位主管，申請無法核定")
        % {"unit": facts["unit"]},
        body=_(
            "%(who)s 為「%(unit)s」提出網頁公布個人資料申請，但此單位尚未設定"
            "（或已停用）單位主管的登入帳號，無法核定（條文 7.4）。請設定單位主管：%(setup)s\n"
            "申請：%(link)s"
        )
        % {**facts, "setup": core_services.site_url(setup) if setup else ""},
        key=f"privacy.publishing:{approval.pk}:no_head",
        actor=actor,
    )


def _tell_requester(approval, *, actor) -> None:
    facts = _facts(approval)
    if approval.status == Status.APPROVED:
        subject = _("【網頁公布個資核准】已核准：%(unit)s %(where)s")
        body = _(
            "您的網頁公布個人資料申請已核准（條文 7.4），核准者：%(by)s。\n"
            "公布內容：%(what)s\n網頁：%(where)s\n期間：%(start)s 至 %(end)s；"
            "期滿請下架並於平台登錄下架時間。\n%(note)s\n%(link)s"
        )
    else:
        subject = _("【網頁公布個資核准】不核准：%(unit)s %(where)s")
        body = _(
            "您的網頁公布個人資料申請不核准（條文 7.4），核定者：%(by)s。\n理由：%(note)s\n"
            "公布內容：%(what)s\n網頁：%(where)s\n%(link)s"
        )
    values = {**facts, "by": approval.decided_by.display_name, "note": approval.decision_note}
    _notify(
        [approval.requested_by],
        subject=subject % values,
        body=(body % values).replace("\n\n", "\n"),
        key=f"privacy.publishing:{approval.pk}:{approval.status}",
        actor=actor,
    )


def refresh_duty() -> None:
    from isms.compliance import engine

    engine.refresh(DUTY)


# Steps -----------------------------------------------------------------------------------------
def _lock(approval: PublishingApproval) -> PublishingApproval:
    return (
        PublishingApproval.objects.select_for_update(of=("self",))
        .select_related("unit", "requested_by__person")
        .get(pk=approval.pk)
    )


def _step_error(approval, expected: str, verb: str) -> str:
    if approval.voided_at is not None:
        return _("此申請已作廢。")
    if approval.status != expected:
        return _("此申請目前為「%(status)s」，不能%(verb)s。") % {
            "status": approval.get_status_display(),
            "verb": verb,
        }
    return ""


@transaction.atomic
def save_request(
    approval: PublishingApproval, *, actor, categories, today: dt.date | None = None
) -> PublishingApproval:
    """File a request (the actor is its requester; the deciders are told) or correct a
    pending one (its requester or the officer). ``today`` is for tests and the demo."""
    categories = list({c.pk: c for c in categories or ()}.values())
    kept = None
    if approval.pk is None:
        if not acts_for_a_unit(actor):
            raise PermissionDenied
        approval.requested_by = actor
        approval.status = Status.PENDING
        approval.decided_by, approval.decided_at, approval.decision_note = None, None, ""
        approval.removed_by, approval.removed_at = None, None
        approval.voided_at, approval.voided_by, approval.void_reason = None, None, ""
    else:
        kept = _lock(approval)
        if not (is_officer(actor) or kept.requested_by_id == actor.pk):
            raise PermissionDenied
        if kept.voided_at is not None:
            raise ValidationError({"__all__": _("此申請已作廢，不能修改。")})
        if kept.status != Status.PENDING:
            raise ValidationError(
                {
                    "__all__": _(
                        "此申請已%(status)s，不能修改；內容或期間變更請重新提出申請（條文 7.4）。"
                    )
                    % {"status": kept.get_status_display()}
                }
            )
        for name in PublishingApproval._meta.concrete_fields:
            if name.name not in ENTRY_FIELDS and not name.primary_key:
                setattr(approval, name.attname, getattr(kept, name.attname))
    normalise(approval)
    errors = check_request(approval, categories=categories, actor=actor, kept=kept, today=today)
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        trail.save_with_lists(approval, kept=kept, lists={"categories": categories})
    if kept is None:
        approval = PublishingApproval.objects.select_related("unit", "requested_by__person").get(
            pk=approval.pk
        )
        _tell_deciders(approval, actor=actor)
    return approval


@transaction.atomic
def decide(
    approval: PublishingApproval,
    *,
    actor,
    approve: bool,
    note: str = "",
    now: dt.datetime | None = None,
) -> PublishingApproval:
    """The head's (or principal's) decision on a pending request.

    1. Pending and not voided (no deciding twice).
    2. The unit has a head with an active login; the actor is the one who decides
       (``may_decide``), else ``PermissionDenied``.
    3. A rejection gives its reason; an approval comes before the end of the period.
    """
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    approval = _lock(approval)
    verb = _("核准") if approve else _("不核准")
    if error := _step_error(approval, Status.PENDING, verb):
        raise ValidationError({"__all__": error})
    head = head_of(approval.unit_id)
    kind, _head_user = decider(approval, head)
    if kind in (Decider.NONE, Decider.INACTIVE):
        raise ValidationError(
            {
                "__all__": _(
                    "「%(unit)s」尚未設定單位主管（或其帳號已停用），無法核定；"
                    "請資安業務承辦人先設定單位主管（條文 7.4）。"
                )
                % {"unit": approval.unit.name}
            }
        )
    if not may_decide(actor, approval, head):
        raise PermissionDenied
    note = (note or "").strip()
    errors = {}
    if not approve and not note:
        errors["note"] = _("不核准時請填寫理由（核定意見），申請人會收到通知。")
    elif len(note) > TEXT_LIMITS["decision_note"]:
        errors["note"] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
            "limit": TEXT_LIMITS["decision_note"],
            "n": len(note),
        }
    if approve and approval.publish_until < today:
        errors["__all__"] = _("公布期限（%(day)s）已過，不能核准；請申請人以新的期間重新申請。") % {
            "day": roc.format_roc(approval.publish_until)
        }
    if errors:
        raise ValidationError(errors)
    approval.status = Status.APPROVED if approve else Status.REJECTED
    approval.decided_by = actor
    approval.decided_at = now
    approval.decision_note = note
    with trail.as_actor(actor):
        approval.save(
            update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"]
        )
    _tell_requester(approval, actor=actor)
    refresh_duty()
    return approval


def approve(approval, *, actor, note: str = "", now=None) -> PublishingApproval:
    return decide(approval, actor=actor, approve=True, note=note, now=now)


def reject(approval, *, actor, note: str, now=None) -> PublishingApproval:
    return decide(approval, actor=actor, approve=False, note=note, now=now)


@transaction.atomic
def record_removal(
    approval: PublishingApproval,
    *,
    actor,
    removed_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> PublishingApproval:
    """Record that the data is off the page (已下架): the requester, the unit's head or
    the officer, once approved; when (default now) is not in the future nor before the
    approval."""
    now = now or timezone.now()
    approval = _lock(approval)
    if error := _step_error(approval, Status.APPROVED, _("登錄下架")):
        raise ValidationError({"__all__": error})
    if not may_remove(actor, approval):
        raise PermissionDenied
    removed_at = removed_at or now
    if removed_at > now + CLOCK_SKEW:
        raise ValidationError({"removed_at": _("下架時間不可晚於現在。")})
    if approval.decided_at and removed_at < approval.decided_at:
        raise ValidationError(
            {
                "removed_at": _("下架時間不可早於核准時間（%(when)s）。")
                % {"when": roc.format_roc_datetime(approval.decided_at)}
            }
        )
    approval.status = Status.REMOVED
    approval.removed_at = removed_at
    approval.removed_by = actor
    with trail.as_actor(actor):
        approval.save(update_fields=["status", "removed_at", "removed_by", "updated_at"])
    refresh_duty()
    return approval


@transaction.atomic
def withdraw(approval: PublishingApproval, *, actor, reason: str) -> PublishingApproval:
    """The requester withdraws a pending request (it is voided with the reason)."""
    approval = _lock(approval)
    if approval.requested_by_id != actor.pk:
        raise PermissionDenied
    if error := _step_error(approval, Status.PENDING, _("撤回")):
        raise ValidationError({"__all__": error})
    core_services.record_void(approval, actor=actor, reason=reason)
    refresh_duty()
    return approval


@transaction.atomic
def void_approval(approval: PublishingApproval, *, actor, reason: str) -> PublishingApproval:
    """The security officer voids a mistaken record (it leaves the duty)."""
    if not is_officer(actor):
        raise PermissionDenied
    approval = _lock(approval)
    core_services.record_void(approval, actor=actor, reason=reason)
    refresh_duty()
    return approval
