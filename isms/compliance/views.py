"""Compliance pages: clauses, policy versions, obligation states, settings, the dashboard."""

import datetime as dt

import django_filters as df
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from isms.audit import trail
from isms.core import roc
from isms.core.access import Access, can, user_roles
from isms.core.filters import FilterSet
from isms.core.forms import add_service_errors
from isms.core.generic import DetailPage, ProtectedView
from isms.core.models import ContactEntry, SchoolProfile
from isms.core.registers import REGISTRY, Column, Register, nav_link
from isms.core.restapi import ModelSerializer
from isms.core.roles import (
    ALL_ROLES,
    GUARD,
    MANAGERS,
    SECURITY_OFFICER,
    STAFF,
    SUPERVISOR,
    role_label,
)
from isms.core.views import HomeView

from . import binder as binder_service
from . import engine, registry
from .forms import BinderForm, ClauseForm, ObligationSettingForm, PolicyRevisionForm
from .models import (
    Binder,
    Clause,
    ContactReview,
    ObligationSetting,
    ObligationState,
    PolicyRevision,
)

OFFICER = frozenset({SECURITY_OFFICER})
# Who builds and downloads the evidence binder for the audit (issue: security officer and
# supervisor; the principal receives it from them).
BINDER_ROLES = frozenset({SECURITY_OFFICER, SUPERVISOR})
NAV = gettext_lazy("法遵")


# Clauses -------------------------------------------------------------------------------
class ClauseFilterSet(FilterSet):
    search_fields = ("number", "title", "text")

    class Meta:
        model = Clause
        fields = ["module"]


class ClauseSerializer(ModelSerializer):
    class Meta:
        model = Clause
        fields = ["id", "number", "title", "text", "module", "form", "parent"]


def serves(number: str, clause: str) -> bool:
    """A duty or register citing ``clause`` serves ``number`` and every clause above it."""
    return clause == number or clause.startswith(number + ".")


class ClauseDetail(DetailPage):
    """A clause: its text, the duties and registers that serve it, and their state now."""

    def get(self, request, pk):
        clause = self.get_object()
        number = clause.number
        obligations = [o for o in registry.obligations() if serves(number, o.clause)]
        registers = []
        for reg in REGISTRY.values():
            if not reg.clause or not serves(number, reg.clause):
                continue
            try:
                url = reverse(reg.url_name("list"))
            except NoReverseMatch:
                url = ""
            if can(request.user, "view", reg.access):
                registers.append((reg, url))
        records = [r for r in registry.records() if any(serves(number, c) for c in r.clauses)]
        in_binder = {r.key for r in records}
        listed = {reg.model._meta.label_lower for reg, _url in registers}
        states = ObligationState.objects.filter(
            Q(clause=number) | Q(clause__startswith=number + ".")
        ).aggregate(
            ok=Count("id", filter=Q(status="ok")),
            due_soon=Count("id", filter=Q(status="due_soon")),
            overdue=Count("id", filter=Q(status="overdue")),
            never_done=Count("id", filter=Q(status="never_done")),
        )
        reg = self.register
        return render(
            request,
            "compliance/clause_detail.html",
            self.context(
                object=clause,
                rows=reg.detail_rows(clause),
                history=None,
                attachments=None,
                clause_obligations=obligations,
                clause_registers=[
                    (reg, url, reg.model._meta.label_lower in in_binder)
                    for reg, url in sorted(registers, key=lambda r: r[0].verbose_name())
                ],
                clause_records=[r for r in records if r.key not in listed],
                clause_states=states if any(states.values()) else None,
                sees_states=can(request.user, "view", ObligationStateRegister.access),
            ),
        )


class ClauseRegister(Register):
    model = Clause
    clause = "9"
    access = Access(view=ALL_ROLES, change=OFFICER)
    columns = [
        Column("number", gettext_lazy("條文編號"), link=True, sort="sort_key"),
        Column("title", gettext_lazy("標題")),
        Column("form", gettext_lazy("表單")),
        Column("module", gettext_lazy("模組")),
    ]
    filterset_class = ClauseFilterSet
    form_class = ClauseForm
    serializer_class = ClauseSerializer
    ordering = ("sort_key",)
    attachments = False
    detail_view = ClauseDetail
    nav_group = NAV
    nav_label = gettext_lazy("條文")

    @classmethod
    def detail_rows(cls, obj):
        return [
            (_("條文編號"), obj.number),
            (_("標題"), obj.title),
            (_("條文內容"), obj.text),
            (_("表單"), obj.form),
        ]


