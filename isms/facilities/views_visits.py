"""Pages of the server-room access log (人員進出資訊機房登記表; clauses 3.1.3, 7.9).

The register (list with its 「狀態」 flag and filters, export, ``/api/room-visits/``),
recording and correcting a visit, recording the exit on the visit's page, the guard's page
(守衛室確認鑰匙繳回: today's visits and every earlier one whose key is not back, one large
button each) and the print of the paper sheet per room and month. The rules are
``visits``'s.
"""

import datetime as dt

import django_filters as df
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from isms.assets.models import Asset
from isms.core import generic, roc
from isms.core.access import Access, can
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ROC_MOMENT_HELP, LoginChoiceField, ModelForm, boolean_radio
from isms.core.generic import (
    AddPage,
    DetailAction,
    DetailPage,
    EditPage,
    ListPage,
    MonthSheetView,
    ProtectedView,
    RegisterView,
    month_param,
    safe_next,
)
from isms.core.registers import Column, Register, as_text, nav_link
from isms.core.restapi import DateTimeField, RegisterViewSet, ServiceSerializer
from isms.core.roles import GUARD, MANAGERS
from isms.vendors.models import Vendor

from . import visits
from .models import Room, Visit
from .nav import NAV

Purpose = Visit.Purpose
Unit = Visit.Unit
READERS = MANAGERS | visits.RECORDERS | {GUARD}
VISIT_ACCESS = Access(
    view=READERS,
    add=visits.RECORDERS,
    change=visits.RECORDERS,
    void=visits.RECORDERS,
)
# Recording the exit on the visit's page.
EXIT_ACCESS = Access(view=READERS, change=visits.RECORDERS)
# The guard's page and the key's confirmation (守衛室; the officer and the system
# administrators as back-up).
KEY_ACCESS = Access(view=visits.CONFIRMERS, change=visits.CONFIRMERS)
# Visit blocks (three lines of the paper each) on one printed A4 page.
PRINT_PER_PAGE = 5


