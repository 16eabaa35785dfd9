"""The rules of the hand-overs of paper personal data (紙本個資轉交紀錄; clause 7.6).

7.6: 學校在交換紙本個人資料時，須採取彌封或其他具備保密機制之傳遞方式，並記錄轉交或傳輸
行為的流向. Each hand-over is a ``PaperTransfer``: what, how many copies, sealed (or the
other confidential way), from whom (the sender), to whom (a school login or an outside
recipient), when; and the receipt, confirmed.

- Anyone of the school (any role) records the transfers they send (``transfer_save``): the
  sender is the person recording; the security officer may record for another sender.
  The sender (or the officer) corrects the record until the receipt is confirmed.
- The school recipient confirms the receipt themselves, one button (``transfer_confirm``);
  nobody else may. For an outside recipient the sender or the officer records the receipt
  with how it was confirmed (簽收單, 回覆郵件 …).
- Once confirmed the line is signed: only its notes may change; a wrong line is voided
  with a reason and recorded again.
- A transfer not confirmed by the end of the ``ISMS_TRANSFER_CONFIRM_DAYS``-th day after the
  hand-over (Asia/Taipei) is 逾期未確認 (``confirm_due``), the moment the duty
  ``privacy.transfer_confirmed`` is due.

Every function validates first (``ValidationError`` field → zh-TW message citing 7.6,
nothing saved), checks permission (``PermissionDenied``), takes the acting person and saves
inside ``trail.as_actor``.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc
from isms.core.access import has_role
from isms.core.roles import ALL_ROLES, MANAGERS, SECURITY_OFFICER
from isms.core.services import lock, record_step, site_url

from .models import PaperTransfer, PersonalDataFile

DUTY = "privacy.transfer_confirmed"
CLAUSE = "7.6"
# A moment "now" on the recorder's clock may run a little ahead of the server's.
CLOCK_SKEW = dt.timedelta(minutes=5)

# What a person enters on the form (or the API); the rest is the service's.
ENTRY_FIELDS = (
    "what",
    "file",
    "copies",
    "sealed",
    "protection",
    "sender",
    "recipient",
    "external_recipient",
    "handed_at",
    "notes",
)
# The fields an edit may still change once the receipt is confirmed.
OPEN_AFTER_RECEIPT = frozenset({"notes"})
# Kept as stored whatever an edit sends.
KEPT_FIELDS = (
    "received_at",
    "received_by_id",
    "receipt_note",
    "voided_at",
    "voided_by_id",
    "void_reason",
    "created_at",
)
TEXT_FIELDS = ("what", "protection", "external_recipient", "notes")


# Who may do what ---------------------------------------------------------------------------
def is_officer(user) -> bool:
    return has_role(user, SECURITY_OFFICER)


def is_manager(user) -> bool:
    return has_role(user, *MANAGERS)


def may_record(user) -> bool:
    """Anyone of the school (any role) records the transfers they send."""
    return has_role(user, *ALL_ROLES)


def may_edit(user, transfer: PaperTransfer) -> bool:
    """Correct (or void) a transfer: its sender, or the security officer."""
    if transfer.voided_at is not None or not may_record(user):
        return False
    return is_officer(user) or transfer.sender_id == user.pk


def may_confirm(user, transfer: PaperTransfer) -> bool:
    """Confirm the receipt: the school recipient themselves; for an outside recipient the
    sender or the security officer records it."""
    if transfer.voided_at is not None or transfer.received_at is not None:
        return False
    if transfer.recipient_id:
        return transfer.recipient_id == user.pk
    return is_officer(user) or transfer.sender_id == user.pk


def scope(queryset, user, action):
    """The managers read every transfer and the officer writes any; anyone else reads the
    transfers they sent or received and changes those they sent."""
    if action in {"view", "export"} and is_manager(user):
        return queryset
    if is_officer(user):
        return queryset
    if action in {"view", "export"}:
        return queryset.filter(Q(sender=user) | Q(recipient=user))
    return queryset.filter(sender=user)


def locked(transfer: PaperTransfer) -> bool:
    """The receipt is confirmed: the line is signed, only its notes may change."""
    return transfer.received_at is not None


# The confirmation deadline --------------------------------------------------------------------
def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def confirm_days() -> int:
    return settings.ISMS_TRANSFER_CONFIRM_DAYS


def confirm_due(handed_at: dt.datetime) -> dt.datetime:
    """The end of the ``ISMS_TRANSFER_CONFIRM_DAYS``-th day after the hand-over (local
    midnight, Asia/Taipei): handed over on Monday at any hour, with 3 days, due by the end of
    Thursday. A whole day, not the exact hour: a paper handed over late in the afternoon is
    confirmed during the office hours of the last day."""
    day = timezone.localtime(handed_at).date() + dt.timedelta(days=confirm_days() + 1)
    return _day_start(day)


def overdue_before(now: dt.datetime | None = None) -> dt.datetime:
    """An open transfer handed over before this moment is overdue (the query form of
    ``confirm_due(handed_at) <= now``)."""
    today = timezone.localtime(now or timezone.now()).date()
    return _day_start(today - dt.timedelta(days=confirm_days()))


class Status:
    """The list's 「狀態」 of a transfer."""

    OPEN = "open"
    OVERDUE = "overdue"
    CONFIRMED = "confirmed"

    choices = [
        (OPEN, gettext_lazy("待確認收件")),
        (OVERDUE, gettext_lazy("逾期未確認")),
        (CONFIRMED, gettext_lazy("已確認收件")),
    ]


