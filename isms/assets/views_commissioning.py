"""Pages of the 啟用與報廢紀錄單 (A-1; clauses 2.2.3, 3.5, 4.2, 7.10).

The register (list, filters, export, API read-only), filing and editing by the executor
(設備組長 or system administrator; only the executor edits, only until the review), the
supervisor's review on the record's page, and the print view of the paper form.

The asset's page links here with ``add/?asset=<pk>&kind=commission`` (填寫啟用紀錄) or
``&kind=decommission`` (填寫報廢紀錄); the list takes ``?asset=<pk>`` too.
"""

import django_filters as df
from django import forms as djforms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core.access import Access
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import add_service_errors
from isms.core.generic import DetailAction, DetailPage, ProtectedView, RegisterView
from isms.core.models import SchoolProfile
from isms.core.registers import Column, Register, as_text
from isms.core.restapi import ModelSerializer
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, SECURITY_OFFICER, SUPERVISOR, SYSADMIN

from . import commissioning, services
from . import forms_commissioning as forms
from .models import Asset, CommissioningRecord
from .nav import NAV

Kind = CommissioningRecord.Kind
EXECUTORS = frozenset({EQUIPMENT_HEAD, SYSADMIN})
READERS = MANAGERS | EXECUTORS
RECORD_ACCESS = Access(
    view=READERS,
    add=EXECUTORS,
    change=EXECUTORS,  # and only the record's executor, before the review
    void=EXECUTORS | {SECURITY_OFFICER},
)
REVIEW_ACCESS = Access(view=READERS, change=frozenset({SUPERVISOR}))


