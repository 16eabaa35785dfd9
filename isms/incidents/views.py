"""Incident pages: report a suspicion, the register, the incident page and its actions."""

import django_filters as df
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core.access import SIGNED_IN, Access, can
from isms.core.filters import FilterSet
from isms.core.forms import add_service_errors
from isms.core.generic import AddPage, DetailPage, EditPage, ProtectedView, url_or_none
from isms.core.registers import Column, Register, nav_link
from isms.core.roles import MANAGERS, SECURITY_OFFICER, SUPERVISOR

from . import forms, services
from .api import IncidentDrillSerializer, IncidentSerializer, IncidentViewSet
from .models import Incident, IncidentDrill

NAV = gettext_lazy("資安事件")
WRITERS = frozenset({SECURITY_OFFICER, SUPERVISOR})
INCIDENT_ACCESS = Access(view=MANAGERS, add=WRITERS, change=WRITERS, void=WRITERS, export=MANAGERS)


class IncidentFilterSet(FilterSet):
    search_fields = ("number", "title", "description", "location", "platform_ticket")
    level = df.ChoiceFilter(label=gettext_lazy("事件等級"), choices=[(n, f"{n}") for n in range(5)])

    class Meta:
        model = Incident
        fields = ["status", "category", "source", "level"]


def remaining(delta) -> str:
    """A span as the countdowns say it: 1 天 2 小時 5 分."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(_("%(n)d 天") % {"n": days})
    if days or hours:
        parts.append(_("%(n)d 小時") % {"n": hours})
    parts.append(_("%(n)d 分") % {"n": minutes})
    return " ".join(parts)


def next_deadline(incident, now=None) -> str:
    """The list's countdown: the nearest pending deadline of an active incident."""
    if not incident.is_active:
        return ""
    now = now or timezone.now()
    pending = [
        (due, label)
        for due, done, label in (
            (incident.report_due_at, incident.reported_at, _("通報")),
            (incident.change_report_due_at, incident.change_reported_at, _("變更通報")),
            (incident.close_due_at, incident.closed_at, _("結案")),
        )
        if due is not None and done is None
    ]
    if not pending:
        return ""
    due, label = min(pending, key=lambda p: p[0])
    if due <= now:
        return _("%(what)s逾期 %(span)s") % {"what": label, "span": remaining(now - due)}
    return _("%(what)s剩 %(span)s") % {"what": label, "span": remaining(due - now)}


class IncidentRegister(Register):
    model = Incident
    clause = "2.10"
    access = INCIDENT_ACCESS
    columns = [
        Column("number", gettext_lazy("事件編號"), link=True),
        Column("title", gettext_lazy("事件摘要")),
        Column("status", gettext_lazy("狀態")),
        Column("level", gettext_lazy("事件等級")),
        Column(
            "category",
            gettext_lazy("事件類型"),
            accessor=lambda i: i.category_label,
            sort="category",
        ),
        Column("source", gettext_lazy("情報來源")),
        Column("discovered_at", gettext_lazy("知悉時間")),
        Column(
            "next_deadline",
            gettext_lazy("下一期限"),
            accessor=lambda i: next_deadline(i),
            sort=None,
            export=False,
        ),
        Column("report_due_at", gettext_lazy("通報期限")),
        Column("reported_at", gettext_lazy("平台通報時間")),
        Column("close_due_at", gettext_lazy("結案期限")),
        Column("closed_at", gettext_lazy("結案時間")),
        Column("platform_ticket", gettext_lazy("平台事件單編號"), page=False),
        Column("occurred_at", gettext_lazy("發生時間"), page=False),
        Column(
            "reporter",
            gettext_lazy("通報人"),
            accessor=lambda i: i.reporter.display_name if i.reporter_id else "",
            sort=None,
            page=False,
        ),
        Column("location", gettext_lazy("發生地點或系統"), page=False),
        Column("affected_systems", gettext_lazy("受影響系統"), page=False),
        Column("containment", gettext_lazy("損害控制"), page=False),
        Column("recovery", gettext_lazy("復原作業"), page=False),
        Column("root_cause", gettext_lazy("事件原因"), page=False),
        Column("prevention", gettext_lazy("改善及預防措施"), page=False),
    ]
    filterset_class = IncidentFilterSet
    form_class = forms.IncidentForm
    serializer_class = IncidentSerializer
    viewset_base = IncidentViewSet
    select_related = ("reporter__person",)
    ordering = ("-discovered_at", "-id")
    route = "incidents"
    url_prefix = "incident"
    nav_group = NAV
    nav_label = gettext_lazy("事件紀錄")


