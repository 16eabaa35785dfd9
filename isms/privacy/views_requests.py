"""Pages of the data-subject requests (當事人權利請求; clause 7.8; PDPA arts. 3, 10, 11, 13).

The register (list with its 「期限」 countdown, 「狀態」 and filters, export,
``/api/data-subject-requests/`` with its step actions), recording and correcting a
request, the request's page with its four steps (查核身分, 延長期限, 准駁決定, 回覆), and
the two letters to print: the reply (回覆函) and the extension notice (延長通知書). The
rules are ``requests``'s.
"""

import django_filters as df
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from isms.core import roc
from isms.core.access import Access, can
from isms.core.fields import ROCDateField, ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import LoginChoiceField, ModelForm
from isms.core.generic import (
    AddPage,
    DetailAction,
    DetailPage,
    EditPage,
    ListPage,
    RegisterView,
    url_or_none,
)
from isms.core.models import SchoolProfile
from isms.core.registers import Column, Register, as_text
from isms.core.restapi import DateField, DateTimeField, RegisterViewSet, ServiceSerializer
from isms.core.roles import MANAGERS

from . import requests
from .models import SubjectRequest
from .nav import NAV

Kind = SubjectRequest.Kind
Decision = SubjectRequest.Decision
Status = requests.Status
Countdown = requests.Countdown

REQUEST_ACCESS = Access(
    view=MANAGERS,
    add=requests.HANDLERS,
    change=requests.HANDLERS,
    void=requests.HANDLERS,
)
# The steps on the request's page (查核身分, 延長期限, 准駁決定, 回覆).
STEP_ACCESS = Access(view=MANAGERS, change=requests.HANDLERS)


# The list's filters ----------------------------------------------------------------------------
class DeadlineState:
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    OPEN = "open"

    choices = [
        (OVERDUE, gettext_lazy("逾期未回覆")),
        (DUE_SOON, gettext_lazy("5 日內到期")),
        (OPEN, gettext_lazy("尚未回覆")),
    ]


