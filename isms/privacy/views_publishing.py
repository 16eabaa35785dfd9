"""Pages of the publishing approvals (網頁公布個資核准; clause 7.4).

The register (list with 逾期未下架 in red, filters, export, ``/api/publishing-approvals/``
with ``approve``, ``reject``, ``remove`` and ``withdraw``), the request form, and the
request's page with the step its reader may take: the head's decision (核准 / 不核准), the
record of the take-down (已下架), the requester's withdrawal. The rules are
``publishing``'s.

Who sees what (``publishing.scope``): the security officer, the supervisor and the
principal see every request; anyone else with a role those they made and those of the
units they belong to or head (others are a 404).
"""

import django_filters as df
from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from isms.core.access import Access, can
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import AddPage, DetailAction, DetailPage, EditPage
from isms.core.models import Unit
from isms.core.registers import Column, Register
from isms.core.restapi import (
    DateTimeField,
    RegisterViewSet,
    ServiceSerializer,
)
from isms.core.roles import ALL_ROLES, MANAGERS, SECURITY_OFFICER

from . import publishing
from .models import CategoryCode, PublishingApproval
from .nav import NAV
from .views_notices import CodeChoices, active_or_kept, no_unit_page

Status = PublishingApproval.Status
State = publishing.State

PUBLISHING_ACCESS = Access(
    view=ALL_ROLES,
    add=ALL_ROLES,
    change=ALL_ROLES,
    void=frozenset({SECURITY_OFFICER}),
    export=MANAGERS,
    scope=publishing.scope,
)
# The steps: whoever sees the request may try; the service says who may take each.
STEP_ACCESS = Access(view=ALL_ROLES, change=ALL_ROLES, scope=publishing.scope)


# Columns -----------------------------------------------------------------------------------------
def _categories(approval) -> str:
    return "、".join(c.code for c in sorted(approval.categories.all(), key=lambda c: c.code))


def _name(user) -> str:
    return user.display_name if user is not None else ""


COLUMNS = [
    Column("unit", gettext_lazy("單位"), accessor="unit.name", sort="unit__name"),
    Column("what", gettext_lazy("公布內容"), link=True),
    Column("where", gettext_lazy("網頁網址")),
    Column("categories", gettext_lazy("個人資料類別"), accessor=_categories, sort=None, page=False),
    Column("reason", gettext_lazy("公布目的及依據"), page=False),
    Column("publish_from", gettext_lazy("公布起日")),
    Column("publish_until", gettext_lazy("公布期限")),
    Column("state", gettext_lazy("狀態"), accessor=publishing.state_label, sort="status"),
    Column(
        "requested_by",
        gettext_lazy("申請人"),
        accessor=lambda a: _name(a.requested_by),
        sort="requested_by__username",
    ),
    Column("requested_at", gettext_lazy("申請時間"), page=False),
    Column(
        "decided_by",
        gettext_lazy("核定者"),
        accessor=lambda a: _name(a.decided_by),
        sort=None,
        page=False,
    ),
    Column("decided_at", gettext_lazy("核定時間"), page=False),
    Column("decision_note", gettext_lazy("核定意見"), page=False),
    Column("removed_at", gettext_lazy("下架時間")),
    Column(
        "removed_by",
        gettext_lazy("下架登錄者"),
        accessor=lambda a: _name(a.removed_by),
        sort=None,
        page=False,
    ),
]
BINDER_COLUMNS = tuple(c for c in COLUMNS if c.export)