# The register ----------------------------------------------------------------------------------
class CommissioningRecordFilterSet(FilterSet):
    search_fields = ("asset__property_number", "asset__name", "use", "model_text", "other")
    reviewed = df.ChoiceFilter(
        label=gettext_lazy("主管覆核"),
        choices=[("yes", gettext_lazy("已覆核")), ("no", gettext_lazy("待覆核"))],
        method="filter_reviewed",
    )
    # The asset's page links to its records with ?asset=<pk>; not a field of the bar.
    asset = df.NumberFilter(label="", field_name="asset_id", widget=djforms.HiddenInput)
    executed_from = ROCDateFilter(
        label=gettext_lazy("執行日期起"), field_name="executed_on", lookup_expr="gte"
    )
    executed_to = ROCDateFilter(
        label=gettext_lazy("執行日期迄"), field_name="executed_on", lookup_expr="lte"
    )

    class Meta:
        model = CommissioningRecord
        fields = ["kind", "reviewed", "asset"]

    def filter_reviewed(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(reviewed_at__isnull=False)
        if value == "no":
            return queryset.filter(reviewed_at__isnull=True)
        return queryset


def _checks(record) -> str:
    """The ticked checks of the record's kind, as on the paper."""
    if record.kind == Kind.COMMISSION:
        checks = commissioning.COMMISSION_CHECKS
        names = [str(label) for name, label, _w in checks if getattr(record, name)]
    else:
        names = [_("刪除硬碟資料")] if record.wiped else []
    return "、".join(names)


def _review(record) -> str:
    if not record.reviewed:
        return _("待覆核")
    return f"{record.reviewed_by.display_name} {as_text(record.reviewed_at)}"


class CommissioningRecordSerializer(ModelSerializer):
    class Meta:
        model = CommissioningRecord
        fields = [
            "id",
            "asset",
            "kind",
            "executor",
            "executed_on",
            "use",
            "model_text",
            "virus_scan",
            "default_password_changed",
            "system_updated",
            "wiped",
            "wipe_method",
            "new_custodian",
            "new_unit",
            "other",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "created_at",
            "voided_at",
        ]
        read_only_fields = fields


class CommissioningRecordRegister(Register):
    model = CommissioningRecord
    clause = "2.2.3"
    access = RECORD_ACCESS
    columns = [
        Column("executed_on", gettext_lazy("執行日期"), link=True),
        Column("kind", gettext_lazy("類別")),
        Column(
            "property_number",
            gettext_lazy("財產編號"),
            accessor="asset.property_number",
            sort="asset__property_number",
        ),
        Column("asset", gettext_lazy("設備名稱"), accessor="asset.name", sort="asset__name"),
        Column("asset_kind", gettext_lazy("設備類別"), accessor="asset.kind", sort="asset__kind"),
        Column("use", gettext_lazy("設備用途")),
        Column("model_text", gettext_lazy("設備型號"), page=False),
        Column(
            "executor",
            gettext_lazy("執行人"),
            accessor=lambda r: r.executor.display_name,
            sort=None,
        ),
        Column("checks", gettext_lazy("檢查項目"), accessor=_checks, sort=None),
        Column("wipe_method", gettext_lazy("刪除方式"), page=False),
        Column(
            "new_custodian",
            gettext_lazy("移轉後保管人"),
            accessor="new_custodian.name",
            page=False,
        ),
        Column("new_unit", gettext_lazy("移轉後使用單位"), accessor="new_unit.name", page=False),
        Column("other", gettext_lazy("其它"), page=False),
        Column("review", gettext_lazy("主管覆核"), accessor=_review, sort="reviewed_at"),
        Column("review_note", gettext_lazy("覆核意見"), page=False),
    ]
    filterset_class = CommissioningRecordFilterSet
    form_class = forms.CommissioningRecordForm
    serializer_class = CommissioningRecordSerializer
    viewset_read_only = True
    select_related = (
        "asset",
        "executor__person",
        "reviewed_by__person",
        "new_custodian",
        "new_unit",
    )
    ordering = ("-executed_on", "-id")
    route = "commissioning"
    nav_group = NAV
    nav_label = gettext_lazy("啟用與報廢紀錄單")
    detail_template = "assets/commissioning/detail.html"


def asset_url(asset) -> str:
    """The asset's page (kept by the register's slice), or "" while it has none."""
    try:
        return asset.get_absolute_url() if asset is not None else ""
    except NoReverseMatch:
        return ""


def _asset_from_query(request) -> Asset | None:
    """The asset of ``?asset=<pk>`` (404 when there is none such), or None."""
    value = request.GET.get("asset", "")
    if not value:
        return None
    try:
        return Asset.objects.get(pk=int(value))
    except (ValueError, Asset.DoesNotExist) as exc:
        raise Http404 from exc


# Filing and editing ----------------------------------------------------------------------------
class RecordFormPage(RegisterView):
    template_name = "assets/commissioning/form.html"
    register = CommissioningRecordRegister

    def render_form(self, form, asset=None, status=200):
        record = form.instance
        asset = asset or (record.asset if record.asset_id else None)
        return render(
            self.request,
            self.template_name,
            self.context(
                form=form,
                object=record,
                asset=asset,
                asset_url=asset_url(asset),
                executor=record.executor if record.pk else self.request.user,
                checks_required=asset is not None and services.needs_commissioning(asset),
            ),
            status=status,
        )

    def save(self, form, asset=None, message=""):
        if not form.is_valid():
            return self.render_form(form, asset, status=400)
        record = form.save(commit=False)
        try:
            commissioning.record_save(record, actor=self.request.user)
        except ValidationError as error:
            add_service_errors(form, error)
            return self.render_form(form, asset, status=400)
        messages.success(self.request, message % {"record": record})
        return redirect(record.get_absolute_url())


class RecordAdd(RecordFormPage):
    """File an A-1 record; from the asset's page with ``?asset=<pk>&kind=…``."""

    action = "add"

    def get(self, request):
        asset = _asset_from_query(request)
        form = forms.CommissioningRecordForm(
            initial=commissioning.initial_for(asset, request.GET.get("kind", "")),
            asset=asset,
            request=request,
        )
        if asset is not None and asset.state == Asset.State.DECOMMISSIONED:
            messages.warning(request, _("此資產已報廢，不能再填寫啟用與報廢紀錄單（條文 3.5）。"))
        return self.render_form(form, asset)

    def post(self, request):
        asset = _asset_from_query(request)
        form = forms.CommissioningRecordForm(request.POST, asset=asset, request=request)
        return self.save(form, asset, _("已填寫「%(record)s」，待主管覆核。"))


class RecordEdit(RecordFormPage):
    """The executor corrects a record until it is reviewed; after that it is read-only."""

    action = "change"

    def record(self):
        record = self.get_object("view")
        if record.executor_id != self.request.user.pk:
            raise PermissionDenied
        return record

    def get(self, request, pk):
        record = self.record()
        if not commissioning.editable(record):
            messages.info(request, _("已覆核或已作廢的紀錄單不能修改；如有錯誤請作廢後重新填寫。"))
            return redirect(record.get_absolute_url())
        return self.render_form(forms.CommissioningRecordForm(instance=record, request=request))

    def post(self, request, pk):
        record = self.record()
        form = forms.CommissioningRecordForm(request.POST, instance=record, request=request)
        return self.save(form, message=_("已更新「%(record)s」。"))


# The record's page and its review ----------------------------------------------------------------
class RecordDetail(DetailPage):
    """The record as on paper, with the review form for a supervisor who may review it."""

    register = CommissioningRecordRegister

    def get(self, request, pk, *, status=200, **extra):
        record = self.get_object("view")
        user = request.user
        extra.setdefault("review_form", forms.ReviewForm())
        return super().get(
            request,
            pk,
            status=status,
            record=record,
            asset_url=asset_url(record.asset),
            can_edit=commissioning.may_edit(user, record),
            is_executor=record.executor_id == user.pk,
            may_review=commissioning.may_review(user),
            can_review=commissioning.may_review_record(user, record),
            review_effect=commissioning.review_effect(record) if not record.reviewed else "",
            commission_checks=[
                (label, getattr(record, name))
                for name, label, _w in commissioning.COMMISSION_CHECKS
            ],
            needs_checks=services.needs_commissioning(record.asset),
            **extra,
        )


class ReviewView(DetailAction, RecordDetail):
    """主管覆核: a refused review shows the record again with the reason (400)."""

    access = REVIEW_ACCESS
    form_class = forms.ReviewForm
    form_context = "review_form"

    def perform(self, record, form, user):
        commissioning.record_review(record, actor=user, note=form.cleaned_data["note"])

    def success_message(self, record):
        return _("已覆核「%(record)s」。") % {"record": record}


CommissioningRecordRegister.add_view = RecordAdd
CommissioningRecordRegister.edit_view = RecordEdit
CommissioningRecordRegister.detail_view = RecordDetail


# The paper form --------------------------------------------------------------------------------
class PrintView(ProtectedView):
    """A-1 on A4 as on paper: 啟用/報廢 ticked at the top, 執行人, 執行日期, 設備用途,
    設備型號, the two rows of checks (the record's row filled), 執行人主管覆核."""

    access = RECORD_ACCESS

    def get(self, request, pk):
        from isms.compliance.models import PolicyRevision

        record = (
            CommissioningRecordRegister.base_queryset()
            .select_related("voided_by__person")
            .filter(pk=pk)
            .first()
        )
        if record is None:
            raise Http404
        school = SchoolProfile.load()
        return render(
            request,
            "assets/commissioning/print.html",
            {
                "record": record,
                "commissioning": record.kind == Kind.COMMISSION,
                "reuse": record.kind == Kind.REUSE,
                "commission_checks": [
                    (label, getattr(record, name))
                    for name, label, _w in commissioning.COMMISSION_CHECKS
                ],
                "school": school,
                "school_profile": school,  # the layout's, so that it is read once
                "policy_version": PolicyRevision.current(),
                "now": timezone.now(),
            },
        )


urlpatterns = [
    path(
        "commissioning/<int:pk>/review/",
        ReviewView.as_view(),
        name="commissioningrecord_review",
    ),
    path("commissioning/<int:pk>/print/", PrintView.as_view(), name="commissioningrecord_print"),
    *CommissioningRecordRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(CommissioningRecordRegister, "commissioning-records")]