class IncidentDrillFilterSet(FilterSet):
    search_fields = ("scenario", "participants", "findings")

    class Meta:
        model = IncidentDrill
        fields = []


class IncidentDrillRegister(Register):
    model = IncidentDrill
    clause = "2.10.11"
    access = Access(view=MANAGERS, add=WRITERS, change=WRITERS, void=WRITERS)
    columns = [
        Column("held_on", gettext_lazy("演練日期"), link=True),
        Column("scenario", gettext_lazy("演練情境")),
        Column("participants", gettext_lazy("參與人員"), page=False),
        Column("findings", gettext_lazy("檢討與改善"), page=False),
    ]
    filterset_class = IncidentDrillFilterSet
    form_class = forms.IncidentDrillForm
    serializer_class = IncidentDrillSerializer
    ordering = ("-held_on", "-id")
    route = "drills"
    nav_group = NAV
    nav_label = gettext_lazy("應變演練")


# 2.10.3: anyone reports ------------------------------------------------------------------
REPORTER_ACCESS = SIGNED_IN


class SuspectedReportView(ProtectedView):
    """The short form any signed-in person uses to report something odd (2.10.3)."""

    access = REPORTER_ACCESS

    def get(self, request, form=None, status=200):
        form = form or forms.SuspectedReportForm(initial={"contact": _contact_of(request.user)})
        return render(request, "incidents/report.html", {"form": form}, status=status)

    def post(self, request):
        form = forms.SuspectedReportForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        data = form.cleaned_data
        try:
            incident = services.report_suspected(
                actor=request.user,
                description=data["description"],
                seen_at=data["seen_at"],
                location=data.get("location", ""),
                contact=data["contact"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
            return self.get(request, form=form, status=400)
        messages.success(
            request,
            _("已通報（編號 %(number)s），資安業務承辦人已收到通知。")
            % {"number": incident.number},
        )
        return redirect("incidents:mine")


def _contact_of(user) -> str:
    person = getattr(user, "person", None)
    if person is None:
        return ""
    parts = [p for p in (getattr(person, "extension", ""), getattr(person, "phone", "")) if p]
    return " / ".join(parts)


class MyReportsView(ProtectedView):
    """The reporter sees what became of their reports."""

    access = REPORTER_ACCESS

    def get(self, request):
        reports = Incident.objects.filter(reporter=request.user).order_by("-created_at")[:100]
        return render(request, "incidents/mine.html", {"reports": reports})


# The incident page and its actions ----------------------------------------------------------
def clocks(incident, now=None):
    """The deadlines shown with countdowns: (label, due, done_at) while they matter."""
    rows = [(_("平台通報（1 小時）"), incident.report_due_at, incident.reported_at)]
    hours = 36 if incident.escalated else 72
    rows.append(
        (
            _("處理完成並結案（%(h)d 小時）") % {"h": hours},
            incident.close_due_at,
            incident.closed_at,
        )
    )
    if incident.change_report_due_at:
        rows.append(
            (
                _("等級變更通報（1 小時）"),
                incident.change_report_due_at,
                incident.change_reported_at,
            )
        )
    if incident.source == Incident.Source.WARNING:
        from .obligations import _warning_due

        due = _warning_due(Incident.objects.filter(pk=incident.pk)).get(incident.pk)
        rows.append((_("預警事件單回覆"), due, incident.warning_answered_at))
    if incident.improvement_required:
        rows.append(
            (_("調查、處理及改善報告"), incident.improvement_due_at, incident.improvement_done_at)
        )
    return rows


class IncidentDetail(DetailPage):
    def get(self, request, pk):
        incident = self.get_object()
        can_change = can(request.user, "change", self.register.access)
        steps = list(incident.steps.select_related("done_by__person"))
        ctx = self.context(
            object=incident,
            rows=[],
            incident=incident,
            clocks=clocks(incident),
            timeline=incident.timeline.select_related("actor__person"),
            steps=steps,
            open_steps=services.open_steps(incident),
            can_act=can_change and incident.is_active,
            can_change=can_change and not incident.is_voided,
            note_form=forms.NoteForm(),
            now=timezone.now(),
        )
        from isms.core.generic import can_see_history, history_for

        ctx["history"] = (
            history_for(incident)[:10] if can_see_history(request.user, self.register) else None
        )
        from isms.core import services as core_services

        ctx["attachments"] = core_services.attachments_for(incident)
        # 個資外洩: the notification of the people concerned (PDPA art. 12) is the privacy
        # module's; linked by URL name only, so incidents never imports it.
        ctx["leak_url"] = (
            url_or_none("privacy:leak_for_incident", incident.pk)
            if incident.category == Incident.Category.DATA_LEAK
            else None
        )
        return render(request, "incidents/incident_detail.html", ctx)


class IncidentFormMixin:
    """Add and edit through the services; a rule broken meanwhile is shown, not a 500."""

    template_name = "incidents/incident_form.html"

    def post(self, request, pk=None):
        form = self.make_form(self.get_instance(), request.POST, request.FILES)
        if form.is_valid():
            try:
                incident = form.save()
            except ValidationError:
                pass
            else:
                messages.success(
                    request,
                    _("已儲存「%(obj)s」，事件等級：%(level)s。")
                    % {
                        "obj": incident,
                        "level": incident.get_level_display() or _("尚未研判"),
                    },
                )
                return redirect(incident.get_absolute_url())
        ctx = self.context(form=form, object=form.instance)
        return render(request, self.template_name, ctx, status=400)


class IncidentAdd(IncidentFormMixin, AddPage):
    pass


class IncidentEdit(IncidentFormMixin, EditPage):
    def get(self, request, pk=None):
        incident = self.get_instance()
        if not incident.is_active:
            messages.error(request, _("已結案或作廢的事件不可再修改。"))
            return redirect(incident.get_absolute_url())
        return super().get(request, pk)


IncidentRegister.detail_view = IncidentDetail
IncidentRegister.add_view = IncidentAdd
IncidentRegister.edit_view = IncidentEdit


class IncidentAction(ProtectedView):
    """One action on an incident: a small form page (GET) and its service call (POST)."""

    access = INCIDENT_ACCESS
    action = "change"
    form_class = None
    title = ""
    help_text = ""

    def incident(self):
        incident = Incident.objects.filter(pk=self.kwargs["pk"]).first()
        if incident is None:
            raise Http404
        return incident

    def initial(self, incident):
        return {}

    def make_form(self, incident, data=None):
        return self.form_class(data=data, initial=self.initial(incident))

    def render_form(self, request, incident, form, status=200):
        return render(
            request,
            "incidents/action.html",
            {
                "incident": incident,
                "form": form,
                "title": self.title,
                "help_text": self.help_text,
                "extra": self.extra(incident),
            },
            status=status,
        )

    def extra(self, incident):
        return {}

    def get(self, request, pk, **kwargs):
        incident = self.incident()
        return self.render_form(request, incident, self.make_form(incident))

    def post(self, request, pk, **kwargs):
        incident = self.incident()
        form = self.make_form(incident, request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    message = self.perform(incident, form.cleaned_data, request.user)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, message)
                return redirect(incident.get_absolute_url())
        return self.render_form(request, incident, form, status=400)

    def perform(self, incident, data, actor) -> str:
        raise NotImplementedError


def _now():
    return timezone.localtime().replace(second=0, microsecond=0)


class PlatformReportView(IncidentAction):
    form_class = forms.PlatformReportForm
    title = gettext_lazy("記錄平台通報（條文 2.10.6–2.10.8）")
    help_text = gettext_lazy("登入教育機構資安通報平台完成通報後，填入通報時間與事件單編號。")

    def initial(self, incident):
        return {
            "reported_at": incident.reported_at or _now(),
            "platform_ticket": incident.platform_ticket,
        }

    def perform(self, incident, data, actor):
        services.record_platform_report(
            incident, actor=actor, reported_at=data["reported_at"], ticket=data["platform_ticket"]
        )
        return _("已記錄平台通報。")


class ChangeReportView(IncidentAction):
    form_class = forms.MomentForm
    title = gettext_lazy("記錄等級變更通報")
    help_text = gettext_lazy("事件等級在平台通報後變更，須於 1 小時內至平台通報變更。")

    def initial(self, incident):
        return {"at": _now()}

    def perform(self, incident, data, actor):
        services.record_change_report(incident, actor=actor, at=data["at"])
        return _("已記錄等級變更通報。")


class WarningAnswerView(IncidentAction):
    form_class = forms.WarningAnswerForm
    title = gettext_lazy("回覆資安預警事件單（條文 2.10.10）")

    def initial(self, incident):
        return {
            "warning_answer": incident.warning_answer,
            "warning_reason": incident.warning_reason,
            "warning_linked_ticket": incident.warning_linked_ticket,
            "warning_answered_at": incident.warning_answered_at or _now(),
        }

    def perform(self, incident, data, actor):
        services.answer_warning(
            incident,
            actor=actor,
            answer=data["warning_answer"],
            reason=data.get("warning_reason", ""),
            linked_ticket=data.get("warning_linked_ticket", ""),
            at=data["warning_answered_at"],
        )
        return _("已記錄預警回覆。")


class StepDoneView(IncidentAction):
    form_class = forms.MomentForm

    def step(self, incident):
        step = incident.steps.filter(pk=self.kwargs["step"]).first()
        if step is None:
            raise Http404
        return step

    def extra(self, incident):
        return {"step": self.step(incident)}

    @property
    def title(self):
        return _("完成應變步驟")

    def initial(self, incident):
        return {"at": _now()}

    def perform(self, incident, data, actor):
        step = self.step(incident)
        services.complete_step(step, actor=actor, at=data["at"], note=data.get("note", ""))
        return _("已記錄「%(step)s」。") % {"step": step.get_kind_display()}


class RequestHelpView(IncidentAction):
    form_class = forms.NoteForm
    title = gettext_lazy("請求教育局(處)協助（條文 2.10.5）")
    help_text = gettext_lazy(
        "無法自行處理的資安事件，應通報教育局(處)資訊安全管理單位協助處理；聯絡後請在步驟中記錄完成。"
    )

    def perform(self, incident, data, actor):
        services.request_help(incident, actor=actor, note=data["text"])
        return _("已新增「請求協助」步驟。")


class TechnicalView(IncidentAction):
    title = gettext_lazy("設備與處理資料（平台通報用）")

    def make_form(self, incident, data=None):
        return forms.TechnicalForm(data=data, instance=incident)

    def perform(self, incident, data, actor):
        services.update(incident, actor=actor, **data)
        return _("已更新設備與處理資料。")


class CloseView(IncidentAction):
    form_class = forms.CloseForm
    title = gettext_lazy("結案（條文 2.10.9）")

    def initial(self, incident):
        return {
            "closed_at": _now(),
            "containment": incident.containment,
            "recovery": incident.recovery,
            "root_cause": incident.root_cause,
            "prevention": incident.prevention,
        }

    def extra(self, incident):
        return {"open_steps": services.open_steps(incident)}

    def perform(self, incident, data, actor):
        services.close(incident, actor=actor, **data)
        return _("事件已結案。")


class DismissView(IncidentAction):
    form_class = forms.DismissForm
    title = gettext_lazy("判定為非資安事件")
    help_text = gettext_lazy("研判後確認不是資安事件（例如單純硬體故障），說明理由後結束此通報。")

    def perform(self, incident, data, actor):
        services.dismiss(incident, actor=actor, reason=data["dismiss_reason"])
        return _("已判定為非資安事件。")


class ImprovementView(IncidentAction):
    form_class = forms.ImprovementForm
    title = gettext_lazy("調查、處理及改善報告")

    def initial(self, incident):
        return {"improvement_done_at": _now(), "improvement_summary": incident.improvement_summary}

    def perform(self, incident, data, actor):
        services.record_improvement(
            incident,
            actor=actor,
            summary=data["improvement_summary"],
            at=data["improvement_done_at"],
        )
        return _("已登錄改善報告。")


class NoteView(IncidentAction):
    form_class = forms.NoteForm
    title = gettext_lazy("新增處理紀錄")

    def perform(self, incident, data, actor):
        services.add_note(incident, actor=actor, text=data["text"])
        return _("已新增處理紀錄。")


nav_link(NAV, gettext_lazy("通報疑似資安事件"), "incidents:report", REPORTER_ACCESS)
nav_link(NAV, gettext_lazy("我的通報"), "incidents:mine", REPORTER_ACCESS)