# Policy versions (clause 9) ------------------------------------------------------------
class PolicyRevisionFilterSet(FilterSet):
    search_fields = ("version", "summary")

    class Meta:
        model = PolicyRevision
        fields = ["kind"]


class PolicyRevisionSerializer(ModelSerializer):
    class Meta:
        model = PolicyRevision
        fields = ["id", "kind", "version", "adopted_on", "approved_on", "summary", "voided_at"]
        read_only_fields = ["voided_at"]

    def validate(self, attrs):
        adopted = attrs.get("adopted_on", getattr(self.instance, "adopted_on", None))
        approved = attrs.get("approved_on", getattr(self.instance, "approved_on", None))
        if adopted and approved and approved < adopted:
            raise serializers.ValidationError(
                {"approved_on": [_("校長核定日期不可早於校務會議通過日期（條文 9）。")]}
            )
        return attrs


class PolicyRevisionRegister(Register):
    model = PolicyRevision
    clause = "9"
    access = Access(view=ALL_ROLES, add=OFFICER, change=OFFICER, void=OFFICER)
    columns = [
        Column("version", gettext_lazy("版本"), link=True),
        Column("kind", gettext_lazy("類別")),
        Column("adopted_on", gettext_lazy("校務會議通過日期")),
        Column("approved_on", gettext_lazy("校長核定日期")),
        Column("summary", gettext_lazy("修訂摘要"), page=False),
    ]
    filterset_class = PolicyRevisionFilterSet
    form_class = PolicyRevisionForm
    serializer_class = PolicyRevisionSerializer
    ordering = ("-adopted_on", "-id")
    nav_group = NAV
    nav_label = gettext_lazy("政策版本（條文 9）")


# Obligation states -----------------------------------------------------------------------
def obligation_title(state) -> str:
    obligation = registry.REGISTRY.get(state.key)
    return str(obligation.title) if obligation else state.key


class ObligationStateFilterSet(FilterSet):
    search_fields = ("subject_label", "key")
    key = df.ChoiceFilter(
        label=gettext_lazy("義務"),
        choices=lambda: [(o.key, o.title) for o in registry.obligations()],
    )

    class Meta:
        model = ObligationState
        fields = ["status", "clause", "key", "responsible_role"]


class ObligationStateSerializer(ModelSerializer):
    obligation = serializers.CharField(source="key", read_only=True)
    title = serializers.SerializerMethodField()
    subject = serializers.CharField(source="subject_label", read_only=True)

    class Meta:
        model = ObligationState
        fields = [
            "id",
            "obligation",
            "title",
            "clause",
            "subject",
            "subject_type",
            "subject_id",
            "status",
            "last_done_at",
            "next_due_at",
            "responsible_role",
        ]
        read_only_fields = fields

    def get_title(self, obj) -> str:
        return obligation_title(obj)


class ObligationStateRegister(Register):
    model = ObligationState
    access = Access(view=ALL_ROLES - {STAFF, GUARD})
    columns = [
        Column("key", gettext_lazy("義務"), accessor=obligation_title, link=True, sort="key"),
        Column("clause", gettext_lazy("條文")),
        Column("subject_label", gettext_lazy("對象")),
        Column("status", gettext_lazy("狀態")),
        Column("last_done_at", gettext_lazy("最近執行")),
        Column("next_due_at", gettext_lazy("下次到期")),
        Column(
            "responsible_role",
            gettext_lazy("負責角色"),
            accessor=lambda s: role_label(s.responsible_role),
        ),
    ]
    filterset_class = ObligationStateFilterSet
    serializer_class = ObligationStateSerializer
    viewset_read_only = True
    ordering = ("next_due_at", "id")
    attachments = False
    history = False
    route = "obligations"
    nav_group = NAV
    nav_label = gettext_lazy("義務與到期")


# Dashboard -------------------------------------------------------------------------------
ATTENTION = ("overdue", "never_done", "due_soon")


def task_line(state):
    """(state, obligation, subject URL, evidence form URL) for a dashboard line."""
    obligation = registry.REGISTRY.get(state.key)
    urls = []
    for name in ("subject_url", "evidence_url"):
        func = getattr(obligation, name, None) if obligation else None
        try:
            urls.append(func(state) if func else "")
        except NoReverseMatch:
            urls.append("")
    return (state, obligation, *urls)