STATUS_LABELS = dict(Status.choices)


def status(transfer: PaperTransfer, now: dt.datetime | None = None) -> str:
    if transfer.received_at is not None:
        return Status.CONFIRMED
    if (now or timezone.now()) >= confirm_due(transfer.handed_at):
        return Status.OVERDUE
    return Status.OPEN


def status_label(transfer: PaperTransfer, now: dt.datetime | None = None) -> str:
    return str(STATUS_LABELS[status(transfer, now)])


def status_filter(code: str, now: dt.datetime | None = None) -> Q:
    """The transfers of one status, as a query (the list's filter)."""
    if code == Status.CONFIRMED:
        return Q(received_at__isnull=False)
    before = overdue_before(now)
    if code == Status.OVERDUE:
        return Q(received_at__isnull=True, handed_at__lt=before)
    if code == Status.OPEN:
        return Q(received_at__isnull=True, handed_at__gte=before)
    raise ValueError(code)


def awaiting(user):
    """The open transfers to this person (待我確認收件), oldest first; voided ones left out."""
    return (
        PaperTransfer.objects.active()
        .filter(recipient=user, received_at__isnull=True)
        .select_related("sender__person", "file")
        .order_by("handed_at", "id")
    )


# Labels ---------------------------------------------------------------------------------------
def person_name(user) -> str:
    return user.display_name if user is not None else ""


def recipient_label(transfer: PaperTransfer) -> str:
    """收件人: the school login's name, or the outside recipient."""
    if transfer.recipient_id:
        return person_name(transfer.recipient)
    return transfer.external_recipient


def protection_label(transfer: PaperTransfer) -> str:
    """傳遞方式: 彌封, or the other confidential way."""
    if transfer.sealed:
        return _("彌封")
    return _("其他：%(way)s") % {"way": transfer.protection}


def receipt_label(transfer: PaperTransfer) -> str:
    """收件確認: when and by whom (and how, for an outside recipient); empty while open."""
    if transfer.received_at is None:
        return ""
    text = f"{roc.format_roc_datetime(transfer.received_at)} {person_name(transfer.received_by)}"
    if transfer.receipt_note:
        text += f"（{transfer.receipt_note}）"
    return text


# The rules ------------------------------------------------------------------------------------
def _staff_login(user_id) -> bool:
    """An active login of the school: it holds a role (教職員 at least)."""
    return (
        get_user_model()
        .objects.filter(pk=user_id, is_active=True, groups__name__in=ALL_ROLES)
        .exists()
    )


def normalise(transfer: PaperTransfer) -> None:
    """Trim the texts; a sealed transfer needs no other way of protection."""
    for name in TEXT_FIELDS:
        setattr(transfer, name, (getattr(transfer, name) or "").strip())
    if transfer.sealed:
        transfer.protection = ""


