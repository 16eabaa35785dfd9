"""The rules of data-subject requests (當事人權利請求; clause 7.8; PDPA arts. 3, 10, 11, 13).

A person whose personal data the school keeps may query it or ask to view it, ask for a
copy (PDPA art. 10), ask to supplement or correct it, to stop collecting, processing or
using it, or to delete it (art. 11). The school decides within the legal period (art. 13)
and answers in writing. Each request is a ``SubjectRequest``:

1. The security officer records it (``save_request``) with its kind, the moment of
   receipt, the requester (or agent) and the files concerned; the service gives it its
   number ``PD-115-0003`` (the ROC year of receipt and a running number per year).
2. 查核身分 (``check_identity``): how the requester's identity was checked, by whom, when.
   The rights are the data subject's own (art. 3): no decision before this check.
3. 延長期限 (``extend``): once, by the same length (15 or 30 days), within the period,
   with the reason written to the requester and the date that notice was sent (art. 13).
4. 准駁決定 (``decide``): granted, partly granted or refused; a refusal or partial grant
   states its reason and legal basis (e.g. art. 10 但書, art. 11 但書).
5. 回覆 (``reply``): when, how and what the requester was told; the reply is the
   evidence of the duty ``privacy.subject_request``.

The deadline (``deadline``), counted in Asia/Taipei calendar days:

1. The receipt day is the local date of ``received_at``; it is not counted.
2. The period is 15 days for query, view and copy (art. 13 para. 1), 30 days for
   supplement or correction, stop and delete (art. 13 para. 2).
3. The last day is the receipt day + the period (+ the period again once extended).
4. The deadline is the end of the last day (23:59:59.999999 Taipei): a request received
   115/11/28 at 23:50 for a query is due by the end of 115/12/13, overdue from
   115/12/14 00:00.

Every function validates first (``ValidationError`` field → zh-TW message citing the
article or clause, nothing saved), checks permission (``PermissionDenied``), takes the
acting person and saves inside ``trail.as_actor``.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import numbering, roc
from isms.core.access import has_role
from isms.core.roles import SECURITY_OFFICER
from isms.core.services import lock, record_step

from .models import PersonalDataFile, SubjectRequest

DUTY = "privacy.subject_request"
CLAUSE = "7.8"
Kind = SubjectRequest.Kind
Decision = SubjectRequest.Decision

# PDPA art. 10 (query, view, copy): 15 days; art. 11 (supplement or correct, stop, delete):
# 30 days (art. 13 paras. 1 and 2); one extension by the same length.
ART_10_KINDS = frozenset({Kind.QUERY, Kind.VIEW, Kind.COPY})
ART_11_KINDS = frozenset({Kind.CORRECT, Kind.STOP, Kind.DELETE})
SHORT_DAYS = 15
LONG_DAYS = 30
ONE_DAY = dt.timedelta(days=1)
# The deadline is the last instant of the last day (the dashboard shows 23:59 of that day).
LAST_INSTANT = dt.timedelta(microseconds=1)
# A moment "now" on the recorder's clock may run a little ahead of the server's.
CLOCK_SKEW = dt.timedelta(minutes=5)
# Reminders to the handler and the security officers before the deadline.
REMINDERS = (dt.timedelta(days=5), dt.timedelta(days=1))
# 「N 日內到期」 of the list's filter.
DUE_SOON_DAYS = 5

# Who records and handles the requests; who reads them is the register's.
HANDLERS = frozenset({SECURITY_OFFICER})

NUMBER_TEMPLATE = "PD-{year}-"
NUMBER_WIDTH = 4

# What a person enters on the form (or the API); the rest is the service's.
ENTRY_FIELDS = (
    "kind",
    "received_at",
    "channel",
    "requester_name",
    "requester_contact",
    "by_agent",
    "agent_name",
    "details",
    "handler",
)
# These set the legal deadline: fixed once the request is extended, decided or answered.
DEADLINE_FIELDS = ("kind", "received_at")
# Kept as stored whatever an edit sends: the steps have their own actions.
KEPT_FIELDS = (
    "number",
    "identity_checked_at",
    "identity_checked_by_id",
    "identity_method",
    "extended_at",
    "extension_reason",
    "extension_notified_on",
    "decision",
    "decision_reason",
    "decided_at",
    "decided_by_id",
    "replied_at",
    "reply_method",
    "reply_text",
    "voided_at",
    "voided_by_id",
    "void_reason",
    "created_at",
)
TEXT_FIELDS = ("requester_name", "requester_contact", "agent_name", "details")


# Who may do what ---------------------------------------------------------------------------
def may_handle(user) -> bool:
    """Record requests and take each step: the security officer."""
    return has_role(user, *HANDLERS)


# The legal period ----------------------------------------------------------------------------
def period_days(kind: str) -> int:
    """15 days for query, view and copy (art. 10); 30 for the others (art. 11)."""
    return SHORT_DAYS if kind in ART_10_KINDS else LONG_DAYS


def article(kind: str) -> int:
    """The PDPA article of the right asked for: 10 or 11."""
    return 10 if kind in ART_10_KINDS else 11


def paragraph(kind: str) -> int:
    """The paragraph of PDPA art. 13 that sets the period: 1 (art. 10) or 2 (art. 11)."""
    return 1 if kind in ART_10_KINDS else 2


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in Asia/Taipei."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def last_day_of(kind: str, received_at: dt.datetime, extended: bool) -> dt.date:
    """The last day of the period: the receipt day (not counted) + 15 or 30 days, twice
    that once extended."""
    days = period_days(kind) * (2 if extended else 1)
    return local_date(received_at) + dt.timedelta(days=days)


def end_of(day: dt.date) -> dt.datetime:
    """The last instant of ``day`` in Asia/Taipei."""
    return day_start(day + ONE_DAY) - LAST_INSTANT


def deadline_of(kind: str, received_at: dt.datetime, extended: bool) -> dt.datetime:
    return end_of(last_day_of(kind, received_at, extended))


def last_day(request: SubjectRequest) -> dt.date:
    """The last day to answer, with the extension when there is one."""
    return last_day_of(request.kind, request.received_at, request.extended_at is not None)


def deadline(request: SubjectRequest) -> dt.datetime:
    """The end of the last day to answer (Asia/Taipei), with the extension."""
    return end_of(last_day(request))


def original_last_day(request: SubjectRequest) -> dt.date:
    return last_day_of(request.kind, request.received_at, False)


def extended_last_day(request: SubjectRequest) -> dt.date:
    return last_day_of(request.kind, request.received_at, True)


def overdue(request: SubjectRequest, now: dt.datetime | None = None) -> bool:
    """Not answered and past its deadline."""
    return request.replied_at is None and (now or timezone.now()) > deadline(request)


class Countdown:
    """The list's 「期限」: how the request stands against its deadline."""

    OPEN = "open"
    TODAY = "today"
    OVERDUE = "overdue"
    REPLIED = "replied"
    REPLIED_LATE = "replied_late"