class DashboardView(HomeView):
    """The landing page: state per clause, my tasks, the overdue list (DESIGN: dashboard)."""

    template_name = "compliance/dashboard.html"

    def extra_context(self, request):
        user = request.user
        per_clause = list(
            ObligationState.objects.values("clause")
            .annotate(
                ok=Count("id", filter=Q(status="ok")),
                due_soon=Count("id", filter=Q(status="due_soon")),
                overdue=Count("id", filter=Q(status__in=["overdue", "never_done"])),
            )
            .order_by("clause")
        )
        titles = {
            c.number: c.title
            for c in Clause.objects.filter(number__in=[row["clause"] for row in per_clause])
        }
        for row in per_clause:
            row["title"] = titles.get(row["clause"], "")
        roles = user_roles(user)
        # My tasks: the duties of my roles, and my own password (not everyone else's).
        own = Q(key="core.password_age", subject_id=str(user.pk))
        mine = ObligationState.objects.filter(status__in=ATTENTION).filter(
            (Q(responsible_role__in=list(roles)) & ~Q(key="core.password_age")) | own
        )
        sees_all = can(user, "view", ObligationStateRegister.access)
        return {
            "per_clause": per_clause if sees_all else [],
            "my_tasks": [task_line(s) for s in mine.order_by("next_due_at")[:20]],
            "overdue": (
                [
                    task_line(s)
                    for s in ObligationState.objects.filter(
                        status__in=["overdue", "never_done"]
                    ).order_by("next_due_at")[:20]
                ]
                if sees_all
                else []
            ),
            "policy_version": PolicyRevision.current(),
            "now": timezone.now(),
        }


# Settings --------------------------------------------------------------------------------
class SettingsView(ProtectedView):
    """Each duty's rhythm and reminder window, adjustable within the policy's limits."""

    access = Access(view=MANAGERS, change=OFFICER)

    def rows(self, data=None, only=None):
        stored = {s.key: s for s in ObligationSetting.objects.all()}
        rows = []
        for obligation in registry.obligations():
            rhythm, window = engine.effective(obligation, stored)
            bound = data if only == obligation.key else None
            form = ObligationSettingForm(
                bound,
                obligation=obligation,
                prefix=obligation.key.replace(".", "-"),
                initial={"rhythm": str(rhythm), "due_soon_days": window},
            )
            rows.append((obligation, form, obligation.key in stored))
        return rows

    def get(self, request):
        return render(
            request,
            "compliance/settings.html",
            {"rows": self.rows(), "can_change": can(request.user, "change", self.access)},
        )

    def post(self, request):
        if not can(request.user, "change", self.access):
            raise PermissionDenied
        key = request.POST.get("key", "")
        obligation = registry.REGISTRY.get(key)
        if obligation is None:
            raise Http404
        if obligation.rhythm.is_event:
            messages.error(request, _("依事件期限的義務，期限由條文決定，不能在此調整。"))
            return redirect("compliance:settings")
        rows = self.rows(request.POST, only=key)
        form = next(f for o, f, _s in rows if o.key == key)
        if not form.is_valid():
            return render(
                request,
                "compliance/settings.html",
                {"rows": rows, "can_change": True},
                status=400,
            )
        with transaction.atomic(), trail.as_actor(request.user):
            setting = ObligationSetting.objects.filter(key=key).first() or ObligationSetting(
                key=key
            )
            setting.rhythm = form.cleaned_data["rhythm"]
            setting.due_soon_days = form.cleaned_data["due_soon_days"]
            setting.save()
        engine.refresh(key)
        messages.success(request, _("已更新「%(title)s」的設定。") % {"title": obligation.title})
        return redirect("compliance:settings")


# A-6 review (evidence of compliance.contacts_review) ----------------------------------
class ContactsReviewView(ProtectedView):
    access = Access(view=MANAGERS, add=OFFICER)

    def get(self, request, status=200):
        contacts = list(ContactEntry.objects.select_related("person"))
        missing = [c for c in contacts if not (c.display_name and c.phone)]
        return render(
            request,
            "compliance/contacts_review.html",
            {
                "contacts": contacts,
                "missing": missing,
                "reviews": ContactReview.objects.select_related("reviewed_by")[:10],
                "can_add": can(request.user, "add", self.access),
            },
            status=status,
        )

    def post(self, request):
        if not can(request.user, "add", self.access):
            raise PermissionDenied
        contacts = list(ContactEntry.objects.select_related("person"))
        if any(not (c.display_name and c.phone) for c in contacts):
            messages.error(request, _("通報聯絡人資料不完整，請先補齊姓名與電話再覆核。"))
            return self.get(request, status=400)
        with transaction.atomic(), trail.as_actor(request.user):
            ContactReview.objects.create(
                reviewed_by=request.user,
                reviewed_at=timezone.now(),
                note=request.POST.get("note", "")[:200],
            )
        engine.refresh("compliance.contacts_review")
        messages.success(request, _("已記錄本學期通報聯絡人覆核。"))
        return redirect("compliance:contacts_review")