def check_transfer(transfer: PaperTransfer, *, kept: PaperTransfer | None = None, now=None) -> dict:
    """Field errors of a transfer as it would be saved (clause 7.6).

    1. 文件內容 given; 份數 at least 1; the file of the inventory (if chosen) not voided.
    2. 彌封, or else 其他保密方式 written (7.6: 彌封或其他具備保密機制之傳遞方式).
    3. Exactly one recipient: a school login (active, with a role) or an outside one (text).
    4. The sender an active login of the school, not the recipient.
    5. 轉交時間 given, not in the future (``CLOCK_SKEW`` allowed).
    6. Texts within the model's limits.
    """
    now = now or timezone.now()
    errors = {}
    if not transfer.what:
        errors["what"] = _(
            "請填寫轉交的文件內容，例如：101 班學生緊急聯絡名冊（條文 7.6：記錄轉交的流向）。"
        )
    if transfer.copies is None or transfer.copies < 1:
        errors["copies"] = _("份數至少為 1 份。")
    if transfer.file_id:
        found = list(
            PersonalDataFile.objects.filter(pk=transfer.file_id).values_list("voided_at", flat=True)
        )
        if not found:
            errors["file"] = _("找不到此個人資料檔案。")
        elif found[0] is not None and (kept is None or kept.file_id != transfer.file_id):
            errors["file"] = _("此個人資料檔案已作廢，請選擇其他檔案。")
    if not transfer.sealed and not transfer.protection:
        errors["protection"] = _(
            "未彌封時，請寫明採取的其他保密方式，例如：裝入機密公文袋由專人遞送"
            "（條文 7.6：須採取彌封或其他具備保密機制之傳遞方式）。"
        )
    if transfer.recipient_id and transfer.external_recipient:
        errors["recipient"] = _(
            "收件人請擇一：選擇本校收件人，或填寫校外收件人，不可兩者都填（條文 7.6）。"
        )
    elif not transfer.recipient_id and not transfer.external_recipient:
        errors["recipient"] = _(
            "請選擇本校收件人或填寫校外收件人（條文 7.6：記錄轉交或傳輸行為的流向）。"
        )
    elif (
        transfer.recipient_id
        and not _staff_login(transfer.recipient_id)
        and (kept is None or kept.recipient_id != transfer.recipient_id)
    ):
        errors["recipient"] = _("本校收件人須為在職的本校人員（有效的登入帳號）。")
    if not transfer.sender_id:
        errors["sender"] = _("請選擇轉交人。")
    elif transfer.recipient_id and transfer.sender_id == transfer.recipient_id:
        errors["recipient"] = _("轉交人與收件人不可為同一人。")
    elif not _staff_login(transfer.sender_id) and (
        kept is None or kept.sender_id != transfer.sender_id
    ):
        errors["sender"] = _("轉交人須為在職的本校人員（有效的登入帳號）。")
    handed = transfer.handed_at
    if handed is None:
        errors["handed_at"] = _("請填寫轉交時間。")
    elif handed > now + CLOCK_SKEW:
        errors["handed_at"] = _("轉交時間不可晚於現在；此紀錄登錄已發生的轉交。")
    elif timezone.localtime(handed).date() < roc.MIN_DATE:
        errors["handed_at"] = _("民國元年（1912 年）以前的日期無法以民國紀年表示。")
    for name in TEXT_FIELDS:
        limit = PaperTransfer._meta.get_field(name).max_length
        value = getattr(transfer, name) or ""
        if limit and len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
                "limit": limit,
                "n": len(value),
            }
    return errors


# Writing ----------------------------------------------------------------------------------------
@transaction.atomic
def transfer_save(transfer: PaperTransfer, *, actor, now=None) -> PaperTransfer:
    """Record a transfer (the sender is the actor unless the officer names another) or
    correct one (its sender or the officer). Once the receipt is confirmed only the notes
    may change. The school recipient is told by e-mail of a new transfer to them."""
    if not may_record(actor):
        raise PermissionDenied
    now = now or timezone.now()
    kept = None
    if transfer.pk is None:
        transfer.received_at, transfer.received_by, transfer.receipt_note = None, None, ""
        if not transfer.sender_id:
            transfer.sender = actor
    else:
        kept = lock(transfer)
        if not (is_officer(actor) or kept.sender_id == actor.pk):
            raise PermissionDenied
        if kept.voided_at is not None:
            raise ValidationError({"__all__": _("此紀錄已作廢，不能修改。")})
        for name in KEPT_FIELDS:
            setattr(transfer, name, getattr(kept, name))
        if not transfer.sender_id:  # the officer's form left it empty: kept
            transfer.sender_id = kept.sender_id
    if transfer.sender_id != actor.pk and not is_officer(actor):
        raise ValidationError(
            {
                "sender": _(
                    "轉交人是登錄紀錄的人本人；只有資安業務承辦人可以代他人登錄轉交（條文 7.6）。"
                )
            }
        )
    normalise(transfer)
    if kept is not None and locked(kept):
        changed = [
            name
            for name in ENTRY_FIELDS
            if name not in OPEN_AFTER_RECEIPT
            and getattr(transfer, PaperTransfer._meta.get_field(name).attname)
            != getattr(kept, PaperTransfer._meta.get_field(name).attname)
        ]
        if changed:
            message = _(
                "收件人已確認收件，此紀錄只能修改備註；內容如有錯誤，請作廢後重新登錄（條文 7.6）。"
            )
            raise ValidationError({name: message for name in changed})
    else:
        errors = check_transfer(transfer, kept=kept, now=now)
        if errors:
            raise ValidationError(errors)
    with trail.as_actor(actor):
        transfer.save()
    if transfer.recipient_id and (kept is None or kept.recipient_id != transfer.recipient_id):
        _notify_recipient(transfer, actor)
    refresh_duty()
    return transfer