def countdown(request: SubjectRequest, now: dt.datetime | None = None) -> tuple[str, str]:
    """(code, text): 剩 N 天 / 今日到期 / 逾期 N 天 for an open request; 已回覆 or
    逾期 N 天回覆 for an answered one."""
    end = last_day(request)
    if request.replied_at is not None:
        late = (local_date(request.replied_at) - end).days
        if late > 0:
            return Countdown.REPLIED_LATE, _("逾期 %(n)d 天回覆") % {"n": late}
        return Countdown.REPLIED, _("已回覆")
    left = (end - local_date(now or timezone.now())).days
    if left > 0:
        return Countdown.OPEN, _("剩 %(n)d 天") % {"n": left}
    if left == 0:
        return Countdown.TODAY, _("今日到期")
    return Countdown.OVERDUE, _("逾期 %(n)d 天") % {"n": -left}


def _cut(kinds, extended: bool, before: dt.date) -> Q:
    return Q(
        kind__in=sorted(kinds), extended_at__isnull=not extended, received_at__lt=day_start(before)
    )


def last_day_before_q(day: dt.date) -> Q:
    """The requests whose last day is before ``day``, as a query (one per kind × extension:
    the last day is before ``day`` when the receipt day is before ``day`` − the period)."""
    q = Q()
    for kinds, days in ((ART_10_KINDS, SHORT_DAYS), (ART_11_KINDS, LONG_DAYS)):
        for extended in (False, True):
            span = dt.timedelta(days=days * (2 if extended else 1))
            q |= _cut(kinds, extended, day - span)
    return q