class MonthlyReportView(ProtectedView):
    """The monthly compliance report to the supervisor, printable on A4."""

    access = Access(view=MANAGERS)

    def get(self, request):
        ctx = DashboardView().extra_context(request)
        ctx["school"] = SchoolProfile.load()
        ctx["states"] = [
            (s, registry.REGISTRY.get(s.key))
            for s in ObligationState.objects.filter(status__in=ATTENTION).order_by(
                "clause", "next_due_at"
            )[:500]
        ]
        return render(request, "compliance/report.html", ctx)


# Evidence binder ---------------------------------------------------------------------------
BINDER_ACCESS = Access(view=BINDER_ROLES, add=BINDER_ROLES, export=BINDER_ROLES)


def year_before(day: dt.date) -> dt.date:
    """The first day of the twelve months that end on ``day`` (the default range)."""
    if day.month == 2 and day.day == 29:
        return day.replace(year=day.year - 1, day=28) + dt.timedelta(days=1)
    return day.replace(year=day.year - 1) + dt.timedelta(days=1)


class BinderListView(ProtectedView):
    """Request an evidence binder for a range; the binders built so far."""

    access = BINDER_ACCESS

    def get(self, request, form=None, status=200):
        today = timezone.localdate()
        form = form or BinderForm(initial={"date_from": year_before(today), "date_to": today})
        binders = Binder.objects.select_related("requested_by__person")[:50]
        return render(
            request,
            "compliance/binder_list.html",
            {"form": form, "binders": binders, "keep_days": settings.ISMS_BINDER_KEEP_DAYS},
            status=status,
        )

    def post(self, request):
        if not can(request.user, "add", self.access):
            raise PermissionDenied
        form = BinderForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        try:
            binder, created = binder_service.request_binder(
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
                actor=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
            return self.get(request, form=form, status=400)
        if created:
            messages.success(request, _("已排入產生，完成後即可下載。"))
        else:
            messages.info(request, _("相同期間的佐證資料正在產生中，請等候完成。"))
        return redirect("compliance:binder_detail", pk=binder.pk)


class BinderDetailView(ProtectedView):
    """One binder: its progress while it is built (polled with htmx), then the download."""

    access = BINDER_ACCESS

    def get(self, request, pk):
        binder = Binder.objects.select_related("requested_by__person").filter(pk=pk).first()
        if binder is None:
            raise Http404
        ctx = {"binder": binder, "can_export": can(request.user, "export", self.access)}
        if request.htmx:
            return render(request, "compliance/binder_progress.html", ctx)
        return render(request, "compliance/binder_detail.html", ctx)


class BinderDownloadView(ProtectedView):
    access = BINDER_ACCESS
    action = "export"

    def get(self, request, pk):
        binder = Binder.objects.filter(pk=pk, status=Binder.Status.READY).first()
        if binder is None or not binder.file:
            raise Http404
        try:
            handle = binder.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        trail.record(
            trail.Action.EXPORT,
            binder,
            changes={
                "format": [None, "zip"],
                "range": [None, f"{binder.date_from.isoformat()}..{binder.date_to.isoformat()}"],
                "size": [None, binder.size],
                "sha256": [None, binder.sha256],
            },
        )
        name = _("稽核佐證資料_%(first)s-%(last)s.zip") % {
            "first": roc.format_roc(binder.date_from, "compact"),
            "last": roc.format_roc(binder.date_to, "compact"),
        }
        return FileResponse(
            handle, as_attachment=True, filename=name, content_type="application/zip"
        )


nav_link(NAV, gettext_lazy("義務設定"), "compliance:settings", SettingsView.access)
nav_link(
    NAV,
    gettext_lazy("通報聯絡人覆核（A-6）"),
    "compliance:contacts_review",
    ContactsReviewView.access,
)
nav_link(NAV, gettext_lazy("法遵月報"), "compliance:report", MonthlyReportView.access)
nav_link(NAV, gettext_lazy("稽核佐證資料"), "compliance:binders", BINDER_ACCESS)
