"""The vendor access-removal duty (6.2), its worker job, and the vendor and contract
registers in the evidence binder.

- **Access removed when a contract ends** (6.2 委外廠商服務異動或終止時，應中止或刪除其系統
  上的帳號與權限): every contract not voided whose end day has passed is a subject. Its
  deadline is the end of the day ``ISMS_VENDOR_ACCESS_DAYS`` days after its end
  (Asia/Taipei). It is done when the removal was opened (the worker's job below) and
  every removal task of its people for a vendor's service ended, effective within the
  contract's period, is done — at the moment the last one was; a contract with no account
  to remove is done at its end. A done contract leaves the dashboard 30 days later.
- The job ``vendors.contract_ends`` opens the removal tasks of contracts whose end has
  come (``vendors.open_ended_contracts``).
"""

import datetime as dt

from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Subquery,
    When,
)
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import (
    Obligation,
    Records,
    pending_or_recent,
    register,
    register_job,
    register_records,
)
from isms.compliance.rhythms import EVENT, Rhythm
from isms.core.roles import SECURITY_OFFICER

from . import vendors
from .models import Contract

REMINDERS = (dt.timedelta(days=2),)


def _end_moment(end_on: dt.date) -> dt.datetime:
    """The end of the contract's last day (Asia/Taipei)."""
    day = end_on + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _tasks():
    from isms.identity.models import OffboardingTask

    return OffboardingTask.objects.filter(
        person__vendor_contracts=OuterRef("pk"),
        reason=OffboardingTask.Reason.VENDOR_ENDED,
        effective_on__gte=OuterRef("start_on"),
        effective_on__lte=OuterRef("end_on"),
    )


def with_removal(qs):
    """Contracts with ``removal_open`` (a task still open), ``removal_last_done`` (the last
    done) and ``removal_done_at`` (the duty's evidence), in the same query."""
    tasks = _tasks()
    last_done = (
        tasks.filter(done_at__isnull=False)
        .order_by()
        .values("person__vendor_contracts")
        .annotate(last=Max("done_at"))
        .values("last")
    )
    return qs.annotate(
        removal_open=Exists(tasks.filter(done_at__isnull=True)),
        removal_last_done=Subquery(last_done, output_field=DateTimeField()),
    ).annotate(
        removal_done_at=Case(
            When(access_removal_opened_at__isnull=True, then=None),
            When(removal_open=True, then=None),
            When(removal_last_done__isnull=False, then=F("removal_last_done")),
            default=ExpressionWrapper(
                Cast("end_on", DateTimeField()), output_field=DateTimeField()
            ),
            output_field=DateTimeField(),
        )
    )


def _ended():
    """Contracts in use whose end day has passed, with their removal's evidence."""
    today = timezone.localdate()
    return with_removal(Contract.objects.active().filter(end_on__lt=today).select_related("vendor"))


def _evidence(subjects) -> dict:
    """{contract pk: moment its removal was done} — one query."""
    rows = subjects.filter(removal_done_at__isnull=False).values_list(
        "pk", "end_on", "removal_last_done"
    )
    # Without a task to do, the contract counts as done at the end of its last day.
    return {pk: last or _end_moment(end_on) for pk, end_on, last in rows}


def _history(subjects, since, until) -> list:
    return [(pk, moment) for pk, moment in _evidence(subjects).items() if since <= moment < until]


def _due(subjects) -> dict:
    return {
        pk: vendors.access_due(Contract(end_on=end_on))
        for pk, end_on in subjects.values_list("pk", "end_on")
    }


def _url(state):
    return reverse("vendors:contract_detail", args=[state.subject_id])


register(
    Obligation(
        key=vendors.DUTY,
        clause="6.2",
        title=_("委外合約終止後，於期限內中止或刪除廠商人員的系統帳號"),
        description=_(
            "委外廠商服務異動或終止時，應中止或刪除其系統上的帳號與權限（條文 6.2）。"
            "合約終止後，平台為其到校服務人員（未在其他執行中合約者）的每個啟用帳號開立"
            "帳號移除工作，須於終止日後的期限內全部完成。"
        ),
        subjects=pending_or_recent(_ended, "removal_done_at"),
        all_subjects=_ended,
        evidence=_evidence,
        history=_history,
        deadline=_due,
        subject_start="created_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        subject_url=_url,
        evidence_url=_url,
    )
)

register_job("vendors.contract_ends", vendors.open_ended_contracts)


def _register_records():
    from .views_vendors import ContractRegister, VendorRegister

    register_records(Records.of(VendorRegister))
    register_records(Records.of(ContractRegister, obligations=(vendors.DUTY,)))


_register_records()
