"""The confidentiality-agreement duties (5.1, 6.1.2, 6.1.3) and the agreements in the
evidence binder.

One event duty per form, one subject each who must have signed it:

- ``vendors.agreement_a8`` (5.1): every active 約聘(僱)人員 of the directory;
- ``vendors.agreement_a9`` (6.1.2): every vendor with a contract running today;
- ``vendors.agreement_a10`` (6.1.3): every active 委外廠商人員 of the directory.

The need arises on the person's onboarding (else their entry in the directory) or the
vendor's first contract; the paper is due ``GRACE_DAYS`` (14) days later, by the end of
that day (Asia/Taipei). The evidence is the signed date of a signed agreement of the form,
not voided and not lapsed (有效期限 passed): a lapsed one makes the subject due again.
"""

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from isms.compliance.registry import Obligation, Records, register, register_records
from isms.compliance.rhythms import EVENT, Rhythm
from isms.core.roles import SECURITY_OFFICER

from . import agreements
from .agreements import DUTIES, Form
from .models import Agreement

REMINDERS = (agreements.GRACE_DAYS * agreements.ONE_DAY // 2, agreements.ONE_DAY)


def _evidence(subjects) -> dict:
    return {
        pk: agreements.need_start(signed)
        for pk, signed in subjects.values_list("pk", "signed")
        if signed is not None
    }


def _people_deadline(subjects) -> dict:
    return {
        pk: agreements.due_moment(onboard or agreements.local_date(created))
        for pk, onboard, created in subjects.values_list("pk", "onboard_date", "created_at")
    }


def _vendors_deadline(subjects) -> dict:
    return {
        pk: agreements.due_moment(first or agreements.local_date(created))
        for pk, first, created in subjects.values_list("pk", "first_start", "created_at")
    }


def _history(form, subject_field):
    def history(subjects, since, until) -> list:
        rows = Agreement.objects.filter(
            form=form,
            status=Agreement.Status.SIGNED,
            voided_at__isnull=True,
            signed_on__gte=agreements.local_date(since),
            signed_on__lte=agreements.local_date(until),
            **{f"{subject_field}__in": subjects.values("pk")},
        ).values_list(f"{subject_field}_id", "signed_on")
        out = []
        for pk, signed in rows:
            moment = agreements.need_start(signed)
            if since <= moment <= until:
                out.append((pk, moment))
        return out

    return history


def _add_url(form, field):
    def url(state):
        params = {"form": form, field: state.subject_id}
        return f"{reverse('vendors:agreement_add')}?{urlencode(params)}"

    return url


def _findings_url(form):
    def url(state):
        return f"{reverse('vendors:agreement_findings')}#{form}"

    return url


register(
    Obligation(
        key=DUTIES[Form.A8],
        clause="5.1",
        title=_("約聘(僱)人員簽署保密切結書（A-8）"),
        description=_(
            "非正式人員、約聘(僱)人員因業務需要接觸公務機密、個人權益及學校機敏資料者，"
            "須填寫保密切結書（條文 5.1，文件編號 A-8）；到職後 14 天內登錄已簽署的切結書，"
            "切結書過了有效期限須重新簽署。"
        ),
        subjects=lambda: agreements.people_needing(Form.A8),
        evidence=_evidence,
        history=_history(Form.A8, "person"),
        deadline=_people_deadline,
        subject_start="created_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        subject_url=_findings_url(Form.A8),
        evidence_url=_add_url(Form.A8, "person"),
    )
)

register(
    Obligation(
        key=DUTIES[Form.A9],
        clause="6.1.2",
        title=_("委外廠商簽訂服務暨保密切結書（A-9）"),
        description=_(
            "應要求委外廠商簽訂安全保密切結書（條文 6.1.2，文件編號 A-9）：合約執行中的廠商，"
            "於第一份合約起始後 14 天內登錄已簽署的切結書；過了有效期限須重新簽署。"
        ),
        subjects=lambda: agreements.vendors_needing(),
        evidence=_evidence,
        history=_history(Form.A9, "vendor"),
        deadline=_vendors_deadline,
        subject_start="created_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        subject_url=_findings_url(Form.A9),
        evidence_url=_add_url(Form.A9, "vendor"),
    )
)

register(
    Obligation(
        key=DUTIES[Form.A10],
        clause="6.1.3",
        title=_("委外廠商人員簽署保密切結書（A-10）"),
        description=_(
            "委外廠商人員到校服務時，應請其簽署委外廠商人員保密切結書（條文 6.1.3，"
            "文件編號 A-10）；到校服務（建檔）後 14 天內登錄已簽署的切結書，"
            "過了有效期限須重新簽署。"
        ),
        subjects=lambda: agreements.people_needing(Form.A10),
        evidence=_evidence,
        history=_history(Form.A10, "person"),
        deadline=_people_deadline,
        subject_start="created_at",
        rhythm=Rhythm(period=EVENT),
        responsible_role=SECURITY_OFFICER,
        reminders=REMINDERS,
        subject_url=_findings_url(Form.A10),
        evidence_url=_add_url(Form.A10, "person"),
    )
)


def _register_records():
    from .views_agreements import BINDER_COLUMNS, AgreementRegister

    register_records(
        Records.of(
            AgreementRegister,
            columns=BINDER_COLUMNS,
            obligations=tuple(DUTIES.values()),
            also_clauses=("6.1.2", "6.1.3"),
        )
    )


_register_records()