def overdue_q(now: dt.datetime | None = None) -> Q:
    """Open requests past their deadline (the list's filter): the last day is before today."""
    return Q(replied_at__isnull=True) & last_day_before_q(local_date(now or timezone.now()))


def due_soon_q(now: dt.datetime | None = None, days: int = DUE_SOON_DAYS) -> Q:
    """Open requests whose last day is today or within ``days`` days."""
    today = local_date(now or timezone.now())
    return (
        Q(replied_at__isnull=True)
        & ~last_day_before_q(today)
        & last_day_before_q(today + dt.timedelta(days=days + 1))
    )


# The state of a request ---------------------------------------------------------------------
class Status:
    """The list's 「狀態」."""

    IDENTITY = "identity"
    PROCESSING = "processing"
    EXTENDED = "extended"
    DECIDED = "decided"
    REPLIED = "replied"

    choices = [
        (IDENTITY, gettext_lazy("待查核身分")),
        (PROCESSING, gettext_lazy("處理中")),
        (EXTENDED, gettext_lazy("已延長")),
        (DECIDED, gettext_lazy("已決定")),
        (REPLIED, gettext_lazy("已回覆")),
    ]


def status(request: SubjectRequest) -> str:
    if request.replied_at is not None:
        return Status.REPLIED
    if request.decided_at is not None:
        return Status.DECIDED
    if request.extended_at is not None:
        return Status.EXTENDED
    if request.identity_checked_at is not None:
        return Status.PROCESSING
    return Status.IDENTITY


def status_filter(code: str) -> Q:
    """The requests of one status, as a query."""
    if code == Status.REPLIED:
        return Q(replied_at__isnull=False)
    open_ = Q(replied_at__isnull=True)
    if code == Status.DECIDED:
        return open_ & Q(decided_at__isnull=False)
    undecided = open_ & Q(decided_at__isnull=True)
    if code == Status.EXTENDED:
        return undecided & Q(extended_at__isnull=False)
    if code == Status.PROCESSING:
        return undecided & Q(extended_at__isnull=True, identity_checked_at__isnull=False)
    if code == Status.IDENTITY:
        return undecided & Q(extended_at__isnull=True, identity_checked_at__isnull=True)
    raise ValueError(code)


def person_name(user) -> str:
    return user.display_name if user is not None else ""


def requester_label(request: SubjectRequest) -> str:
    """請求人, with the agent: 王小明（代理人：王大明）."""
    if request.by_agent and request.agent_name:
        return _("%(name)s（代理人：%(agent)s）") % {
            "name": request.requester_name,
            "agent": request.agent_name,
        }
    return request.requester_name


# Recording ----------------------------------------------------------------------------------
def _active_login(user_id) -> bool:
    return get_user_model().objects.filter(pk=user_id, is_active=True).exists()


def _too_long(model_field: str, value: str) -> str | None:
    limit = SubjectRequest._meta.get_field(model_field).max_length
    if limit and len(value) > limit:
        return _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {"limit": limit, "n": len(value)}
    return None


