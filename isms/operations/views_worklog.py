"""Pages of the 資訊工作日誌 (work log, A-2; clause 2.5.1).

The register (list with filters, export, ``/api/work-log/``), recording an entry by hand
(the administrator is the person signed in) and correcting it before the review (only its
administrator; an imported entry without a login, any system administrator), the
supervisor's review on the entry's page (and ``POST /api/work-log/<id>/review/``), and the
print of the paper A-2: one entry, or one A-2 per entry of the filtered list, a page each.
The repair-ticket import is ``views_worklog_imports``; the rules are ``worklog``'s.
"""

import django_filters as df
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from isms.core.access import Access, can
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm, add_service_errors
from isms.core.generic import DetailAction, DetailPage, ListPage, RegisterView
from isms.core.models import SchoolProfile
from isms.core.registers import Column, Register, as_text
from isms.core.restapi import (
    DateTimeField,
    ModelSerializer,
    RegisterViewSet,
    ReviewSerializer,
    service_errors,
)
from isms.core.roles import MANAGERS, SUPERVISOR, SYSADMIN
from isms.identity.models import InformationSystem

from . import worklog
from .models import WorkLogEntry
from .nav import NAV

Kind = WorkLogEntry.Kind
WRITERS = frozenset({SYSADMIN})
READERS = MANAGERS | WRITERS
ENTRY_ACCESS = Access(
    view=READERS,
    add=WRITERS,
    change=WRITERS,  # and only the entry's administrator, before the review
    # The supervisor may void an entry they will not sign (a duplicate), so that it does
    # not stay awaiting review for ever.
    void=WRITERS | {SUPERVISOR},
)
REVIEW_ACCESS = Access(view=READERS, change=frozenset({SUPERVISOR}))
# The most A-2 forms one print of the list gives (one page each).
PRINT_LIMIT = 200
SUMMARY_LENGTH = 40


