"""The semester reviews of accounts (2.7) and of privileged accounts (2.8, A-4).

Each semester (學年度 + 學期 from the school profile) the security officer starts the
check of every system's accounts; each system's administrators confirm or disable every
account and complete the check (the security officer only for a system that has no
administrator). A departed holder's account is never kept. A system administrator or the
security officer prepares the list of privileged accounts with their rights and holders
(A-4) and the supervisor reviews it.

A review counts for the semester it reviews (``school_year``/``semester``), not for the
semester in which it was completed: one completed after its semester ended still keeps
that semester's duty, flagged as late (``late``), and counts at the semester's last
second (``counted_at``).

As in ``services``: every function takes the acting person, validates before it writes
(``ValidationError`` with field → zh-TW message; nothing saved) and saves inside
``trail.as_actor(actor)`` so that the audit trail names the person.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail
from isms.compliance.rhythms import LAST_SECOND, day_start
from isms.core import roc
from isms.core.access import has_role
from isms.core.models import Person, SchoolProfile
from isms.core.roles import SECURITY_OFFICER

from . import services
from .models import (
    Account,
    AccountReview,
    AccountReviewItem,
    InformationSystem,
    PrivilegedReview,
    PrivilegedReviewItem,
)

Decision = AccountReviewItem.Decision
ACCOUNT_REVIEW_DUTY = "identity.account_review"
PRIVILEGED_REVIEW_DUTY = "identity.privileged_review"


def _save(obj, actor):
    with trail.as_actor(actor):
        obj.save()
    return obj


def current_term(today=None) -> roc.SchoolTerm:
    """The semester of today (Taipei) under the school profile's start days."""
    return roc.term_for_school(today)


def term_label(school_year: int, semester: int) -> str:
    return _("%(year)d學年度第%(semester)d學期") % {"year": school_year, "semester": semester}


def term_starts(profile=None) -> dict:
    """The school's semester start days as ``roc.school_term`` keyword arguments."""
    return roc.profile_term_starts(profile if profile is not None else SchoolProfile.load())


def term_of(school_year: int, semester: int, starts: dict | None = None) -> roc.SchoolTerm:
    """The semester ``school_year``/``semester`` with its days, under the school's start days."""
    starts = starts if starts is not None else term_starts()
    year = school_year + roc.ROC_OFFSET + (0 if semester == 1 else 1)
    month, day = starts["first_start"] if semester == 1 else starts["second_start"]
    day = min(day, calendar.monthrange(year, month)[1])
    return roc.school_term(dt.date(year, month, day), **starts)


def counted_at(school_year: int, semester: int, moment: dt.datetime, starts: dict) -> dt.datetime:
    """The moment a review done at ``moment`` counts at for the semester duty.

    A review keeps the duty of the semester it reviews: done inside that semester, it
    counts when it was done; done after the semester ended (late), at the semester's last
    second; done before it began (a review started for a later semester), at its first.
    """
    term = term_of(school_year, semester, starts)
    first = day_start(term.start)
    last = day_start(term.end + dt.timedelta(days=1)) - LAST_SECOND
    return min(max(moment, first), last)


def done_late(school_year: int, semester: int, moment, starts: dict) -> bool:
    """Done (completed, reviewed) after the last day of the semester it is for."""
    if moment is None:
        return False
    return timezone.localtime(moment).date() > term_of(school_year, semester, starts).end


def late(review, starts: dict | None = None) -> bool:
    """An account review completed, or an A-4 list reviewed, after its semester ended."""
    moment = review.reviewed_at if isinstance(review, PrivilegedReview) else review.completed_at
    return done_late(review.school_year, review.semester, moment, starts or term_starts())


def term_over(review, today: dt.date | None = None, starts: dict | None = None) -> bool:
    """The semester of the review has ended (what is done now is done late)."""
    today = today or timezone.localdate()
    return today > term_of(review.school_year, review.semester, starts).end