def _moment_errors(moment, *, field, label, after, after_label, now) -> dict:
    """A step's moment: given, not in the future (``CLOCK_SKEW`` allowed), not before
    ``after`` (the receipt or the step before)."""
    if moment > now + CLOCK_SKEW:
        return {field: _("%(label)s不可晚於現在。") % {"label": label}}
    # Forms take minutes: a step in the same minute as the one before it is not earlier.
    if after is not None and moment < after.replace(second=0, microsecond=0):
        return {
            field: _("%(label)s不可早於%(after)s（%(moment)s）。")
            % {"label": label, "after": after_label, "moment": roc.format_roc_datetime(after)}
        }
    return {}


def normalise(request: SubjectRequest) -> None:
    """Trim the texts; no agent's name unless an agent made the request."""
    for name in TEXT_FIELDS:
        setattr(request, name, (getattr(request, name) or "").strip())
    if not request.by_agent:
        request.agent_name = ""


def check_request(request: SubjectRequest, *, kept: SubjectRequest | None = None, now=None) -> dict:
    """Field errors of a request as it would be saved.

    1. 請求事項 and 受理方式: one of the choices.
    2. 受理時間: given, not in the future, not before 民國元年, not after the identity check.
    3. 請求人 and the contact where the reply goes; an agent's request names the agent.
    4. 請求內容 given.
    5. 承辦人: an active login (or the one the request already had).
    6. Texts within the model's limits.
    """
    now = now or timezone.now()
    errors = {}
    if request.kind not in Kind.values:
        errors["kind"] = _(
            "請選擇請求事項：查詢、請求閱覽、請求製給複製本、請求補充或更正、"
            "請求停止蒐集、處理或利用、請求刪除（個人資料保護法第 3 條；條文 7.8）。"
        )
    if request.channel not in SubjectRequest.Channel.values:
        errors["channel"] = _("請選擇受理方式。")
    received = request.received_at
    if received is None:
        errors["received_at"] = _(
            "請填寫受理時間：法定期限自受理之日起算（個人資料保護法第 13 條）。"
        )
    elif received > now + CLOCK_SKEW:
        errors["received_at"] = _("受理時間不可晚於現在。")
    elif local_date(received) < roc.MIN_DATE:
        errors["received_at"] = _("民國元年（1912 年）以前的日期無法以民國紀年表示。")
    elif kept is not None and kept.identity_checked_at and received > kept.identity_checked_at:
        errors["received_at"] = _("受理時間不可晚於身分查核時間（%(moment)s）。") % {
            "moment": roc.format_roc_datetime(kept.identity_checked_at)
        }
    if not request.requester_name:
        errors["requester_name"] = _("請填寫請求人（當事人）姓名。")
    if not request.requester_contact:
        errors["requester_contact"] = _("請填寫請求人的聯絡方式（回覆寄送的地址或電子郵件）。")
    if request.by_agent and not request.agent_name:
        errors["agent_name"] = _(
            "由代理人提出時，請填寫代理人姓名，並於查核身分時核對委任書（條文 7.8）。"
        )
    if not request.details:
        errors["details"] = _("請填寫請求內容：請求哪些個人資料、如何處理。")
    if not request.handler_id:
        errors["handler"] = _("請選擇承辦人。")
    elif not _active_login(request.handler_id) and (
        kept is None or kept.handler_id != request.handler_id
    ):
        errors["handler"] = _("承辦人須為在職的本校人員（有效的登入帳號）。")
    for name in TEXT_FIELDS:
        message = _too_long(name, getattr(request, name))
        if message and name not in errors:
            errors[name] = message
    return errors


def _insert_numbered(request: SubjectRequest, actor) -> None:
    """Save a new request as ``PD-115-0003`` (the ROC year of receipt); when another took
    that number meanwhile (the unique constraint says so), take the following one."""
    prefix = numbering.year_prefix(NUMBER_TEMPLATE, now=request.received_at)
    for _attempt in range(5):
        request.number = numbering.next_number(SubjectRequest, prefix, NUMBER_WIDTH)
        try:
            with transaction.atomic(), trail.as_actor(actor):
                request.save()
            return
        except IntegrityError:
            request.pk = None
            request._state.adding = True
    raise IntegrityError("no free data-subject request number")


def _lock(request: SubjectRequest) -> SubjectRequest:
    return lock(request)


