"""Pages of the leak follow-up (個資外洩當事人通知; PDPA art. 12, clause 7.2).

個資外洩通知 (the menu's page): every 個資外洩 incident that needs its people told, with
its deadline and state (待通知 / 已通知 / 逾期) and the way to record the notification.
The register of notifications (filters, export, ``/api/leak-notifications/``), the form
(the notice's three parts: facts, measures, contact line) and the notification's page with
the notice letter attached. The rules are ``leaks``'s.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import models
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from isms.core.access import Access
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import AddPage, DetailPage, EditPage, ProtectedView
from isms.core.registers import Column, Register, nav_link
from isms.core.restapi import DateTimeField, ModelSerializer, service_errors
from isms.core.roles import MANAGERS, SECURITY_OFFICER
from isms.incidents.models import Incident

from . import leaks
from .models import LeakNotification
from .nav import NAV

State = leaks.State
OFFICER = frozenset({SECURITY_OFFICER})
LEAK_ACCESS = Access(view=MANAGERS, add=OFFICER, change=OFFICER)
OVERVIEW_ACCESS = Access(view=MANAGERS)
OVERVIEW_PER_PAGE = 50


# The register's filters and columns ---------------------------------------------------------------
class LeakFilterSet(FilterSet):
    search_fields = ("incident__number", "incident__title", "method", "content")
    notified_from = ROCDateFilter(
        label=gettext_lazy("通知日期起"), field_name="notified_at", lookup_expr="date__gte"
    )
    notified_to = ROCDateFilter(
        label=gettext_lazy("通知日期迄"), field_name="notified_at", lookup_expr="date__lte"
    )

    class Meta:
        model = LeakNotification
        fields = []


def _on_time(notice) -> str:
    return _("逾期通知") if leaks.late(notice) else _("如期通知")


def _recorded_by(notice) -> str:
    return notice.recorded_by.display_name


COLUMNS = [
    Column("notified_at", gettext_lazy("通知時間"), link=True),
    Column("number", gettext_lazy("事件編號"), accessor="incident.number", sort="incident__number"),
    Column("title", gettext_lazy("事件摘要"), accessor="incident.title", sort="incident__title"),
    Column("people_count", gettext_lazy("通知人數")),
    Column("method", gettext_lazy("通知方式")),
    Column("on_time", gettext_lazy("期限"), accessor=_on_time, sort=None),
    Column("recorded_by", gettext_lazy("登錄者"), accessor=_recorded_by, sort=None),
    Column("content", gettext_lazy("通知內容"), page=False),
]


# The form ---------------------------------------------------------------------------------------
class LeakForm(ModelForm):
    """When, how many, how, and the notice's three parts (PDPA rules art. 22)."""

    notified_at = ROCDateTimeField(
        label=gettext_lazy("通知時間"),
        required=False,
        help_text=gettext_lazy("民國年/月/日 時:分，例如 115/11/28 14:05；通知完成的時間。"),
    )
    facts = forms.CharField(
        label=gettext_lazy("個人資料被侵害之事實"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("何時、哪些個人資料、如何被洩漏或侵害。"),
    )
    measures = forms.CharField(
        label=gettext_lazy("已採取之因應措施"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("例如：已請誤收者刪除並回覆確認、已變更相關帳號密碼。"),
    )
    contact = forms.CharField(
        label=gettext_lazy("諮詢服務專線"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "當事人詢問的電話與窗口，例如：教務處註冊組 02-2971-5606 分機 211。"
        ),
    )

    class Meta(ModelForm.Meta):
        model = LeakNotification
        fields = ["incident", "notified_at", "people_count", "method"]
        help_texts = {
            "incident": gettext_lazy("事件類型為「個資外洩」且尚未登錄通知的資安事件。"),
            "people_count": gettext_lazy("已通知的當事人人數。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        notice = self.instance
        field = self.fields["incident"]
        # Any incident may be posted (the service refuses one that is not a leak, citing
        # art. 12); the list offers the leaks still to be told and the notice's own.
        field.queryset = Incident.objects.all()
        offered = leaks.needs_notice().filter(
            Q(leak_notification__isnull=True) | Q(pk=notice.incident_id or 0)
        )
        field.widget.choices = [("", "---------")] + [
            (i.pk, str(i)) for i in offered.order_by("-discovered_at", "-id")
        ]
        for name in ("people_count", "method"):
            self.fields[name].required = False
        if notice.pk is not None and not self.is_bound:
            self.initial.update(leaks.split(notice.content))
        elif notice.pk is None and not self.is_bound and self.request is not None:
            chosen = self.request.GET.get("incident", "")
            if chosen.isdigit():
                self.initial.setdefault("incident", int(chosen))

    def validate_unique(self):
        """One notification per incident: the service says so, citing the rule."""

    def save(self, commit=True):
        notice = super().save(commit=False)
        data = self.cleaned_data
        return leaks.notice_save(
            notice,
            actor=self.request.user,
            facts=data.get("facts", ""),
            measures=data.get("measures", ""),
            contact=data.get("contact", ""),
        )


# The API ------------------------------------------------------------------------------------------
class LeakSerializer(ModelSerializer):
    """The notification; ``facts``, ``measures`` and ``contact`` are the notice's three parts
    (written and read), ``content`` the notice as composed from them."""

    serializer_field_mapping = {
        **ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }
    id = serializers.IntegerField(read_only=True)
    facts = serializers.CharField(
        label=gettext_lazy("個人資料被侵害之事實"),
        write_only=True,
        required=False,
        allow_blank=True,
    )
    measures = serializers.CharField(
        label=gettext_lazy("已採取之因應措施"), write_only=True, required=False, allow_blank=True
    )
    contact = serializers.CharField(
        label=gettext_lazy("諮詢服務專線"), write_only=True, required=False, allow_blank=True
    )

    class Meta:
        model = LeakNotification
        fields = [
            "id",
            "incident",
            "notified_at",
            "people_count",
            "method",
            "facts",
            "measures",
            "contact",
            "content",
            "recorded_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["content", "recorded_by", "created_at", "updated_at"]
        extra_kwargs = {
            "incident": {"validators": [], "queryset": Incident.objects.all()},
            "notified_at": {"required": False, "allow_null": True},
            "people_count": {"required": False, "allow_null": True},
            "method": {"required": False, "allow_blank": True},
        }

    def to_representation(self, instance):
        out = super().to_representation(instance)
        out.update(leaks.split(instance.content))
        return out

    def _save(self, notice, parts):
        try:
            return leaks.notice_save(notice, actor=self.context["request"].user, **parts)
        except ValidationError as error:
            raise service_errors(error) from None

    @staticmethod
    def _parts(validated_data, current: dict) -> dict:
        return {name: validated_data.pop(name, current[name]) for name in leaks.PARTS}

    def create(self, validated_data):
        parts = self._parts(validated_data, dict.fromkeys(leaks.PARTS, ""))
        return self._save(LeakNotification(**validated_data), parts)

    def update(self, instance, validated_data):
        parts = self._parts(validated_data, leaks.split(instance.content))
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, parts)


# The register -------------------------------------------------------------------------------------
class LeakRegister(Register):
    model = LeakNotification
    clause = leaks.CLAUSE
    access = LEAK_ACCESS
    columns = COLUMNS
    filterset_class = LeakFilterSet
    form_class = LeakForm
    serializer_class = LeakSerializer
    serializer_reads_related = False
    select_related = ("incident", "recorded_by__person")
    ordering = ("-notified_at", "-id")
    route = "leak-notifications"
    # In the menu as 個資外洩通知 (the incidents that need a notice); this register is
    # opened from there.
    nav_group = ""
    detail_template = "privacy/leaks/detail.html"


def overview_url() -> str:
    return reverse("privacy:leak_overview")


class LeakDetail(DetailPage):
    register = LeakRegister

    def get(self, request, pk, *, status=200, **extra):
        notice = self.get_object("view")
        incident = notice.incident
        return super().get(
            request,
            pk,
            status=status,
            notice=notice,
            incident=incident,
            parts=leaks.split(notice.content),
            due=leaks.notice_due(incident.discovered_at),
            late=leaks.late(notice),
            article=leaks.ARTICLE,
            overview_url=overview_url(),
            **extra,
        )


class LeakAdd(AddPage):
    template_name = "privacy/leaks/form.html"


class LeakEdit(EditPage):
    template_name = "privacy/leaks/form.html"


LeakRegister.add_view = LeakAdd
LeakRegister.edit_view = LeakEdit
LeakRegister.detail_view = LeakDetail


# 個資外洩通知: the incidents that need a notice ------------------------------------------------
class LeakOverview(ProtectedView):
    """Every 個資外洩 incident (not voided, not 非資安事件) with its deadline and state."""

    access = OVERVIEW_ACCESS

    def get(self, request):
        now = timezone.now()
        chosen = request.GET.get("state", "")
        incidents = leaks.needs_notice().select_related("leak_notification")
        if chosen in dict(State.choices):
            incidents = incidents.filter(leaks.state_filter(chosen, now))
        else:
            chosen = ""
        paginator = Paginator(incidents.order_by("-discovered_at", "-id"), OVERVIEW_PER_PAGE)
        try:
            page = paginator.page(request.GET.get("page") or 1)
        except (EmptyPage, PageNotAnInteger):
            page = paginator.page(1)
        rows = [
            (
                incident,
                leaks.notice_of(incident),
                leaks.state(incident, now),
                leaks.notice_due(incident.discovered_at),
            )
            for incident in page.object_list
        ]
        from isms.core.access import can

        user = request.user
        return render(
            request,
            "privacy/leaks/overview.html",
            {
                "rows": rows,
                "page_obj": page,
                "states": State.choices,
                "chosen": chosen,
                "query": urlencode({"state": chosen}) if chosen else "",
                "hours": leaks.notice_hours(),
                "clause": leaks.CLAUSE,
                "article": leaks.ARTICLE,
                "can_record": can(user, "add", LEAK_ACCESS),
                "register_url": reverse(LeakRegister.url_name("list")),
            },
        )


class LeakForIncident(ProtectedView):
    """From an incident's page: its notification, else (the officer) the form to record it,
    else 個資外洩通知."""

    access = OVERVIEW_ACCESS

    def get(self, request, pk):
        incident = Incident.objects.filter(pk=pk).select_related("leak_notification").first()
        if incident is None:
            raise Http404
        notice = leaks.notice_of(incident)
        if notice is not None:
            return redirect(notice.get_absolute_url())
        needed = leaks.needs_notice().filter(pk=incident.pk).exists()
        if needed and leaks.may_record(request.user):
            add = reverse(LeakRegister.url_name("add"))
            return redirect(f"{add}?{urlencode({'incident': incident.pk})}")
        return redirect(overview_url())


nav_link(NAV, gettext_lazy("個資外洩通知"), "privacy:leak_overview", OVERVIEW_ACCESS)

urlpatterns = [
    path("leaks/", LeakOverview.as_view(), name="leak_overview"),
    path("leaks/incident/<int:pk>/", LeakForIncident.as_view(), name="leak_for_incident"),
    *LeakRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(LeakRegister, "leak-notifications")]