# Who acts ----------------------------------------------------------------------------------
def is_owner(user, system: InformationSystem) -> bool:
    """Who works a system's checklist and completes it: the system's administrators (its
    managing side, 2.7); the security officer only for a system that has none."""
    if user is None or not user.is_authenticated:
        return False
    administrators = set(system.administrators.values_list("pk", flat=True))
    if administrators:
        return user.pk in administrators
    return has_role(user, SECURITY_OFFICER)  # superusers too


def owned_system_ids(user) -> set[int]:
    """The systems whose checklists this person works: those they administer, and for the
    security officer those without an administrator."""
    if user is None or not user.is_authenticated:
        return set()
    owned = Q(administrators=user)
    if has_role(user, SECURITY_OFFICER):
        owned |= Q(administrators__isnull=True)
    return set(InformationSystem.objects.filter(owned).values_list("pk", flat=True).distinct())


def _require_owner(review: AccountReview, actor) -> None:
    if actor is not None and not is_owner(actor, review.system):
        raise PermissionDenied


# Findings of an account ----------------------------------------------------------------------
def departed(person: Person | None, today: dt.date) -> bool:
    """The holder has left: status 離職, or a leave date reached."""
    if person is None:
        return False
    return person.status == Person.Status.LEFT or (
        person.leave_date is not None and person.leave_date <= today
    )


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    needs_note: bool  # keeping the account needs a written reason
    refuses_keep: bool = False  # the account cannot be kept at all

    @property
    def highlight(self) -> bool:
        return self.needs_note or self.refuses_keep


def departed_message() -> str:
    return _(
        "使用人已離職，帳號不可保留，只能停用（條文 2.7；A-3 帳號使用注意事項 5："
        "「使用者離職須移除其系統帳號始完成離職手續」）。"
    )


def flags(account: Account, today: dt.date | None = None) -> list[Flag]:
    """What the owner should look at: a departed holder, an unjustified shared account…"""
    today = today or timezone.localdate()
    found = []
    if departed(account.person, today):
        found.append(Flag("departed", _("使用人已離職"), False, refuses_keep=True))
    if account.unjustified_shared:
        found.append(Flag("shared", _("共用帳號未說明理由"), True))
    if account.kind == Account.Kind.PRIVILEGED and not account.rights.strip():
        found.append(Flag("rights", _("特權帳號未填權限說明"), False))
    unused = dt.timedelta(days=settings.ISMS_ACCOUNT_UNUSED_DAYS)
    if account.last_sign_in is not None and account.last_sign_in < timezone.now() - unused:
        found.append(
            Flag(
                "unused",
                _("超過 %(days)d 天未登入") % {"days": settings.ISMS_ACCOUNT_UNUSED_DAYS},
                False,
            )
        )
    return found


# Semester account review (2.7) ---------------------------------------------------------------
def review_accounts(system: InformationSystem):
    """The accounts a review takes in: every account of the system that is not removed."""
    return (
        Account.objects.active()
        .filter(system=system)
        .exclude(status=Account.Status.REMOVED)
        .order_by("username_key")
    )


def _existing_message(review: AccountReview) -> str:
    return _(
        "系統「%(system)s」%(term)s的帳號定期檢查已於 %(at)s 由 %(by)s 發起，每學期只做一次。"
    ) % {
        "system": review.system.name,
        "term": term_label(review.school_year, review.semester),
        "at": roc.format_roc_datetime(review.started_at),
        "by": review.started_by.display_name,
    }