def _changed(request, kept, names) -> list[str]:
    out = []
    for name in names:
        attname = SubjectRequest._meta.get_field(name).attname
        if getattr(request, attname) != getattr(kept, attname):
            out.append(name)
    return out


@transaction.atomic
def save_request(request: SubjectRequest, *, actor, files=None, now=None) -> SubjectRequest:
    """Record a request (numbered by the service) or correct one.

    ``files`` are the personal-data files concerned (None: keep those it has). Once the
    request is extended, decided or answered its kind and receipt (which set the legal
    deadline) stay; once answered only the files concerned may change.
    """
    if not may_handle(actor):
        raise PermissionDenied
    now = now or timezone.now()
    kept = None
    if request.pk is None:
        for name in KEPT_FIELDS:
            field = SubjectRequest._meta.get_field(name.removesuffix("_id"))
            setattr(request, field.attname, field.get_default())
        if not request.handler_id:
            request.handler = actor
        current_files = []
    else:
        kept = _lock(request)
        if kept.voided_at is not None:
            raise ValidationError({"__all__": _("此請求已作廢，不能修改。")})
        for name in KEPT_FIELDS:
            setattr(request, name, getattr(kept, name))
        current_files = list(kept.files.all())
    chosen = current_files if files is None else list(files)
    normalise(request)
    if kept is not None and kept.replied_at is not None:
        changed = _changed(request, kept, ENTRY_FIELDS)
        if changed:
            message = _(
                "本案已回覆請求人，只能修改涉及的個人資料檔案；如有錯誤請作廢後重新登錄"
                "（條文 7.8）。"
            )
            raise ValidationError({name: message for name in changed})
    elif kept is not None and (kept.extended_at or kept.decided_at):
        changed = _changed(request, kept, DEADLINE_FIELDS)
        if changed:
            message = _(
                "受理時間與請求事項決定法定期限（個人資料保護法第 13 條）；本案已延長或已作成"
                "決定，不能變更，如有錯誤請作廢後重新登錄。"
            )
            raise ValidationError({name: message for name in changed})
    errors = check_request(request, kept=kept, now=now)
    if errors:
        raise ValidationError(errors)
    if any(f.voided_at is not None for f in chosen if f.pk not in {c.pk for c in current_files}):
        raise ValidationError({"files": _("不能選擇已作廢的個人資料檔案。")})
    if kept is None:
        _insert_numbered(request, actor)
    else:
        with trail.as_actor(actor):
            request.save()
    if {f.pk for f in chosen} != {f.pk for f in current_files}:
        with trail.as_actor(actor):
            request.files.set(chosen)
    refresh_duty()
    return request


# The steps ----------------------------------------------------------------------------------
def _start(request: SubjectRequest, *, actor, what: str, now=None):
    """A step begins: the actor may handle requests, the request (read again, locked) is not
    voided. (request, now)."""
    if not may_handle(actor):
        raise PermissionDenied
    now = now or timezone.now()
    request = _lock(request)
    if request.voided_at is not None:
        raise ValidationError({"__all__": _("此請求已作廢，不能%(what)s。") % {"what": what}})
    return request, now


@transaction.atomic
def check_identity(
    request: SubjectRequest, *, actor, method: str, checked_at=None, now=None
) -> SubjectRequest:
    """查核身分: how the requester's (or agent's) identity was checked; the actor is the
    checker, ``checked_at`` (default now) not before the receipt nor in the future."""
    request, now = _start(request, actor=actor, what=_("查核身分"), now=now)
    if request.identity_checked_at is not None:
        raise ValidationError(
            {
                "identity_checked_at": _("已於 %(moment)s 由 %(name)s 查核身分，不需再次查核。")
                % {
                    "moment": roc.format_roc_datetime(request.identity_checked_at),
                    "name": person_name(request.identity_checked_by),
                }
            }
        )
    method = (method or "").strip()
    moment = checked_at or now
    errors = {}
    if not method:
        errors["identity_method"] = _(
            "請填寫身分查核方式，例如：國民身分證正本核對；代理人另核對委任書（條文 7.8）。"
        )
    elif message := _too_long("identity_method", method):
        errors["identity_method"] = message
    errors.update(
        _moment_errors(
            moment,
            field="identity_checked_at",
            label=_("身分查核時間"),
            after=request.received_at,
            after_label=_("受理時間"),
            now=now,
        )
    )
    if errors:
        raise ValidationError(errors)
    return record_step(
        request,
        actor=actor,
        identity_checked_at=moment,
        identity_checked_by=actor,
        identity_method=method,
    )