class PublishingFilterSet(FilterSet):
    search_fields = ("what", "where", "reason", "unit__name")
    state = df.ChoiceFilter(
        label=gettext_lazy("狀態"), choices=State.choices, method="filter_state"
    )
    unit = df.ModelChoiceFilter(label=gettext_lazy("單位"), queryset=Unit.objects.all())
    until_from = ROCDateFilter(
        label=gettext_lazy("公布期限起"), field_name="publish_until", lookup_expr="gte"
    )
    until_to = ROCDateFilter(
        label=gettext_lazy("公布期限迄"), field_name="publish_until", lookup_expr="lte"
    )

    class Meta:
        model = PublishingApproval
        fields = ["state", "unit"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["unit"].queryset = Unit.objects.order_by("name")

    def filter_state(self, queryset, name, value):
        return queryset.filter(publishing.state_q(value))


# The form ----------------------------------------------------------------------------------------
class PublishingForm(ModelForm):
    """A request (or its correction while pending); saved through ``publishing.save_request``."""

    class Meta(ModelForm.Meta):
        model = PublishingApproval
        fields = ["unit", "what", "categories", "where", "reason", "publish_from", "publish_until"]
        field_classes = {"categories": CodeChoices}
        widgets = {
            "what": forms.Textarea(attrs={"rows": 2}),
            "reason": forms.Textarea(attrs={"rows": 2}),
            "categories": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "unit": gettext_lazy(
                "管理此網站或網頁的單位：您所屬的單位；由該單位主管核准（條文 7.4）。"
            ),
            "what": gettext_lazy("例如：114 學年度技藝競賽得獎學生之班級、姓名。"),
            "categories": gettext_lazy("公布的個人資料類別，例如 C001 辨識個人者；可輸入篩選。"),
            "where": gettext_lazy("公布的網頁完整網址，例如 https://www.example.edu.tw/news/123。"),
            "reason": gettext_lazy(
                "為何需要公布及其依據，例如：表揚優秀學生（活動辦法已告知將公布姓名）。"
            ),
            "publish_from": gettext_lazy("今天或以後：核准後才能公布。"),
            "publish_until": gettext_lazy("期滿須下架並登錄下架時間；期滿前會提醒。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        approval = self.instance
        fields = self.fields
        user = self.request.user if self.request is not None else None
        kept = approval.categories.values_list("pk", flat=True) if approval.pk else []
        units = publishing.units_for(user) if user is not None else Unit.objects.none()
        fields["unit"].queryset = Unit.objects.filter(
            Q(pk__in=units.values("pk")) | Q(pk=approval.unit_id or 0)
        ).order_by("name")
        fields["categories"].queryset = active_or_kept(CategoryCode, kept)
        fields["categories"].widget.attrs["class"] = "form-check-input"
        # The service says what is missing, citing 7.4 (not Django's generic text).
        for name in ("unit", "what", "categories", "where", "reason"):
            fields[name].required = False
        for name in ("what", "reason"):
            fields[name].widget.attrs["maxlength"] = str(publishing.TEXT_LIMITS[name])
        if approval.pk is None and not self.is_bound and user is not None:
            wanted = self.request.GET.get("unit", "")
            if wanted.isdigit() and units.filter(pk=int(wanted)).exists():
                self.initial.setdefault("unit", int(wanted))
            else:
                mine = list(units[:2])
                if len(mine) == 1:
                    self.initial.setdefault("unit", mine[0].pk)
                elif user.person_id and user.person.unit_id:
                    self.initial.setdefault("unit", user.person.unit_id)
            self.initial.setdefault("publish_from", timezone.localdate())

    def clean(self):
        data = super().clean()
        start, end = data.get("publish_from"), data.get("publish_until")
        if start is not None and end is not None:
            # Here, before the model's own check of the two dates (a generic message).
            kept = self.instance if self.instance.pk else None
            for name, message in publishing.date_errors(start, end, kept=kept).items():
                self.add_error(name, message)
        return data

    def save(self, commit=True):
        approval = super().save(commit=False)
        return publishing.save_request(
            approval,
            actor=self.request.user,
            categories=list(self.cleaned_data.get("categories") or []),
        )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("核定"),
        choices=[("approve", gettext_lazy("核准")), ("reject", gettext_lazy("不核准"))],
        widget=forms.HiddenInput,
    )
    note = forms.CharField(
        label=gettext_lazy("核定意見"),
        required=False,
        max_length=publishing.TEXT_LIMITS["decision_note"],
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        help_text=gettext_lazy("不核准時必填，申請人會收到通知。"),
    )


class RemoveForm(forms.Form):
    removed_at = ROCDateTimeField(
        label=gettext_lazy("下架時間"),
        required=False,
        help_text=gettext_lazy("留空為現在，例如 115/12/31 17:00。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["removed_at"].widget.attrs.setdefault("class", "form-control")


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("撤回原因"),
        min_length=2,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


# The API -----------------------------------------------------------------------------------------
class PublishingSerializer(ServiceSerializer):
    save_extras = ("categories",)
    state = serializers.SerializerMethodField(help_text=gettext_lazy("狀態（含逾期未下架）"))

    class Meta:
        model = PublishingApproval
        fields = [
            "id",
            "unit",
            "what",
            "categories",
            "where",
            "reason",
            "publish_from",
            "publish_until",
            "status",
            "state",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "removed_by",
            "removed_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "removed_by",
            "removed_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        extra_kwargs = {
            "unit": {"required": False, "allow_null": True},
            "what": {"required": False, "allow_blank": True},
            "reason": {"required": False, "allow_blank": True},
            "where": {"required": False, "allow_blank": True},
            "categories": {"required": False, "allow_empty": True},
        }
        validators = []  # the dates' check is the service's, with its message

    def get_state(self, obj) -> str:
        return publishing.state(obj)

    def save_record(self, approval, *, actor, categories):
        if categories is None:  # not sent: those it has
            categories = approval.categories.all() if approval.pk else []
        return publishing.save_request(approval, actor=actor, categories=list(categories))


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(
        label=gettext_lazy("核定意見"),
        required=False,
        allow_blank=True,
        max_length=publishing.TEXT_LIMITS["decision_note"],
    )


class RemovalSerializer(serializers.Serializer):
    removed_at = DateTimeField(label=gettext_lazy("下架時間"), required=False, allow_null=True)


class WithdrawalSerializer(serializers.Serializer):
    reason = serializers.CharField(label=gettext_lazy("撤回原因"), min_length=2, max_length=1000)


class PublishingViewSet(RegisterViewSet):
    """The steps: ``approve`` / ``reject`` (the unit's head; the principal when the head
    asked), ``remove`` (已下架), ``withdraw`` (the requester, while pending)."""

    def _step(self, request, body_class, service, **keywords):
        """Run ``service`` on the approval with the body's fields: keyword → (field, default)."""
        approval = self.get_object()
        data = self.body(body_class)
        values = {name: data.get(field, default) for name, (field, default) in keywords.items()}

        def step(approval):
            service(approval, actor=request.user, **values)
            return PublishingApproval.objects.get(pk=approval.pk)

        return self.service_answer(step, approval)

    @extend_schema(request=DecisionSerializer, responses={200: PublishingSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._step(request, DecisionSerializer, publishing.approve, note=("note", ""))

    @extend_schema(request=DecisionSerializer, responses={200: PublishingSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._step(request, DecisionSerializer, publishing.reject, note=("note", ""))

    @extend_schema(request=RemovalSerializer, responses={200: PublishingSerializer})
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        return self._step(
            request, RemovalSerializer, publishing.record_removal, removed_at=("removed_at", None)
        )

    @extend_schema(request=WithdrawalSerializer, responses={200: PublishingSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._step(
            request, WithdrawalSerializer, publishing.withdraw, reason=("reason", None)
        )


# The register ------------------------------------------------------------------------------------
class PublishingRegister(Register):
    model = PublishingApproval
    clause = publishing.CLAUSE
    access = PUBLISHING_ACCESS
    columns = COLUMNS
    filterset_class = PublishingFilterSet
    form_class = PublishingForm
    serializer_class = PublishingSerializer
    viewset_base = PublishingViewSet
    select_related = (
        "unit",
        "requested_by__person",
        "decided_by__person",
        "removed_by__person",
    )
    prefetch_related = ("categories",)
    ordering = ("-requested_at", "-id")
    route = "publishing"
    nav_group = NAV
    nav_label = gettext_lazy("網頁公布個資核准")
    detail_template = "privacy/publishing/detail.html"

    @classmethod
    def api_queryset(cls):
        return PublishingApproval.objects.prefetch_related("categories").order_by(*cls.ordering)

    # An approval past its end and not taken down is red (逾期未下架).
    late_column = "state"

    @classmethod
    def row_late(cls, obj, now, state=None):
        return publishing.is_overdue(obj, timezone.localtime(now).date())

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return publishing.void_approval(obj, actor=actor, reason=reason)


# Pages -------------------------------------------------------------------------------------------
class PublishingAdd(AddPage):
    template_name = "privacy/publishing/form.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if (
            user.is_authenticated
            and can(user, "add", PUBLISHING_ACCESS)
            and not publishing.acts_for_a_unit(user)
        ):
            return no_unit_page(
                request,
                kind=_("網頁公布個資申請"),
                list_url=reverse("privacy:publishingapproval_list"),
                clause=publishing.CLAUSE,
            )
        return super().dispatch(request, *args, **kwargs)


class PublishingEdit(EditPage):
    """A pending request: its requester or the officer (others: 403; another's: 404)."""

    template_name = "privacy/publishing/form.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if (
            user.is_authenticated
            and not publishing.is_officer(user)
            and not PublishingApproval.objects.filter(
                requested_by_id=user.pk, status=Status.PENDING, voided_at__isnull=True
            ).exists()
        ):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def context(self, **extra):
        # A refused form's instance holds what was posted (perhaps no unit): the page's
        # title and breadcrumb name the record as it is stored.
        obj = extra.get("object")
        if obj is not None and obj.pk:
            extra["object"] = PublishingApproval.objects.select_related("unit").get(pk=obj.pk)
        return super().context(**extra)

    def get_instance(self):
        approval = super().get_instance()
        if not publishing.may_edit(self.request.user, approval):
            raise PermissionDenied
        return approval


class PublishingDetail(DetailPage):
    register = PublishingRegister

    def get(self, request, pk, *, status=200, **extra):
        approval = self.get_object("view")
        user = request.user
        head = publishing.head_of(approval.unit_id)
        kind, head_user = publishing.decider(approval, head)
        pending = approval.voided_at is None and approval.status == Status.PENDING
        can_decide = pending and publishing.may_decide(user, approval, head)
        extra.setdefault("decide_form", DecideForm())
        extra.setdefault("remove_form", RemoveForm())
        extra.setdefault("withdraw_form", WithdrawForm())
        # A refused step's reasons that are not about one of its fields (shown on top).
        step_errors = [
            message
            for name in ("decide_form", "remove_form", "withdraw_form")
            if extra[name].is_bound
            for message in extra[name].non_field_errors()
        ]
        if extra["decide_form"].is_bound:
            step_errors += extra["decide_form"].errors.get("decision", [])
        return super().get(
            request,
            pk,
            status=status,
            approval=approval,
            heading=approval.what[:60],
            state=publishing.state(approval),
            state_label=publishing.state_label(approval),
            overdue=publishing.is_overdue(approval),
            categories=sorted(approval.categories.all(), key=lambda c: c.code),
            decider_kind=kind,
            head_user=head_user,
            head_url=publishing.head_page_url() if publishing.is_officer(user) else None,
            is_officer=publishing.is_officer(user),
            pending=pending,
            can_decide=can_decide,
            can_edit=publishing.may_edit(user, approval),
            can_remove=publishing.may_remove(user, approval, head),
            can_withdraw=publishing.may_withdraw(user, approval),
            can_void_record=approval.voided_at is None and publishing.is_officer(user),
            due=publishing.due_moment(approval.publish_until),
            step_errors=step_errors,
            **extra,
        )


class StepView(DetailAction, PublishingDetail):
    access = STEP_ACCESS


class DecideView(StepView):
    """核准 / 不核准 (the unit's head, or the principal when the head asked)."""

    form_class = DecideForm
    form_context = "decide_form"

    def perform(self, approval, form, user):
        data = form.cleaned_data
        publishing.decide(
            approval, actor=user, approve=data["decision"] == "approve", note=data["note"]
        )

    def success_message(self, approval):
        if approval.status == Status.APPROVED:
            return _("已核准，申請人會收到通知。")
        return _("已登錄不核准，申請人會收到通知。")


class RemoveView(StepView):
    """登錄已下架 (the requester, the unit's head or the officer)."""

    form_class = RemoveForm
    form_context = "remove_form"

    def perform(self, approval, form, user):
        publishing.record_removal(
            approval, actor=user, removed_at=form.cleaned_data.get("removed_at")
        )

    def success_message(self, approval):
        return _("已登錄下架。")


class WithdrawView(StepView):
    """撤回 a pending request (its requester)."""

    form_class = WithdrawForm
    form_context = "withdraw_form"

    def perform(self, approval, form, user):
        publishing.withdraw(approval, actor=user, reason=form.cleaned_data["reason"])

    def success_message(self, approval):
        return _("已撤回申請。")


PublishingRegister.add_view = PublishingAdd
PublishingRegister.edit_view = PublishingEdit
PublishingRegister.detail_view = PublishingDetail

urlpatterns = [
    path("publishing/<int:pk>/decide/", DecideView.as_view(), name="publishingapproval_decide"),
    path("publishing/<int:pk>/remove/", RemoveView.as_view(), name="publishingapproval_remove"),
    path(
        "publishing/<int:pk>/withdraw/",
        WithdrawView.as_view(),
        name="publishingapproval_withdraw",
    ),
    *PublishingRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(PublishingRegister, "publishing-approvals")]