class SubjectRequestFilterSet(FilterSet):
    search_fields = ("number", "requester_name", "agent_name", "requester_contact", "details")
    state = df.ChoiceFilter(
        label=gettext_lazy("狀態"), choices=Status.choices, method="filter_state"
    )
    deadline = df.ChoiceFilter(
        label=gettext_lazy("期限"), choices=DeadlineState.choices, method="filter_deadline"
    )
    received_from = ROCDateFilter(
        label=gettext_lazy("受理日期起"), field_name="received_at", lookup_expr="date__gte"
    )
    received_to = ROCDateFilter(
        label=gettext_lazy("受理日期迄"), field_name="received_at", lookup_expr="date__lte"
    )

    class Meta:
        model = SubjectRequest
        fields = ["kind", "state", "deadline", "channel"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(requests.status_filter(value)) if value else queryset

    def filter_deadline(self, queryset, name, value):
        if value == DeadlineState.OVERDUE:
            return queryset.filter(requests.overdue_q())
        if value == DeadlineState.DUE_SOON:
            return queryset.filter(requests.due_soon_q())
        if value == DeadlineState.OPEN:
            return queryset.filter(replied_at__isnull=True)
        return queryset


# Columns (page, CSV, XLSX, the evidence binder) ------------------------------------------------
STATUS_LABELS = dict(Status.choices)


def _status(req) -> str:
    return str(STATUS_LABELS[requests.status(req)])


def _deadline(req) -> str:
    _code, text = requests.countdown(req)
    return _("%(day)s（%(countdown)s）") % {
        "day": roc.format_roc(requests.last_day(req)),
        "countdown": text,
    }


def _requester(req) -> str:
    return requests.requester_label(req)


def _handler(req) -> str:
    return requests.person_name(req.handler)


def _files(req) -> str:
    return "；".join(f.name for f in req.files.all())


def _extension(req) -> str:
    if req.extended_at is None:
        return ""
    return _("%(reason)s（%(day)s 書面通知）") % {
        "reason": req.extension_reason,
        "day": as_text(req.extension_notified_on),
    }


def _identity(req) -> str:
    if req.identity_checked_at is None:
        return ""
    return f"{as_text(req.identity_checked_at)} {req.identity_method}"


COLUMNS = [
    Column("number", gettext_lazy("案號"), link=True),
    Column("kind", gettext_lazy("請求事項")),
    Column("requester", gettext_lazy("請求人"), accessor=_requester, sort="requester_name"),
    Column("received_at", gettext_lazy("受理時間")),
    Column("deadline", gettext_lazy("期限"), accessor=_deadline, sort=None),
    Column("state", gettext_lazy("狀態"), accessor=_status, sort=None),
    Column("channel", gettext_lazy("受理方式"), page=False),
    Column("handler", gettext_lazy("承辦人"), accessor=_handler, sort=None, page=False),
    Column("files", gettext_lazy("涉及的個人資料檔案"), accessor=_files, sort=None, page=False),
    Column("identity", gettext_lazy("身分查核"), accessor=_identity, sort=None, page=False),
    Column("extension", gettext_lazy("延長原因"), accessor=_extension, sort=None, page=False),
    Column("decision", gettext_lazy("准駁決定"), page=False),
    Column("decision_reason", gettext_lazy("決定理由及依據"), page=False),
    Column("decided_at", gettext_lazy("決定時間"), page=False),
    Column("replied_at", gettext_lazy("回覆時間"), page=False),
    Column("reply_method", gettext_lazy("回覆方式"), page=False),
]
BINDER_COLUMNS = tuple(c for c in COLUMNS if c.export)


# The forms --------------------------------------------------------------------------------------
class SubjectRequestForm(ModelForm):
    """The request as received; the steps are taken on its page."""

    received_at = ROCDateTimeField(
        label=gettext_lazy("受理時間"),
        help_text=gettext_lazy(
            "民國年/月/日 時:分，例如 115/11/28 14:05；法定期限自受理之次日起算。"
        ),
    )

    class Meta(ModelForm.Meta):
        model = SubjectRequest
        # What is entered (the handler last, after the files concerned).
        fields = [*(f for f in requests.ENTRY_FIELDS if f != "handler"), "files", "handler"]
        field_classes = {"handler": LoginChoiceField}
        widgets = {
            "details": forms.Textarea(attrs={"rows": 3}),
            "files": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "kind": gettext_lazy(
                "查詢、閱覽、製給複製本（個人資料保護法第 10 條）：15 日內決定；補充或更正、"
                "停止蒐集處理利用、刪除（第 11 條）：30 日內決定（第 13 條）。"
            ),
            "agent_name": gettext_lazy("由代理人提出時填寫；查核身分時一併核對委任書。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        req = self.instance
        fields = self.fields
        fields["kind"].choices = [("", "---------"), *Kind.choices]
        keep = list(req.files.values_list("pk", flat=True)) if req.pk else []
        fields["files"].queryset = requests.active_files(keep).select_related("unit")
        fields["files"].required = False
        fields["handler"].queryset = (
            get_user_model()
            .objects.filter(Q(is_active=True) | Q(pk=req.handler_id or 0))
            .select_related("person")
            .order_by("username")
        )
        # The service says what is missing, citing the law (not Django's generic text).
        for name in ("requester_name", "requester_contact", "details", "handler"):
            fields[name].required = False
        if req.pk is None and self.request is not None and not self.is_bound:
            self.initial.setdefault(
                "received_at", timezone.localtime().replace(second=0, microsecond=0)
            )
            if requests.may_handle(self.request.user):
                self.initial.setdefault("handler", self.request.user.pk)
        if req.pk is not None:
            if req.replied_at is not None:
                for name, field in fields.items():
                    if name != "files":
                        field.disabled = True
            elif req.extended_at is not None or req.decided_at is not None:
                for name in requests.DEADLINE_FIELDS:
                    fields[name].disabled = True

    def save(self, commit=True):
        req = super().save(commit=False)
        files = list(self.cleaned_data.get("files") or [])
        return requests.save_request(req, actor=self.request.user, files=files)


class IdentityForm(forms.Form):
    identity_method = forms.CharField(
        label=gettext_lazy("身分查核方式"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("例如：國民身分證正本核對；代理人另核對委任書及代理人身分證明。"),
    )
    identity_checked_at = ROCDateTimeField(
        label=gettext_lazy("查核時間"), required=False, help_text=gettext_lazy("留空為現在。")
    )


class ExtendForm(forms.Form):
    extension_reason = forms.CharField(
        label=gettext_lazy("延長原因"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("將以書面通知請求人的延長原因（個人資料保護法第 13 條）。"),
    )
    extension_notified_on = ROCDateField(
        label=gettext_lazy("書面通知日期"),
        required=False,
        help_text=gettext_lazy("延長通知書寄出（或交付）的日期，例如 115/12/05。"),
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("准駁決定"),
        required=False,
        choices=[("", "---------"), *Decision.choices],
    )
    decision_reason = forms.CharField(
        label=gettext_lazy("決定理由及依據"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "駁回或部分准予須寫明理由及法律依據，例如個人資料保護法第 10 條但書、第 11 條但書。"
        ),
    )
    decided_at = ROCDateTimeField(
        label=gettext_lazy("決定時間"), required=False, help_text=gettext_lazy("留空為現在。")
    )


class ReplyForm(forms.Form):
    replied_at = ROCDateTimeField(
        label=gettext_lazy("回覆時間"), required=False, help_text=gettext_lazy("留空為現在。")
    )
    reply_method = forms.CharField(
        label=gettext_lazy("回覆方式"),
        required=False,
        max_length=100,
        help_text=gettext_lazy("例如：掛號郵寄、電子郵件、當面交付。"),
    )
    reply_text = forms.CharField(
        label=gettext_lazy("回覆內容"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("告知請求人的決定與處理結果（可與回覆函說明相同）。"),
    )


def _styled(form):
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
        field.widget.attrs.setdefault("class", css)
    return form


# The steps: each one's service and what its form (or API body) fields are to it -------------
STEPS = {
    "identity": (
        requests.check_identity,
        {"identity_method": "method", "identity_checked_at": "checked_at"},
    ),
    "extend": (
        requests.extend,
        {"extension_reason": "reason", "extension_notified_on": "notified_on"},
    ),
    "decide": (
        requests.decide,
        {"decision": "decision", "decision_reason": "reason", "decided_at": "decided_at"},
    ),
    "reply": (
        requests.reply,
        {"reply_method": "method", "reply_text": "text", "replied_at": "replied_at"},
    ),
}
# Texts the services take as "" when not given (the moments and dates as None).
STEP_TEXTS = {
    "identity_method",
    "extension_reason",
    "decision",
    "decision_reason",
    "reply_method",
    "reply_text",
}
STEP_FORMS = {
    "identity": IdentityForm,
    "extend": ExtendForm,
    "decide": DecideForm,
    "reply": ReplyForm,
}


def take_step(name: str, req, *, actor, data: dict):
    """Take the step ``name`` of a request with the fields of its form or API body."""
    service, keywords = STEPS[name]
    values = {
        keyword: (data.get(field) or "") if field in STEP_TEXTS else data.get(field)
        for field, keyword in keywords.items()
    }
    return service(req, actor=actor, **values)


# The API -----------------------------------------------------------------------------------------
# What the steps record (read-only in the API: the steps' actions write them).
STEP_RECORD_FIELDS = [
    "identity_checked_at",
    "identity_checked_by",
    "identity_method",
    "extended_at",
    "extension_reason",
    "extension_notified_on",
    "decision",
    "decision_reason",
    "decided_at",
    "decided_by",
    "replied_at",
    "reply_method",
    "reply_text",
]


class SubjectRequestSerializer(ServiceSerializer):
    save_extras = ("files",)
    status = serializers.SerializerMethodField()
    last_day = serializers.SerializerMethodField()
    deadline = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    # Empty until the decision: the schema says so (a read-only choice field would not).
    decision = serializers.ChoiceField(
        choices=[("", ""), *SubjectRequest.Decision.choices], read_only=True
    )

    class Meta:
        model = SubjectRequest
        fields = [
            "id",
            "number",
            *requests.ENTRY_FIELDS,
            "files",
            *STEP_RECORD_FIELDS,
            "status",
            "last_day",
            "deadline",
            "overdue",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            *STEP_RECORD_FIELDS,
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        extra_kwargs = {
            "requester_name": {"required": False, "allow_blank": True},
            "requester_contact": {"required": False, "allow_blank": True},
            "details": {"required": False, "allow_blank": True},
            "handler": {"required": False},
            "files": {"required": False},
        }

    def get_status(self, obj) -> str:
        return requests.status(obj)

    def get_last_day(self, obj) -> str:
        return requests.last_day(obj).isoformat()

    def get_deadline(self, obj) -> str:
        return timezone.localtime(requests.deadline(obj)).isoformat()

    def get_overdue(self, obj) -> bool:
        return requests.overdue(obj)

    def save_record(self, req, *, actor, files):
        return requests.save_request(req, actor=actor, files=files)


class IdentitySerializer(serializers.Serializer):
    identity_method = serializers.CharField(required=False, allow_blank=True, max_length=200)
    identity_checked_at = DateTimeField(required=False, allow_null=True)


class ExtendSerializer(serializers.Serializer):
    extension_reason = serializers.CharField(required=False, allow_blank=True)
    extension_notified_on = DateField(required=False, allow_null=True)


class DecideSerializer(serializers.Serializer):
    decision = serializers.CharField(required=False, allow_blank=True, max_length=10)
    decision_reason = serializers.CharField(required=False, allow_blank=True)
    decided_at = DateTimeField(required=False, allow_null=True)


class ReplySerializer(serializers.Serializer):
    replied_at = DateTimeField(required=False, allow_null=True)
    reply_method = serializers.CharField(required=False, allow_blank=True, max_length=100)
    reply_text = serializers.CharField(required=False, allow_blank=True)


class SubjectRequestViewSet(RegisterViewSet):
    """The requests; ``identity``, ``extend``, ``decide`` and ``reply`` take the steps
    (the handlers: the register's ``change``), each refused with field errors (400)."""

    def _step(self, request, name):
        req = self.get_object()
        data = self.body(STEP_BODIES[name])

        def step(req):
            req = take_step(name, req, actor=request.user, data=data)
            req.refresh_from_db()
            return req

        return self.service_answer(step, req)

    @extend_schema(request=IdentitySerializer, responses={200: SubjectRequestSerializer})
    @action(detail=True, methods=["post"], url_path="identity")
    def identity(self, request, pk=None):
        return self._step(request, "identity")

    @extend_schema(request=ExtendSerializer, responses={200: SubjectRequestSerializer})
    @action(detail=True, methods=["post"], url_path="extend")
    def extend(self, request, pk=None):
        return self._step(request, "extend")

    @extend_schema(request=DecideSerializer, responses={200: SubjectRequestSerializer})
    @action(detail=True, methods=["post"], url_path="decide")
    def decide(self, request, pk=None):
        return self._step(request, "decide")

    @extend_schema(request=ReplySerializer, responses={200: SubjectRequestSerializer})
    @action(detail=True, methods=["post"], url_path="reply")
    def reply(self, request, pk=None):
        return self._step(request, "reply")


STEP_BODIES = {
    "identity": IdentitySerializer,
    "extend": ExtendSerializer,
    "decide": DecideSerializer,
    "reply": ReplySerializer,
}


# The register ------------------------------------------------------------------------------------
class SubjectRequestRegister(Register):
    model = SubjectRequest
    clause = requests.CLAUSE
    access = REQUEST_ACCESS
    columns = COLUMNS
    filterset_class = SubjectRequestFilterSet
    form_class = SubjectRequestForm
    serializer_class = SubjectRequestSerializer
    viewset_base = SubjectRequestViewSet
    select_related = ("handler__person",)
    prefetch_related = ("files",)
    # The API gives related records as ids: no joins, but the files prefetched.
    api_select_related = ()
    ordering = ("-received_at", "-id")
    route = "requests"
    nav_group = NAV
    nav_label = gettext_lazy("當事人權利請求")
    detail_template = "privacy/requests/detail.html"

    # An open request past its deadline is red (逾期 N 天).
    late_column = "deadline"

    @classmethod
    def row_late(cls, obj, now, state=None):
        return requests.countdown(obj, now)[0] == Countdown.OVERDUE

    @classmethod
    def cell_attrs(cls, obj, name, now):
        if name == "deadline":
            return f' data-countdown="{requests.countdown(obj, now)[0]}"'
        if name == "state":
            return f' data-status="{requests.status(obj)}"'
        return ""

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return requests.void_request(obj, actor=actor, reason=reason)


# The request's page: the steps ----------------------------------------------------------------
def file_links(req) -> list[tuple[str, str | None]]:
    """(name, link or None) of the files concerned; the inventory's page when it is there."""
    return [
        (f"{f.name}（{f.unit}）", url_or_none("privacy:personaldatafile_detail", f.pk))
        for f in req.files.select_related("unit").order_by("name", "id")
    ]


class SubjectRequestDetail(DetailPage):
    register = SubjectRequestRegister

    def get(self, request, pk, *, status=200, **extra):
        req = self.get_object("view")
        user = request.user
        now = timezone.now()
        open_ = req.voided_at is None and req.replied_at is None
        handles = open_ and can(user, "change", STEP_ACCESS)
        code, countdown_text = requests.countdown(req, now)
        for step, form_class in STEP_FORMS.items():
            name = f"{step}_form"
            extra.setdefault(name, form_class())
            _styled(extra[name])
        return super().get(
            request,
            pk,
            status=status,
            req=req,
            heading=str(req),
            state=requests.status(req),
            state_label=_status(req),
            countdown_code=code,
            countdown_text=countdown_text,
            last_day=requests.last_day(req),
            original_last_day=requests.original_last_day(req),
            extended_last_day=requests.extended_last_day(req),
            period_days=requests.period_days(req.kind),
            article=requests.article(req.kind),
            paragraph=requests.paragraph(req.kind),
            requester=requests.requester_label(req),
            files=file_links(req),
            can_edit=req.voided_at is None and requests.may_handle(user),
            can_identity=handles and req.identity_checked_at is None,
            can_extend=handles
            and req.extended_at is None
            and req.decided_at is None
            and now <= requests.deadline(req),
            can_decide=handles and req.identity_checked_at is not None and req.decided_at is None,
            can_reply=handles and req.decided_at is not None,
            letter_url=reverse("privacy:subjectrequest_letter", args=[req.pk])
            if req.decided_at
            else None,
            notice_url=reverse("privacy:subjectrequest_notice", args=[req.pk])
            if req.extended_at
            else None,
            **extra,
        )


class StepView(DetailAction, SubjectRequestDetail):
    """A step from the request's page; refused → the request's page with the reasons (400)."""

    access = STEP_ACCESS
    step = None

    @property
    def form_class(self):
        return STEP_FORMS[self.step]

    @property
    def form_context(self):
        return f"{self.step}_form"

    def perform(self, req, form, user):
        take_step(self.step, req, actor=user, data=form.cleaned_data)


class IdentityView(StepView):
    """查核身分."""

    step = "identity"

    def success_message(self, req):
        return _("已登錄「%(req)s」的身分查核。") % {"req": req}


class ExtendView(StepView):
    """延長期限 (PDPA art. 13)."""

    step = "extend"

    def success_message(self, req):
        return _("已延長「%(req)s」的處理期限至 %(day)s。") % {
            "req": req,
            "day": roc.format_roc(requests.last_day(req)),
        }


class DecideView(StepView):
    """准駁決定."""

    step = "decide"

    def success_message(self, req):
        return _("已登錄「%(req)s」的准駁決定：%(decision)s。") % {
            "req": req,
            "decision": req.get_decision_display(),
        }


class ReplyView(StepView):
    """回覆."""

    step = "reply"

    def success_message(self, req):
        return _("已登錄「%(req)s」的回覆。") % {"req": req}


# The letters ------------------------------------------------------------------------------------
def _letter_context(req) -> dict:
    from isms.compliance.models import PolicyRevision

    school = SchoolProfile.load()
    received = requests.local_date(req.received_at)
    return {
        "req": req,
        "school": school,
        "requester": requests.requester_label(req),
        "received_on": received,
        "kind_label": req.get_kind_display(),
        "article": requests.article(req.kind),
        "paragraph": requests.paragraph(req.kind),
        "period_days": requests.period_days(req.kind),
        "original_last_day": requests.original_last_day(req),
        "extended_last_day": requests.extended_last_day(req),
        "handler": requests.person_name(req.handler),
        "policy_version": PolicyRevision.current(),
        "now": timezone.now(),
        "back": req.get_absolute_url(),
    }


def _date_parts(day) -> dict:
    """年 月 日 of the letter's 發文日期; blank (filled by hand) when there is none yet."""
    if day is None:
        return {"roc_year": "", "month": "", "day": ""}
    return {"roc_year": roc.roc_year(day), "month": day.month, "day": day.day}


class LetterView(RegisterView):
    """回覆函: the decision and its legal basis, to the requester (A4). Only once decided;
    before that the page says so (400)."""

    register = SubjectRequestRegister

    def get(self, request, pk):
        req = self.get_object("view")
        ctx = _letter_context(req)
        if req.decided_at is None:
            ctx["error"] = _("尚未作成准駁決定，無法列印回覆函；請先在請求頁面登錄准駁決定。")
            return render(request, "privacy/requests/print_letter.html", ctx, status=400)
        sent = requests.local_date(req.replied_at) if req.replied_at else None
        ctx.update(_date_parts(sent))
        ctx["decision_label"] = req.get_decision_display()
        return render(request, "privacy/requests/print_letter.html", ctx)


class NoticeView(RegisterView):
    """延長通知書: the reason and the new deadline (PDPA art. 13), to the requester (A4).
    Only once extended; before that the page says so (400)."""

    register = SubjectRequestRegister

    def get(self, request, pk):
        req = self.get_object("view")
        ctx = _letter_context(req)
        if req.extended_at is None:
            ctx["error"] = _("本案未延長處理期限，沒有延長通知書。")
            return render(request, "privacy/requests/print_notice.html", ctx, status=400)
        ctx.update(_date_parts(req.extension_notified_on))
        return render(request, "privacy/requests/print_notice.html", ctx)


class SubjectRequestAdd(AddPage):
    template_name = "privacy/requests/form.html"


class SubjectRequestEdit(EditPage):
    template_name = "privacy/requests/form.html"


class SubjectRequestList(ListPage):
    register = SubjectRequestRegister
    template_name = "privacy/requests/list.html"


SubjectRequestRegister.add_view = SubjectRequestAdd
SubjectRequestRegister.edit_view = SubjectRequestEdit
SubjectRequestRegister.detail_view = SubjectRequestDetail

urlpatterns = [
    path("requests/<int:pk>/identity/", IdentityView.as_view(), name="subjectrequest_identity"),
    path("requests/<int:pk>/extend/", ExtendView.as_view(), name="subjectrequest_extend"),
    path("requests/<int:pk>/decide/", DecideView.as_view(), name="subjectrequest_decide"),
    path("requests/<int:pk>/reply/", ReplyView.as_view(), name="subjectrequest_reply"),
    path("requests/<int:pk>/letter/", LetterView.as_view(), name="subjectrequest_letter"),
    path("requests/<int:pk>/notice/", NoticeView.as_view(), name="subjectrequest_notice"),
    path("requests/", SubjectRequestList.as_view(), name="subjectrequest_list"),
    *SubjectRequestRegister.urls(without=("list",)),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(SubjectRequestRegister, "data-subject-requests")]