@transaction.atomic
def extend(
    request: SubjectRequest, *, actor, reason: str, notified_on=None, now=None
) -> SubjectRequest:
    """延長期限 (PDPA art. 13): once, by the same length, before the period ends and before
    the decision, with the reason written to the requester and the date that notice was
    sent (not before the receipt, not in the future)."""
    request, now = _start(request, actor=actor, what=_("延長期限"), now=now)
    law = {"paragraph": paragraph(request.kind)}
    if request.extended_at is not None:
        raise ValidationError(
            {
                "extended_at": _(
                    "處理期限僅得延長一次（個人資料保護法第 13 條第 %(paragraph)d 項）；"
                    "本案已於 %(moment)s 延長至 %(day)s。"
                )
                % {
                    **law,
                    "moment": roc.format_roc_datetime(request.extended_at),
                    "day": roc.format_roc(extended_last_day(request)),
                }
            }
        )
    if request.replied_at is not None:
        raise ValidationError(
            {"extended_at": _("本案已回覆請求人，不能再延長期限（個人資料保護法第 13 條）。")}
        )
    if request.decided_at is not None:
        raise ValidationError(
            {
                "extended_at": _(
                    "本案已作成准駁決定；延長的是作成決定的期限，決定後不能再延長"
                    "（個人資料保護法第 13 條）。"
                )
            }
        )
    if now > deadline(request):
        raise ValidationError(
            {
                "extended_at": _(
                    "原處理期限 %(day)s 已屆滿，不能再延長；延長須於期限內以書面通知請求人"
                    "（個人資料保護法第 13 條第 %(paragraph)d 項）。"
                )
                % {**law, "day": roc.format_roc(last_day(request))}
            }
        )
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["extension_reason"] = (
            _(
                "延長須以書面通知請求人延長原因，請填寫延長原因（個人資料保護法第 13 條第 "
                "%(paragraph)d 項）。"
            )
            % law
        )
    if notified_on is None:
        errors["extension_notified_on"] = (
            _("請填寫延長原因書面通知請求人的日期（個人資料保護法第 13 條第 %(paragraph)d 項）。")
            % law
        )
    elif notified_on < local_date(request.received_at):
        errors["extension_notified_on"] = _("書面通知日期不可早於受理日期（%(day)s）。") % {
            "day": roc.format_roc(local_date(request.received_at))
        }
    elif notified_on > local_date(now):
        errors["extension_notified_on"] = _(
            "書面通知日期不可晚於今天；請於寄出延長通知後再登錄延長。"
        )
    if errors:
        raise ValidationError(errors)
    record_step(
        request,
        actor=actor,
        extended_at=now,
        extension_reason=reason,
        extension_notified_on=notified_on,
    )
    refresh_duty()
    return request


def reason_needed_message(kind: str) -> str:
    if kind in ART_10_KINDS:
        return _(
            "駁回或部分准予須寫明理由及法律依據，例如個人資料保護法第 10 條但書各款（條文 7.8）。"
        )
    return _(
        "駁回或部分准予須寫明理由及法律依據，例如個人資料保護法第 11 條各項但書"
        "（執行職務所必須或經當事人書面同意）（條文 7.8）。"
    )