# The list's filters ----------------------------------------------------------------------------
class VisitFilterSet(FilterSet):
    search_fields = (
        "visitor_name",
        "company",
        "unit_other",
        "purpose_detail",
        "equipment_detail",
        "notes",
    )
    room = df.ModelChoiceFilter(
        label=gettext_lazy("機房"), queryset=Room.objects.order_by("kind", "name")
    )
    vendor = df.ModelChoiceFilter(
        label=gettext_lazy("委外廠商"), queryset=Vendor.objects.order_by("name")
    )
    state = df.ChoiceFilter(
        label=gettext_lazy("狀態"), choices=visits.Status.choices, method="filter_state"
    )
    entered_from = ROCDateFilter(
        label=gettext_lazy("進入日期起"), field_name="entered_at", lookup_expr="date__gte"
    )
    entered_to = ROCDateFilter(
        label=gettext_lazy("進入日期迄"), field_name="entered_at", lookup_expr="date__lte"
    )

    class Meta:
        model = Visit
        fields = ["room", "vendor", "state", "unit", "purpose"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(visits.status_filter(value)) if value else queryset


# Columns (page, CSV, XLSX) -----------------------------------------------------------------
STATUS_LABELS = dict(visits.Status.choices)


def _status(visit) -> str:
    return str(STATUS_LABELS[visits.status(visit)])


def _unit(visit) -> str:
    return visits.unit_label(visit)


def _purpose(visit) -> str:
    return visits.purpose_label(visit)


def _equipment(visit) -> str:
    return visit.equipment_detail if visit.carries_equipment else _("無")


def _escort(visit) -> str:
    return visits.person_name(visit.escort)


def _present(visit) -> str:
    return visits.person_name(visit.present_person)


def _key(visit) -> str:
    if visit.key_returned_at is None:
        return _("未繳回")
    return f"{as_text(visit.key_returned_at)} {visits.person_name(visit.key_confirmed_by)}"


# The form ---------------------------------------------------------------------------------------
def logins(*keep):
    """Active logins (and those a visit already names), read with their person."""
    return (
        get_user_model()
        .objects.filter(Q(is_active=True) | Q(pk__in=[pk for pk in keep if pk]))
        .select_related("person")
        .order_by("username")
    )


class VisitForm(ModelForm):
    """A line of the paper form; after the guard's confirmation only the notes are open."""

    entered_at = ROCDateTimeField(
        label=gettext_lazy("進入時間"),
        help_text=ROC_MOMENT_HELP,
    )
    exited_at = ROCDateTimeField(
        label=gettext_lazy("離去時間"),
        required=False,
        help_text=gettext_lazy("尚未離開請留空；離開時在紀錄頁按「登錄離去」。"),
    )
    carries_equipment = boolean_radio(
        gettext_lazy("攜出（入）設備"),
        [(False, gettext_lazy("無")), (True, gettext_lazy("有"))],
        initial=False,
    )

    class Meta(ModelForm.Meta):
        model = Visit
        fields = [
            "room",
            "entered_at",
            "exited_at",
            "purpose",
            "purpose_detail",
            "carries_equipment",
            "equipment_detail",
            "unit",
            "unit_other",
            "vendor",
            "company",
            "visitor_name",
            "escort",
            "assets",
            "personal_data",
            "present_person",
            "notes",
        ]
        field_classes = {"escort": LoginChoiceField, "present_person": LoginChoiceField}
        widgets = {
            "purpose": forms.RadioSelect,
            "unit": forms.RadioSelect,
            "notes": forms.Textarea(attrs={"rows": 2}),
            "assets": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "escort": gettext_lazy("陪同進入機房的本校人員；廠商人員必須有人陪同（條文 3.1.3）。"),
            "assets": gettext_lazy(
                "維修或更新的設備（資產清冊）；選到存有個人資料的設備時，"
                "會自動勾選「涉及存有個人資料之設備」（條文 7.9）。"
            ),
            "present_person": gettext_lazy(
                "廠商維修或更新存有個人資料的設備時，須指派本校專人在場（條文 7.9）。"
            ),
            "vendor": gettext_lazy(
                "已登記的委外廠商：紀錄頁會核對其合約與保密切結書（條文 6.1）。"
            ),
            "company": gettext_lazy("未登記的廠商才需填寫；選了委外廠商時以登記的公司名稱為準。"),
            "unit_other": gettext_lazy("單位為「其他」時填寫。"),
            "equipment_detail": gettext_lazy("攜出（入）設備為「有」時，寫明設備。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        visit = self.instance
        fields = self.fields
        for name in ("purpose", "unit", "carries_equipment"):
            fields[name].widget.attrs["class"] = "form-check-input"
        fields["purpose"].choices = Purpose.choices  # no empty choice
        fields["unit"].choices = Unit.choices
        fields["room"].queryset = Room.objects.filter(
            Q(voided_at__isnull=True) | Q(pk=visit.room_id or 0)
        ).order_by("kind", "name")
        fields["vendor"].queryset = Vendor.objects.filter(
            Q(voided_at__isnull=True) | Q(pk=visit.vendor_id or 0)
        ).order_by("name")
        fields["escort"].queryset = logins(visit.escort_id)
        fields["present_person"].queryset = logins(visit.present_person_id)
        kept_assets = list(visit.assets.values_list("pk", flat=True)) if visit.pk else []
        fields["assets"].queryset = Asset.objects.filter(
            Q(voided_at__isnull=True) & ~Q(state=Asset.State.DECOMMISSIONED) | Q(pk__in=kept_assets)
        ).order_by("property_number", "id")
        fields["assets"].required = False
        # The service says what is missing, citing the form (not Django's generic text).
        for name in ("purpose_detail", "visitor_name"):
            fields[name].required = False
        fields["exited_at"].widget.attrs["placeholder"] = ""
        if visit.pk is None and self.request is not None and not self.is_bound:
            self.initial.setdefault(
                "entered_at", timezone.localtime().replace(second=0, microsecond=0)
            )
            rooms = list(fields["room"].queryset[:2])
            if len(rooms) == 1:  # the school's one server room
                self.initial.setdefault("room", rooms[0].pk)
            if visits.may_record(self.request.user):
                self.initial.setdefault("escort", self.request.user.pk)
        if visit.pk is not None and visits.locked(visit):
            for name, field in fields.items():
                if name not in visits.OPEN_AFTER_KEY:
                    field.disabled = True

    def save(self, commit=True):
        visit = super().save(commit=False)
        field = self.fields["assets"]
        assets = None if field.disabled else list(self.cleaned_data.get("assets") or [])
        return visits.save_visit(visit, actor=self.request.user, assets=assets)


class ExitForm(forms.Form):
    exited_at = ROCDateTimeField(
        label=gettext_lazy("離去時間"),
        required=False,
        help_text=gettext_lazy("留空為現在。"),
    )


# The API ------------------------------------------------------------------------------------------
class VisitSerializer(ServiceSerializer):
    save_extras = ("assets",)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = [
            "id",
            *visits.ENTRY_FIELDS,
            "assets",
            "key_returned_at",
            "key_confirmed_by",
            "recorded_by",
            "status",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            "key_returned_at",
            "key_confirmed_by",
            "recorded_by",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        extra_kwargs = {
            "purpose_detail": {"required": False, "allow_blank": True},
            "visitor_name": {"required": False, "allow_blank": True},
            "assets": {"required": False},
        }

    def get_status(self, obj) -> str:
        return visits.status(obj)

    def save_record(self, visit, *, actor, assets):
        return visits.save_visit(visit, actor=actor, assets=assets)


class ExitSerializer(serializers.Serializer):
    exited_at = DateTimeField(label=gettext_lazy("離去時間"), required=False, allow_null=True)


class VisitViewSet(RegisterViewSet):
    """The access log; ``exit`` records the exit (recorders), ``confirm-key`` the guard's
    confirmation that the key is back (KEY_ACCESS)."""

    @property
    def access(self):
        name = getattr(self, "action", None)
        if name == "confirm_key":
            return KEY_ACCESS
        if name == "record_exit":
            return EXIT_ACCESS
        return self.register.access

    @extend_schema(request=ExitSerializer, responses={200: VisitSerializer})
    @action(detail=True, methods=["post"], url_path="exit")
    def record_exit(self, request, pk=None):
        visit = self.get_object()
        data = self.body(ExitSerializer)
        return self.service_answer(
            visits.record_exit, visit, actor=request.user, exited_at=data.get("exited_at")
        )

    @extend_schema(request=None, responses={200: VisitSerializer})
    @action(detail=True, methods=["post"], url_path="confirm-key")
    def confirm_key(self, request, pk=None):
        return self.service_answer(visits.confirm_key, self.get_object(), actor=request.user)


# The register -------------------------------------------------------------------------------------
class VisitRegister(Register):
    model = Visit
    clause = "3.1.3"
    access = VISIT_ACCESS
    columns = [
        Column("entered_at", gettext_lazy("進入時間"), link=True),
        Column("room", gettext_lazy("機房"), accessor="room.name", sort="room__name"),
        Column("visitor_name", gettext_lazy("進入機房人員")),
        Column("unit", gettext_lazy("單位"), accessor=_unit, sort="unit"),
        Column("purpose", gettext_lazy("事由"), accessor=_purpose, sort="purpose"),
        Column("equipment", gettext_lazy("攜出（入）設備"), accessor=_equipment, sort=None),
        Column("escort", gettext_lazy("陪同人員"), accessor=_escort, sort=None),
        Column("exited_at", gettext_lazy("離去時間")),
        Column("key", gettext_lazy("鑰匙繳回"), accessor=_key, sort="key_returned_at"),
        Column("state", gettext_lazy("狀態"), accessor=_status, sort=None),
        Column("personal_data", gettext_lazy("涉及個資設備（7.9）"), page=False),
        Column("present_person", gettext_lazy("在場專人"), accessor=_present, page=False),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = VisitFilterSet
    form_class = VisitForm
    serializer_class = VisitSerializer
    viewset_base = VisitViewSet
    serializer_reads_related = False
    select_related = (
        "room",
        "escort__person",
        "present_person__person",
        "key_confirmed_by__person",
    )
    ordering = ("-entered_at", "-id")
    route = "visits"
    nav_group = NAV
    nav_label = gettext_lazy("機房進出登記")
    detail_template = "facilities/visits/detail.html"

    # A visit not closed when its entry day ended is red (逾時未結).
    late_column = "state"

    @classmethod
    def row_late(cls, obj, now, state=None):
        return visits.status(obj, now) == visits.Status.OVERDUE

    @classmethod
    def cell_attrs(cls, obj, name, now):
        return f' data-status="{visits.status(obj, now)}"' if name == "state" else ""

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return visits.void_visit(obj, actor=actor, reason=reason)


def print_url(room_id=None, day: dt.date | None = None) -> str:
    params = {"month": month_param(day or timezone.localdate())}
    if room_id:
        params["room"] = room_id
    return f"{reverse('facilities:visit_print')}?{urlencode(params)}"


# The list ---------------------------------------------------------------------------------------
class VisitList(ListPage):
    register = VisitRegister
    template_name = "facilities/visits/list.html"

    def extra_context(self) -> dict:
        user = self.request.user
        room = self.request.GET.get("room") or ""
        return {
            "print_url": print_url(room if room.isdigit() else None),
            "print_rooms": list(Room.objects.active().order_by("kind", "name")),
            "print_month": month_param(timezone.localdate()),
            "can_confirm": can(user, "view", KEY_ACCESS),
        }


# The visit's page: the exit and the key -------------------------------------------------------
def checkbox_rows(visit) -> dict:
    """The paper's check boxes of a visit: (label, ticked) lists."""
    return {
        "equipment": [(_("無"), not visit.carries_equipment), (_("有"), visit.carries_equipment)],
        "purposes": [(str(label), visit.purpose == value) for value, label in Purpose.choices],
        "units": [(str(label), visit.unit == value) for value, label in Unit.choices],
    }


class VisitDetail(DetailPage):
    register = VisitRegister

    def get(self, request, pk, *, status=200, **extra):
        visit = self.get_object("view")
        user = request.user
        open_ = visit.voided_at is None
        extra.setdefault("exit_form", ExitForm())
        return super().get(
            request,
            pk,
            status=status,
            visit=visit,
            boxes=checkbox_rows(visit),
            state=visits.status(visit),
            state_label=_status(visit),
            unit=visits.unit_label(visit),
            assets=list(visit.assets.order_by("property_number", "id")),
            vendor_gaps=visits.vendor_gaps(visit) if open_ else [],
            locked=visits.locked(visit),
            can_edit=open_ and visits.may_record(user),
            can_exit=open_ and visit.exited_at is None and can(user, "change", EXIT_ACCESS),
            can_confirm=open_ and visit.key_returned_at is None and can(user, "change", KEY_ACCESS),
            print_url=print_url(visit.room_id, timezone.localtime(visit.entered_at).date()),
            **extra,
        )


class ExitView(DetailAction, VisitDetail):
    """Record the exit (離去時間, default now); refused → the visit's page with the reason."""

    access = EXIT_ACCESS
    form_class = ExitForm
    form_context = "exit_form"

    def perform(self, visit, form, user):
        visits.record_exit(visit, actor=user, exited_at=form.cleaned_data.get("exited_at"))

    def success_message(self, visit):
        return _("已登錄「%(visit)s」的離去時間。") % {"visit": visit}


# The guard's page ---------------------------------------------------------------------------------
class GuardView(ProtectedView):
    """守衛室確認鑰匙繳回: today's visits and every earlier one whose key is not back."""

    access = KEY_ACCESS

    def page(self, request, *, errors=(), status=200):
        from isms.core import services as core_services

        now = timezone.now()
        rows = [(v, visits.status(v, now)) for v in visits.guard_visits(now)]
        return render(
            request,
            "facilities/visits/guard.html",
            {
                "rows": rows,
                "errors": errors,
                "now": now,
                "today": timezone.localdate(now),
                "password_age_left": core_services.password_days_left(request.user),
                "can_read_list": can(request.user, "view", VISIT_ACCESS),
            },
            status=status,
        )

    def get(self, request):
        return self.page(request)


class ConfirmKeyView(RegisterView):
    """The guard's button: POST only; refused (twice, voided) → the page again with the
    reason (400)."""

    register = VisitRegister
    access = KEY_ACCESS
    action = "change"

    def get(self, request, pk):
        return redirect(reverse("facilities:visit_guard"))

    def post(self, request, pk):
        visit = self.get_object("view")
        back = safe_next(request, reverse("facilities:visit_guard"))
        try:
            visits.confirm_key(visit, actor=request.user)
        except ValidationError as error:
            if request.POST.get("from") == "detail":
                return _detail_refusal(request, pk, error.messages)
            return GuardView().page(request, errors=error.messages, status=400)
        messages.success(
            request,
            _("已確認「%(visit)s」的鑰匙繳回（%(room)s）。")
            % {"visit": visit, "room": visit.room.name},
        )
        return redirect(back)


def _detail_refusal(request, pk, errors):
    view = VisitDetail()
    view.setup(request, pk=pk)
    return view.get(request, pk, status=400, key_errors=errors)


nav_link(NAV, gettext_lazy("守衛室確認鑰匙繳回"), "facilities:visit_guard", KEY_ACCESS)


# The paper sheet, per room and month ----------------------------------------------------------
def parse_month(params) -> tuple[int, int]:
    """(Western year, month) from ``month=115-11`` (also 115/11, 11511) or ``year=115&month=11``;
    the current month when none is given. ValueError with a zh-TW message otherwise."""
    return generic.parse_month(params, with_year=True)


def clock(moment) -> dict | None:
    """時 and 分 of a moment in Taipei, for the paper's 「時 分」."""
    if moment is None:
        return None
    local = timezone.localtime(moment)
    return {"hour": local.hour, "minute": f"{local.minute:02d}", "date": local.date()}


def sheet_line(visit) -> dict:
    local = timezone.localtime(visit.entered_at)
    key = clock(visit.key_returned_at)
    return {
        "visit": visit,
        "year": roc.roc_year(local.date()),
        "month": local.month,
        "day": local.day,
        "entered": clock(visit.entered_at),
        "exited": clock(visit.exited_at),
        "exit_other_day": visit.exited_at is not None
        and timezone.localtime(visit.exited_at).date() != local.date(),
        "key": key,
        "key_other_day": key is not None and key["date"] != local.date(),
        "boxes": checkbox_rows(visit),
        "other_unit": visit.unit == Unit.OTHER,
        "repair": visit.purpose == Purpose.REPAIR,
        "other_purpose": visit.purpose == Purpose.OTHER,
    }


class PrintView(MonthSheetView):
    """人員進出資訊機房登記表 of one room and month (A-4), filled from the visits; voided
    visits left out, empty lines to fill the last page."""

    register = VisitRegister
    template_name = "facilities/visits/print.html"
    date_field = "entered_at"
    per_page = PRINT_PER_PAGE
    month_with_year = True
    count_name = "visit_count"

    def sheet_errors(self) -> list[str]:
        errors = []
        self.rooms = rooms = list(Room.objects.order_by("kind", "name"))
        room = None
        room_param = self.request.GET.get("room") or ""
        if room_param:
            room = next((r for r in rooms if str(r.pk) == room_param), None)
            if room is None:
                errors.append(_("找不到此機房。"))
        else:
            active = [r for r in rooms if r.voided_at is None]
            servers = [r for r in active if r.kind == Room.Kind.SERVER_ROOM]
            room = (servers or active or [None])[0]
            if room is None:
                errors.append(_("尚未登錄機房，請先新增機房。"))
        self.room = room
        return errors

    def sheet_filter(self, rows):
        return rows.filter(room=self.room)

    def sheet_line(self, visit) -> dict:
        return sheet_line(visit)

    def sheet_context(self) -> dict:
        return {"room": self.room, "rooms": self.rooms}


class VisitAdd(AddPage):
    template_name = "facilities/visits/form.html"


class VisitEdit(EditPage):
    template_name = "facilities/visits/form.html"


VisitRegister.add_view = VisitAdd
VisitRegister.edit_view = VisitEdit
VisitRegister.detail_view = VisitDetail

urlpatterns = [
    path("visits/", VisitList.as_view(), name="visit_list"),
    path("visits/guard/", GuardView.as_view(), name="visit_guard"),
    path("visits/print/", PrintView.as_view(), name="visit_print"),
    path("visits/<int:pk>/exit/", ExitView.as_view(), name="visit_exit"),
    path("visits/<int:pk>/key/", ConfirmKeyView.as_view(), name="visit_key"),
    *VisitRegister.urls(without=("list",)),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(VisitRegister, "room-visits")]