@transaction.atomic
def start_review(
    system: InformationSystem, *, actor, term: roc.SchoolTerm | None = None, note: str = ""
) -> AccountReview:
    """Start this semester's review of one system: its accounts are snapshotted as items."""
    term = term or current_term()
    system = InformationSystem.objects.select_for_update().get(pk=system.pk)
    if system.is_voided:
        raise ValidationError({"system": _("系統「%(system)s」已作廢。") % {"system": system.name}})
    existing = (
        AccountReview.objects.select_related("system", "started_by__person")
        .filter(system=system, school_year=term.school_year, semester=term.semester)
        .first()
    )
    if existing is not None:
        raise ValidationError({"system": _existing_message(existing)})
    review = _save(
        AccountReview(
            system=system,
            school_year=term.school_year,
            semester=term.semester,
            started_by=actor,
            started_at=timezone.now(),
            note=(note or "").strip(),
        ),
        actor,
    )
    for account in review_accounts(system):
        _save(AccountReviewItem(review=review, account=account), actor)
    return review


@transaction.atomic
def start_reviews(
    *, actor, term: roc.SchoolTerm | None = None, note: str = ""
) -> tuple[list[AccountReview], list[InformationSystem]]:
    """Start this semester's review of every system not yet started: (started, skipped)."""
    term = term or current_term()
    systems = list(InformationSystem.objects.active().order_by("name"))
    if not systems:
        raise ValidationError({"system": _("尚未登錄任何資訊系統。")})
    done = set(
        AccountReview.objects.filter(
            school_year=term.school_year, semester=term.semester
        ).values_list("system_id", flat=True)
    )
    skipped = [s for s in systems if s.pk in done]
    todo = [s for s in systems if s.pk not in done]
    if not todo:
        raise ValidationError(
            {
                "system": _("%(term)s所有系統的帳號定期檢查都已發起，每學期只做一次。")
                % {"term": term.label}
            }
        )
    started = [start_review(s, actor=actor, term=term, note=note) for s in todo]
    return started, skipped


def review_progress(review: AccountReview) -> tuple[int, int]:
    """(decided items, all items) of a review."""
    counts = review.items.aggregate(total=Count("pk"), decided=Count("pk", filter=~Q(decision="")))
    return counts["decided"], counts["total"]


def _check_open(review: AccountReview) -> None:
    if review.completed_at is not None:
        raise ValidationError({"__all__": _("此帳號定期檢查已完成，不可再變更。")})


def _check_decision(item: AccountReviewItem, decision: str, note: str, today) -> dict:
    errors = {}
    if decision not in Decision.values:
        errors["decision"] = _("請選擇確認保留或停用。")
    elif item.decision == Decision.DISABLE and decision != Decision.DISABLE:
        errors["decision"] = _("帳號已於本次檢查停用；如需重新啟用，請至帳號頁面辦理。")
    elif decision == Decision.KEEP and departed(item.account.person, today):
        errors["decision"] = departed_message()
    elif decision == Decision.KEEP and not note:
        reasons = [f.label for f in flags(item.account, today) if f.needs_note]
        if reasons:
            errors["note"] = _("保留須說明理由（%(reasons)s）。") % {"reasons": "、".join(reasons)}
    return errors


def _apply(item: AccountReviewItem, decision: str, note: str, actor, now) -> AccountReviewItem:
    account = item.account
    if decision == Decision.DISABLE and account.status == Account.Status.ACTIVE:
        reason = _("%(term)s帳號定期檢查停用") % {
            "term": term_label(item.review.school_year, item.review.semester)
        }
        if note:
            reason = f"{reason}：{note}"
        try:
            item.account = services.set_status(
                account, Account.Status.DISABLED, actor=actor, note=reason
            )
        except ValidationError as error:
            raise ValidationError(
                {
                    "decision": _("帳號「%(account)s」無法停用：%(reason)s")
                    % {"account": account.username, "reason": "；".join(error.messages)}
                }
            ) from None
    item.decision, item.note = decision, note
    item.decided_by, item.decided_at = actor, now
    return _save(item, actor)


@transaction.atomic
def decide_item(
    item: AccountReviewItem, *, actor, decision: str, note: str = ""
) -> AccountReviewItem:
    """Confirm (保留) or disable (停用, through ``services.set_status``) one account."""
    decide_items(item.review, [(item, decision, note)], actor=actor)
    item.refresh_from_db()
    return item