# The list's filters ------------------------------------------------------------------------
class WorkLogEntryFilterSet(FilterSet):
    search_fields = (
        "description",
        "correction",
        "system__name",
        "system_name",
        "kind_other",
        "ticket_number",
        "administrator_name",
        "administrator__person__name",
        "administrator__username",
    )
    system = df.ModelChoiceFilter(
        label=gettext_lazy("資訊系統"), queryset=InformationSystem.objects.order_by("name")
    )
    reviewed = df.ChoiceFilter(
        label=gettext_lazy("主管覆核"),
        choices=[("yes", gettext_lazy("已覆核")), ("no", gettext_lazy("待覆核"))],
        method="filter_reviewed",
    )
    source = df.ChoiceFilter(
        label=gettext_lazy("來源"),
        choices=[("hand", gettext_lazy("人工填寫")), ("ticket", gettext_lazy("報修系統匯入"))],
        method="filter_source",
    )
    operated_from = ROCDateFilter(
        label=gettext_lazy("操作日期起"), field_name="operated_at", lookup_expr="date__gte"
    )
    operated_to = ROCDateFilter(
        label=gettext_lazy("操作日期迄"), field_name="operated_at", lookup_expr="date__lte"
    )

    class Meta:
        model = WorkLogEntry
        fields = ["kind", "system", "reviewed", "source"]

    def filter_reviewed(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(reviewed_at__isnull=False)
        if value == "no":
            return queryset.filter(reviewed_at__isnull=True)
        return queryset

    def filter_source(self, queryset, name, value):
        if value == "ticket":
            return queryset.filter(ticket_number__isnull=False)
        if value == "hand":
            return queryset.filter(ticket_number__isnull=True)
        return queryset


# Columns (page, CSV, XLSX) -------------------------------------------------------------------
_kind_tables: dict = {}


def _kind(entry) -> str:
    """操作事項 from a table made once per language (the list's hot path)."""
    table = _kind_tables.get(get_language())
    if table is None:
        table = _kind_tables[get_language()] = {v: str(label) for v, label in Kind.choices}
    if entry.kind == Kind.OTHER and entry.kind_other:
        return worklog.kind_label(entry)
    return table.get(entry.kind, entry.kind)


def _summary(entry) -> str:
    text = " ".join(entry.description.split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


def _review(entry) -> str:
    if entry.reviewed_at is None:
        return _("待覆核")
    return f"{entry.reviewed_by.display_name} {as_text(entry.reviewed_at)}"


# The form -----------------------------------------------------------------------------------
class WorkLogEntryForm(ModelForm):
    """An entry by hand; 系統管理人員 is the person signed in (or the entry's, when edited)."""

    operated_at = ROCDateTimeField(
        label=gettext_lazy("操作日期"),
        help_text=gettext_lazy("民國年/月/日 時:分，例如 115/11/28 14:05（24 小時制）。"),
    )

    class Meta(ModelForm.Meta):
        model = WorkLogEntry
        fields = list(worklog.ENTRY_FIELDS)
        widgets = {
            "kind": forms.RadioSelect,
            "description": forms.Textarea(attrs={"rows": 4}),
            "correction": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "system": gettext_lazy("資訊系統清冊中的系統；未登記的系統請改填下一欄。"),
            "kind_other": gettext_lazy("操作事項為「其它」時填寫。"),
            "correction": gettext_lazy("發現系統錯誤時，說明改正的措施；沒有則留空。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        field.widget.attrs["class"] = "form-check-input"
        field.choices = Kind.choices  # no empty choice
        systems = InformationSystem.objects.active()
        if self.instance.system_id:  # a system voided since stays selectable for its entry
            systems = InformationSystem.objects.filter(
                Q(voided_at__isnull=True) | Q(pk=self.instance.system_id)
            )
        self.fields["system"].queryset = systems.order_by("name")
        self.fields["system"].required = False
        self.fields["description"].required = True


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("覆核意見"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


# The API ------------------------------------------------------------------------------------
class WorkLogEntrySerializer(ModelSerializer):
    """An entry as the register keeps it; writes go through ``worklog.entry_save``."""

    serializer_field_mapping = {
        **ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }
    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = WorkLogEntry
        fields = [
            "id",
            "operated_at",
            "system",
            "system_name",
            "kind",
            "kind_other",
            "description",
            "correction",
            "administrator",
            "administrator_name",
            "ticket_number",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            "administrator",
            "administrator_name",
            "ticket_number",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]

    def _save(self, entry):
        try:
            return worklog.entry_save(entry, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(WorkLogEntry(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class WorkLogEntryViewSet(RegisterViewSet):
    """The work log; ``review`` is the supervisor's 主管覆核 (REVIEW_ACCESS)."""

    @property
    def access(self):
        if getattr(self, "action", None) == "review":
            return REVIEW_ACCESS
        return self.register.access

    @extend_schema(request=ReviewSerializer, responses={200: WorkLogEntrySerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        entry = self.get_object()
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            entry = worklog.entry_review(
                entry, actor=request.user, note=data.validated_data.get("note", "")
            )
        except ValidationError as error:
            raise service_errors(error) from None
        return Response(WorkLogEntrySerializer(entry, context={"request": request}).data)


# The register ---------------------------------------------------------------------------------
class WorkLogEntryRegister(Register):
    model = WorkLogEntry
    clause = "2.5.1"
    access = ENTRY_ACCESS
    columns = [
        Column("operated_at", gettext_lazy("操作日期"), link=True),
        Column("system", gettext_lazy("系統名稱"), accessor=worklog.system_label, sort=None),
        Column("kind", gettext_lazy("操作事項"), accessor=_kind, sort="kind"),
        Column("summary", gettext_lazy("操作說明"), accessor=_summary, sort=None, export=False),
        Column("description", gettext_lazy("操作說明"), page=False),
        Column("correction", gettext_lazy("系統錯誤改正措施說明"), page=False),
        Column(
            "administrator",
            gettext_lazy("系統管理人員"),
            accessor=worklog.administrator_label,
            sort=None,
        ),
        Column("ticket_number", gettext_lazy("報修單號")),
        Column("review", gettext_lazy("主管覆核"), accessor=_review, sort="reviewed_at"),
        Column("review_note", gettext_lazy("覆核意見"), page=False),
    ]
    filterset_class = WorkLogEntryFilterSet
    form_class = WorkLogEntryForm
    serializer_class = WorkLogEntrySerializer
    viewset_base = WorkLogEntryViewSet
    serializer_reads_related = False
    select_related = ("system", "administrator__person", "reviewed_by__person")
    ordering = ("-operated_at", "-id")
    route = "work-log"
    nav_group = NAV
    nav_label = gettext_lazy("資訊工作日誌（A-2）")
    detail_template = "operations/worklog/detail.html"


# The list, with the print of the filtered entries ------------------------------------------------
class EntryList(ListPage):
    register = WorkLogEntryRegister
    template_name = "operations/worklog/list.html"

    def extra_context(self) -> dict:
        from .views_worklog_imports import IMPORT_ACCESS

        return {
            "print_limit": PRINT_LIMIT,
            "can_import": can(self.request.user, "add", IMPORT_ACCESS),
        }


# Recording and correcting ---------------------------------------------------------------------
class EntryFormPage(RegisterView):
    register = WorkLogEntryRegister
    template_name = "operations/worklog/form.html"

    def render_form(self, form, status=200):
        entry = form.instance
        administrator = (
            worklog.administrator_label(entry) if entry.pk else self.request.user.display_name
        )
        return render(
            self.request,
            self.template_name,
            self.context(form=form, object=entry, administrator=administrator),
            status=status,
        )

    def save(self, form, message):
        if not form.is_valid():
            return self.render_form(form, status=400)
        entry = form.save(commit=False)
        try:
            worklog.entry_save(entry, actor=self.request.user)
        except ValidationError as error:
            add_service_errors(form, error)
            return self.render_form(form, status=400)
        messages.success(self.request, message % {"entry": entry})
        return redirect(entry.get_absolute_url())


class EntryAdd(EntryFormPage):
    """Record an entry by hand: the administrator is the person signed in."""

    action = "add"

    def get(self, request):
        now = timezone.localtime().replace(second=0, microsecond=0)
        form = WorkLogEntryForm(initial={"operated_at": now}, request=request)
        return self.render_form(form)

    def post(self, request):
        form = WorkLogEntryForm(request.POST, request=request)
        return self.save(form, _("已記錄「%(entry)s」，待主管覆核。"))


class EntryEdit(EntryFormPage):
    """The administrator corrects an entry until it is reviewed; after that it is read-only."""

    action = "change"

    def entry(self):
        entry = self.get_object("view")
        if not worklog.may_change(self.request.user, entry):
            raise PermissionDenied
        return entry

    def get(self, request, pk):
        entry = self.entry()
        if not worklog.editable(entry):
            messages.info(request, _("已覆核或已作廢的日誌不能修改；如有錯誤請作廢後重新填寫。"))
            return redirect(entry.get_absolute_url())
        return self.render_form(WorkLogEntryForm(instance=entry, request=request))

    def post(self, request, pk):
        form = WorkLogEntryForm(request.POST, instance=self.entry(), request=request)
        return self.save(form, _("已更新「%(entry)s」。"))


# The entry's page and its review ------------------------------------------------------------------
def kind_boxes(entry) -> list[tuple[str, str, bool]]:
    """(value, label, ticked) of the four 操作事項 of A-2, in the paper's order."""
    return [(value, str(label), entry.kind == value) for value, label in Kind.choices]


class EntryDetail(DetailPage):
    """The entry as on paper, with the review form for a supervisor who may review it."""

    register = WorkLogEntryRegister

    def get(self, request, pk, *, status=200, **extra):
        entry = self.get_object("view")
        user = request.user
        extra.setdefault("review_form", ReviewForm())
        return super().get(
            request,
            pk,
            status=status,
            entry=entry,
            kinds=kind_boxes(entry),
            paper_moment=worklog.paper_moment(entry.operated_at),
            system=worklog.system_label(entry),
            administrator=worklog.administrator_label(entry),
            can_edit=worklog.may_edit(user, entry),
            may_review=worklog.may_review(user),
            is_own=worklog.is_own(user, entry),
            can_review=worklog.may_review_entry(user, entry),
            **extra,
        )


class ReviewView(DetailAction, EntryDetail):
    """主管覆核: a refused review shows the entry again with the reason (400)."""

    access = REVIEW_ACCESS
    form_class = ReviewForm
    form_context = "review_form"

    def perform(self, entry, form, user):
        worklog.entry_review(entry, actor=user, note=form.cleaned_data["note"])

    def success_message(self, entry):
        return _("已覆核「%(entry)s」。") % {"entry": entry}


WorkLogEntryRegister.add_view = EntryAdd
WorkLogEntryRegister.edit_view = EntryEdit
WorkLogEntryRegister.detail_view = EntryDetail


# The paper form (A-2) --------------------------------------------------------------------------
def sheet(entry) -> dict:
    """One A-2 filled from an entry."""
    return {
        "entry": entry,
        "moment": worklog.paper_moment(entry.operated_at),
        "system": worklog.system_label(entry),
        "kinds": [box for box in kind_boxes(entry) if box[0] != Kind.OTHER],
        "other": entry.kind == Kind.OTHER,
        "administrator": worklog.administrator_label(entry),
    }


def _print(request, entries, *, more=False, errors=None, status=200, back=""):
    from isms.compliance.models import PolicyRevision

    school = SchoolProfile.load()
    return render(
        request,
        "operations/worklog/print.html",
        {
            "sheets": [sheet(e) for e in entries],
            "more": more,
            "limit": PRINT_LIMIT,
            "errors": errors,
            "back": back,
            "school": school,
            "school_profile": school,  # the layout's, so that it is read once
            "policy_version": PolicyRevision.current(),
            "now": timezone.now(),
        },
        status=status,
    )


class PrintView(RegisterView):
    """One entry on the paper A-2."""

    register = WorkLogEntryRegister

    def get(self, request, pk):
        entry = self.get_object("view")
        return _print(request, [entry], back=entry.get_absolute_url())


class ListPrintView(RegisterView):
    """One A-2 per entry of the list as filtered (voided ones only when asked), oldest first,
    each on its own page; at most ``PRINT_LIMIT``."""

    register = WorkLogEntryRegister

    def get(self, request):
        back = reverse(self.register.url_name("list"))
        filterset = WorkLogEntryFilterSet(
            request.GET, queryset=self.scoped("view"), request=request
        )
        if not filterset.is_valid():
            errors = [e for field_errors in filterset.errors.values() for e in field_errors]
            return _print(request, [], errors=errors, status=400, back=back)
        qs = filterset.qs
        if not request.GET.get("voided"):
            qs = qs.filter(voided_at__isnull=True)
        entries = list(qs.order_by("operated_at", "id")[: PRINT_LIMIT + 1])
        return _print(request, entries[:PRINT_LIMIT], more=len(entries) > PRINT_LIMIT, back=back)


def _without_list(patterns):
    return [p for p in patterns if p.name != "worklogentry_list"]


urlpatterns = [
    path("work-log/", EntryList.as_view(), name="worklogentry_list"),
    path("work-log/print/", ListPrintView.as_view(), name="worklogentry_list_print"),
    path("work-log/<int:pk>/print/", PrintView.as_view(), name="worklogentry_print"),
    path("work-log/<int:pk>/review/", ReviewView.as_view(), name="worklogentry_review"),
    *_without_list(WorkLogEntryRegister.urls()),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(WorkLogEntryRegister, "work-log")]
