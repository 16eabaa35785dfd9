"""The paper-transfer duty (7.6) and the transfers in the evidence binder.

- **Receipt confirmed** (``privacy.transfer_confirmed``; 7.6 記錄轉交或傳輸行為的流向): every
  transfer not voided has its receipt confirmed — by the school recipient, or recorded by
  the sender for an outside one — by the end of the ``ISMS_TRANSFER_CONFIRM_DAYS``-th day
  after the hand-over (local midnight, Asia/Taipei; ``transfers.confirm_due``). One subject
  per transfer; the evidence is ``received_at``. Reminders a day before and when it
  passes, to the school recipient (who must confirm) and the sender (who handed the paper
  over; for an outside recipient the one who records the receipt). A confirmed transfer is
  ok and leaves the dashboard 30 days later, a voided one at once.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_records,
)
from isms.compliance.rhythms import EVENT, Rhythm
from isms.core.roles import SECURITY_OFFICER

from .models import PaperTransfer
from .transfers import CLAUSE, DUTY, confirm_due

REMINDERS = (dt.timedelta(days=1),)


def _transfers():
    return PaperTransfer.objects.active()


def _received(subjects) -> dict:
    return dict(subjects.filter(received_at__isnull=False).values_list("pk", "received_at"))


def _history(subjects, since, until) -> list:
    return list(
        subjects.filter(received_at__gte=since, received_at__lt=until).values_list(
            "pk", "received_at"
        )
    )


def _due(subjects) -> dict:
    return {pk: confirm_due(handed) for pk, handed in subjects.values_list("pk", "handed_at")}


def _recipients(state):
    """The school recipient (who confirms) and the sender; the officers when neither is an
    active login any more."""
    row = (
        PaperTransfer.objects.filter(pk=state.subject_id)
        .values_list("recipient_id", "sender_id")
        .first()
    )
    users = get_user_model().objects.filter(is_active=True)
    if row is not None:
        people = users.filter(pk__in=[pk for pk in row if pk is not None]).order_by("pk")
        if people.exists():
            return people
    return users.filter(groups__name=SECURITY_OFFICER).distinct().order_by("pk")


def _url(state):
    return reverse("privacy:papertransfer_detail", args=[state.subject_id])


register(
    Obligation(
        key=DUTY,
        clause=CLAUSE,
        title=_("紙本個資轉交後確認收件"),
        description=_(
            "學校在交換紙本個人資料時，須採取彌封或其他具備保密機制之傳遞方式，並記錄轉交"
            "或傳輸行為的流向（條文 7.6）：每筆轉交於期限內由本校收件人確認收件，"
            "校外收件人由轉交人登錄簽收方式；提醒收件人與轉交人。"
        ),
        subjects=pending_or_recent(_transfers, "received_at"),
        all_subjects=_transfers,
        evidence=_received,
        history=_history,
        deadline=_due,
        subject_start="handed_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        recipients=_recipients,
        subject_url=_url,
        evidence_url=_url,
    )
)


def _register_records():
    from .views_transfers import TransferRegister

    register_records(Records.of(TransferRegister, date_field="handed_at", obligations=(DUTY,)))


_register_records()