@transaction.atomic
def decide_items(review: AccountReview, decisions, *, actor) -> list[AccountReviewItem]:
    """Several decisions at once: ``[(item, decision, note), …]``; all or nothing.

    A ``ValidationError`` names each refused item: ``{item pk: {field: message}}`` under
    ``error.error_dict`` keys ``"<pk>-decision"`` / ``"<pk>-note"``.
    """
    review = AccountReview.objects.select_for_update().select_related("system").get(pk=review.pk)
    _require_owner(review, actor)
    _check_open(review)
    today, now = timezone.localdate(), timezone.now()
    wanted = {item.pk: (decision, (note or "").strip()) for item, decision, note in decisions}
    items = {
        i.pk: i
        for i in review.items.select_related("account__person", "account__system").filter(
            pk__in=wanted
        )
    }
    errors = {}
    for pk, (decision, note) in wanted.items():
        item = items.get(pk)
        if item is None:
            errors[f"{pk}-decision"] = _("此帳號不在本次檢查中。")
            continue
        for name, message in _check_decision(item, decision, note, today).items():
            errors[f"{pk}-{name}"] = message
    if errors:
        raise ValidationError(errors)
    done = []
    for pk, (decision, note) in wanted.items():
        item = items[pk]
        if item.decision == decision and item.note == note:
            continue  # unchanged: nothing to record
        item.review = review
        try:
            done.append(_apply(item, decision, note, actor, now))
        except ValidationError as error:
            raise ValidationError({f"{pk}-decision": error.messages}) from None
    return done


@transaction.atomic
def complete_review(review: AccountReview, *, actor, note: str | None = None) -> AccountReview:
    """Every account decided: the owner completes the review (the duty's evidence)."""
    review = AccountReview.objects.select_for_update().select_related("system").get(pk=review.pk)
    _require_owner(review, actor)
    _check_open(review)
    decided, total = review_progress(review)
    if decided < total:
        raise ValidationError(
            {
                "__all__": _("尚有 %(n)d 個帳號未確認保留或停用，全部確認後才能完成檢查。")
                % {"n": total - decided}
            }
        )
    # A holder may have left after their account was kept: it cannot stay kept.
    today = timezone.localdate()
    kept = review.items.filter(decision=Decision.KEEP).select_related("account__person")
    departed_kept = [i.account.username for i in kept if departed(i.account.person, today)]
    if departed_kept:
        raise ValidationError(
            {
                "__all__": _(
                    "帳號%(list)s的使用人已離職，不可保留，請改為停用後再完成檢查（條文 2.7；"
                    "A-3 帳號使用注意事項 5：「使用者離職須移除其系統帳號始完成離職手續」）。"
                )
                % {"list": "、".join(f"「{name}」" for name in departed_kept)}
            }
        )
    review.completed_by, review.completed_at = actor, timezone.now()
    if note is not None and note.strip():
        review.note = (review.note + "\n" + note.strip()).strip()
    _save(review, actor)
    services.refresh_duties(ACCOUNT_REVIEW_DUTY)
    return review


# Privileged accounts (2.8, A-4) --------------------------------------------------------------
def privileged_accounts():
    """Every active privileged account on a system in use."""
    return (
        Account.objects.active()
        .filter(
            kind=Account.Kind.PRIVILEGED,
            status=Account.Status.ACTIVE,
            system__voided_at__isnull=True,
        )
        .select_related("system", "person")
        .order_by("system__name", "username_key")
    )


def missing_rights(accounts=None):
    """Privileged accounts whose rights are not written down: they block the A-4 list."""
    accounts = privileged_accounts() if accounts is None else accounts
    return [a for a in accounts if not a.rights.strip()]


def holder_of(account: Account) -> str:
    """The 人員姓名 of A-4: the holder's name, else the account's display name."""
    if account.person_id:
        return account.person.name
    return account.display_name