@transaction.atomic
def decide(
    request: SubjectRequest, *, actor, decision: str, reason: str = "", decided_at=None, now=None
) -> SubjectRequest:
    """准駁決定: after the identity check; a refusal or partial grant with its reason and
    legal basis; ``decided_at`` (default now) not before the identity check nor in the
    future. The actor is the one who decided."""
    request, now = _start(request, actor=actor, what=_("作成准駁決定"), now=now)
    if request.decided_at is not None:
        raise ValidationError(
            {
                "decision": _(
                    "本案已於 %(moment)s 作成決定（%(decision)s）；如有錯誤請作廢後重新登錄。"
                )
                % {
                    "moment": roc.format_roc_datetime(request.decided_at),
                    "decision": request.get_decision_display(),
                }
            }
        )
    if request.identity_checked_at is None:
        raise ValidationError(
            {
                "decision": _(
                    "請先查核請求人身分，再作准駁決定：權利須由當事人本人（或其代理人）行使"
                    "（個人資料保護法第 3 條；條文 7.8）。"
                )
            }
        )
    reason = (reason or "").strip()
    moment = decided_at or now
    errors = {}
    if decision not in Decision.values:
        errors["decision"] = _("請選擇准駁決定：准予、部分准予或駁回。")
    elif decision != Decision.GRANTED and not reason:
        errors["decision_reason"] = reason_needed_message(request.kind)
    errors.update(
        _moment_errors(
            moment,
            field="decided_at",
            label=_("決定時間"),
            after=request.identity_checked_at,
            after_label=_("身分查核時間"),
            now=now,
        )
    )
    if errors:
        raise ValidationError(errors)
    return record_step(
        request,
        actor=actor,
        decision=decision,
        decision_reason=reason,
        decided_at=moment,
        decided_by=actor,
    )


@transaction.atomic
def reply(
    request: SubjectRequest, *, actor, method: str, text: str, replied_at=None, now=None
) -> SubjectRequest:
    """回覆: after the decision; when (default now; not before the decision, not in the
    future), how and what the requester was told. The evidence of the duty."""
    request, now = _start(request, actor=actor, what=_("登錄回覆"), now=now)
    if request.replied_at is not None:
        raise ValidationError(
            {
                "replied_at": _("本案已於 %(moment)s 回覆請求人。")
                % {"moment": roc.format_roc_datetime(request.replied_at)}
            }
        )
    if request.decided_at is None:
        raise ValidationError(
            {
                "replied_at": _(
                    "請先作成准駁決定，再回覆請求人"
                    "（個人資料保護法第 13 條：於期限內為准駁之決定）。"
                )
            }
        )
    method = (method or "").strip()
    text = (text or "").strip()
    moment = replied_at or now
    errors = {}
    if not method:
        errors["reply_method"] = _("請填寫回覆方式，例如：掛號郵寄、電子郵件、當面交付。")
    elif message := _too_long("reply_method", method):
        errors["reply_method"] = message
    if not text:
        errors["reply_text"] = _("請填寫回覆內容（告知請求人的決定與處理結果）。")
    errors.update(
        _moment_errors(
            moment,
            field="replied_at",
            label=_("回覆時間"),
            after=request.decided_at,
            after_label=_("決定時間"),
            now=now,
        )
    )
    if errors:
        raise ValidationError(errors)
    record_step(request, actor=actor, replied_at=moment, reply_method=method, reply_text=text)
    refresh_duty()
    return request


@transaction.atomic
def void_request(request: SubjectRequest, *, actor, reason: str) -> SubjectRequest:
    """Void a wrongly recorded request (with the reason); its duty is no longer followed."""
    from isms.core.services import record_void

    if not may_handle(actor):
        raise PermissionDenied
    request = _lock(request)
    record_void(request, actor=actor, reason=reason)
    refresh_duty()
    return request


def active_files(keep=()):
    """The personal-data files a request may name (and those it already names)."""
    return PersonalDataFile.objects.filter(Q(voided_at__isnull=True) | Q(pk__in=list(keep)))


def refresh_duty() -> None:
    """Recompute the request duty's states (derived data) at once."""
    from isms.compliance import engine

    engine.refresh(DUTY)
