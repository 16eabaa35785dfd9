"""The data-subject request duty (clause 7.8; PDPA art. 13) and the requests in the
evidence binder.

``privacy.subject_request``: an event duty, one subject per request not voided. It is due
at the request's deadline (``requests.deadline``: the end of the 15th or 30th day after
the day of receipt, Asia/Taipei; twice that once extended) and done by the reply to the
requester (``replied_at``). Reminders go to the request's handler and the security officers
5 days and 1 day before the deadline; past it the request is overdue (a finding on the
dashboard, and one more reminder). Answered requests leave the engine 30 days after their
reply (``pending_or_recent``); the binder looks back over all of them.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q
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

from . import requests
from .models import SubjectRequest


def _requests():
    return SubjectRequest.objects.active()


def _evidence(subjects) -> dict:
    return dict(subjects.filter(replied_at__isnull=False).values_list("pk", "replied_at"))


def _deadline(subjects) -> dict:
    return {
        pk: requests.deadline_of(kind, received, extended is not None)
        for pk, kind, received, extended in subjects.values_list(
            "pk", "kind", "received_at", "extended_at"
        )
    }


def _history(subjects, since, until) -> list:
    return list(
        subjects.filter(replied_at__gte=since, replied_at__lte=until).values_list(
            "pk", "replied_at"
        )
    )


def _recipients(state):
    """The request's handler and the security officers (active logins)."""
    handler = (
        SubjectRequest.objects.filter(pk=state.subject_id).values_list("handler_id", flat=True)
    ).first()
    return list(
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(pk=handler or 0) | Q(groups__name=SECURITY_OFFICER))
        .distinct()
    )


def _request_url(state):
    return reverse("privacy:subjectrequest_detail", args=[state.subject_id])


register(
    Obligation(
        key=requests.DUTY,
        clause=requests.CLAUSE,
        title=_("當事人權利請求於法定期限內回覆"),
        description=_(
            "當事人請求查詢、閱覽或製給複製本，應於受理之日起 15 日內；請求補充或更正、"
            "停止蒐集處理利用或刪除，應於 30 日內作成准駁決定並回覆。必要時得延長一次"
            "（15 日或 30 日），並將延長原因以書面通知請求人（條文 7.8；個人資料保護法"
            "第 10 條、第 11 條、第 13 條）。提醒：期限前 5 日及 1 日。"
        ),
        subjects=pending_or_recent(_requests, "replied_at"),
        all_subjects=_requests,
        evidence=_evidence,
        history=_history,
        deadline=_deadline,
        subject_start="received_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=requests.REMINDERS,
        recipients=_recipients,
        subject_url=_request_url,
        evidence_url=_request_url,
    )
)


def _register_records():
    from .views_requests import BINDER_COLUMNS, SubjectRequestRegister

    register_records(
        Records.of(
            SubjectRequestRegister,
            columns=BINDER_COLUMNS,
            date_field="received_at",
            obligations=(requests.DUTY,),
        )
    )


_register_records()