def missing_holder(accounts=None):
    """Privileged accounts with no 人員姓名 (no holder, no display name): they block A-4."""
    accounts = privileged_accounts() if accounts is None else accounts
    return [a for a in accounts if not holder_of(a).strip()]


def blocking_messages(accounts) -> list[str]:
    """Why the A-4 list cannot be filled in with these accounts (empty: it can)."""
    out = []
    lacking = missing_rights(accounts)
    if lacking:
        out.append(
            _("下列特權帳號尚未填寫權限說明（條文 2.8），補齊後才能填寫清單：%(list)s")
            % {"list": "、".join(str(a) for a in lacking)}
        )
    nameless = missing_holder(accounts)
    if nameless:
        out.append(
            _("下列特權帳號沒有人員姓名（A-4），請指定使用人或填寫顯示名稱後才能填寫清單：%(list)s")
            % {"list": "、".join(str(a) for a in nameless)}
        )
    return out


@transaction.atomic
def prepare_privileged(*, actor, term: roc.SchoolTerm | None = None) -> PrivilegedReview:
    """Snapshot this semester's A-4 list; before the supervisor reviews it, prepare again
    to bring it up to date (the earlier snapshot is replaced). Every account on it needs
    its 權限說明 and a 人員姓名."""
    term = term or current_term()
    accounts = list(privileged_accounts())
    blocking = blocking_messages(accounts)
    if blocking:
        raise ValidationError({"__all__": blocking})
    review = (
        PrivilegedReview.objects.select_for_update()
        .filter(school_year=term.school_year, semester=term.semester)
        .first()
    )
    now = timezone.now()
    if review is not None:
        if review.reviewed_at is not None:
            raise ValidationError(
                {
                    "__all__": _("%(term)s的特權帳號清單已於 %(at)s 由主管覆核，每學期只做一次。")
                    % {
                        "term": term.label,
                        "at": roc.format_roc_datetime(review.reviewed_at),
                    }
                }
            )
        with trail.as_actor(actor):
            for old in review.items.all():
                old.delete()
        review.prepared_by, review.prepared_at = actor, now
    else:
        review = PrivilegedReview(
            school_year=term.school_year,
            semester=term.semester,
            prepared_by=actor,
            prepared_at=now,
        )
    _save(review, actor)
    for account in accounts:
        _save(
            PrivilegedReviewItem(
                review=review,
                account=account,
                rights=account.rights.strip(),
                holder=holder_of(account),
            ),
            actor,
        )
    return review


def outdated(review: PrivilegedReview) -> bool:
    """The privileged accounts, their rights or holders changed since the list was prepared."""
    now = {(a.pk, a.rights.strip(), holder_of(a)) for a in privileged_accounts()}
    then = {(i.account_id, i.rights, i.holder) for i in review.items.all()}
    return now != then


@transaction.atomic
def review_privileged(review: PrivilegedReview, *, actor, note: str = "") -> PrivilegedReview:
    """The supervisor reviews (覆核) the A-4 list (the duty's evidence).

    Only the list as the accounts stand: a signature over rights that changed since would
    put on file an A-4 that no longer describes the systems (2.8).
    """
    review = PrivilegedReview.objects.select_for_update().get(pk=review.pk)
    errors = {}
    if review.reviewed_at is not None:
        errors["__all__"] = _("此特權帳號清單已覆核。")
    elif actor is not None and actor.pk == review.prepared_by_id:
        errors["__all__"] = _("填寫人不可覆核自己填寫的清單，請由另一位主管覆核。")
    elif outdated(review):
        errors["__all__"] = _("清單填寫後特權帳號或其權限已有異動，請重新填寫清單後再覆核。")
    if errors:
        raise ValidationError(errors)
    review.reviewed_by, review.reviewed_at = actor, timezone.now()
    review.review_note = (note or "").strip()
    _save(review, actor)
    services.refresh_duties(PRIVILEGED_REVIEW_DUTY)
    return review