def _notify_recipient(transfer: PaperTransfer, actor) -> None:
    """Tell the school recipient of a transfer to them (once per transfer and recipient)."""
    from isms.notifications import services as notifications

    recipient = get_user_model().objects.select_related("person").get(pk=transfer.recipient_id)
    sender = get_user_model().objects.select_related("person").get(pk=transfer.sender_id)
    subject = _("【紙本個資轉交】%(sender)s 轉交「%(what)s」給您，請確認收件") % {
        "sender": sender.display_name,
        "what": transfer.what,
    }
    body = _(
        "%(sender)s 登錄了一筆轉交給您的紙本個人資料（條文 7.6）。\n"
        "文件內容：%(what)s\n份數：%(copies)d\n傳遞方式：%(way)s\n轉交時間：%(handed)s\n"
        "收到文件後，請於 %(due)s 前在平台按「確認收件」：\n%(link)s\n"
        "待我確認收件：%(awaiting)s"
    ) % {
        "sender": sender.display_name,
        "what": transfer.what,
        "copies": transfer.copies,
        "way": protection_label(transfer),
        "handed": roc.format_roc_datetime(transfer.handed_at),
        "due": roc.format_roc_datetime(confirm_due(transfer.handed_at)),
        "link": site_url(transfer.get_absolute_url()),
        "awaiting": site_url(reverse("privacy:papertransfer_awaiting")),
    }
    notifications.notify(
        recipient=recipient,
        subject=subject,
        body=body,
        dedup_key=f"privacy:transfer:{transfer.pk}:to:{recipient.pk}",
        actor=actor,
    )


@transaction.atomic
def transfer_confirm(
    transfer: PaperTransfer, *, actor, received_at=None, receipt_note: str = "", now=None
) -> PaperTransfer:
    """確認收件. A school recipient confirms themselves (now); for an outside recipient the
    sender or the officer records when and how the receipt was confirmed (簽收單, 回覆郵件)."""
    now = now or timezone.now()
    transfer = lock(transfer, "received_by__person")
    if transfer.voided_at is not None:
        raise ValidationError({"__all__": _("此紀錄已作廢，不需確認收件。")})
    if transfer.received_at is not None:
        raise ValidationError(
            {
                "__all__": _("已於 %(moment)s 由 %(name)s 確認收件，不需再次確認。")
                % {
                    "moment": roc.format_roc_datetime(transfer.received_at),
                    "name": person_name(transfer.received_by),
                }
            }
        )
    if not may_confirm(actor, transfer):
        raise PermissionDenied
    note = (receipt_note or "").strip()
    errors = {}
    if transfer.recipient_id:
        moment = max(now, transfer.handed_at)
    else:
        moment = received_at or now
        if not note:
            errors["receipt_note"] = _(
                "校外收件人的收件，請寫明如何確認，例如：簽收單、回覆郵件（條文 7.6）。"
            )
        if moment < transfer.handed_at:
            errors["received_at"] = _("收件時間不可早於轉交時間。")
        elif moment > now + CLOCK_SKEW:
            errors["received_at"] = _("收件時間不可晚於現在。")
    limit = PaperTransfer._meta.get_field("receipt_note").max_length
    if len(note) > limit and "receipt_note" not in errors:
        errors["receipt_note"] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
            "limit": limit,
            "n": len(note),
        }
    if errors:
        raise ValidationError(errors)
    record_step(transfer, actor=actor, received_at=moment, received_by=actor, receipt_note=note)
    refresh_duty()
    return transfer


@transaction.atomic
def transfer_void(transfer: PaperTransfer, *, actor, reason: str) -> PaperTransfer:
    """Void a wrongly recorded transfer (with the reason): its sender or the officer."""
    from isms.core.services import record_void

    transfer = lock(transfer)
    if not may_edit(actor, transfer) and transfer.voided_at is None:
        raise PermissionDenied
    record_void(transfer, actor=actor, reason=reason)
    refresh_duty()
    return transfer


def refresh_duty() -> None:
    """Recompute the transfer-confirmed duty's states (derived data) at once."""
    from isms.compliance import engine

    engine.refresh(DUTY)
