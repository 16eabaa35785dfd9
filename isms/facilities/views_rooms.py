"""Pages and API of rooms (3.1–3.4): server rooms and computer classrooms with their
physical controls, inspections and the findings followed up to done.

- 機房與電腦教室 (``/facilities/rooms/``, ``/api/rooms/``): the register, with the number
  of controls not in place (未設置) and the last inspection computed for the whole page at
  once. A room's page shows its controls by clause (a server room's missing ones as gaps),
  its latest inspections, open findings, and — from the environment slice — its sensors,
  latest reading against its thresholds and open alerts. A keeper edits all the controls
  on one page (``rooms/<id>/controls/``, ``POST /api/rooms/<id>/controls/``).
- 機房檢查 (``/facilities/inspections/``, ``/api/room-inspections/``): an inspection with a
  result per control on one checklist; photos are its attachments. Corrected by a keeper
  within 7 days of its entry, voided with a reason.
- 檢查缺失 (``/facilities/findings/``, ``/api/room-findings/``): one per 不符合 item; a keeper
  changes its assignee or due date, the assignee or a keeper records its resolution
  (``findings/<id>/resolve/``, ``POST /api/room-findings/<id>/resolve/``).

Access: system administrators and the equipment head keep them; the security officer, the
supervisor and the principal read. The rules are in ``rooms``; these views only call it.
"""

import django_filters as df
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from isms.core import roc
from isms.core.access import Access, can
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm, checklist_errors
from isms.core.generic import (
    AddPage,
    DetailAction,
    DetailPage,
    EditPage,
    ListPage,
    RegisterView,
    url_or_none,
)
from isms.core.registers import Column, Register, choice_label
from isms.core.restapi import (
    ModelSerializer,
    RegisterViewSet,
    service_errors,
)
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, SYSADMIN

from . import rooms
from .models import (
    Alert,
    Control,
    Finding,
    Inspection,
    InspectionItem,
    Reading,
    Room,
    RoomControl,
    Sensor,
)
from .nav import NAV

Kind = Room.Kind
State = RoomControl.State
Result = InspectionItem.Result
Status = Finding.Status

KEEPERS = frozenset({SYSADMIN, EQUIPMENT_HEAD})
READERS = MANAGERS | KEEPERS
ROOM_ACCESS = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)
CONTROLS_ACCESS = Access(view=READERS, change=KEEPERS)
INSPECTION_ACCESS = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)
# Findings come from inspections only: none is added by hand.
FINDING_ACCESS = Access(view=READERS, change=KEEPERS, void=KEEPERS)
# ``change``: a keeper, or the finding's assignee (rooms.may_resolve).
RESOLVE_ACCESS = Access(view=READERS, change=KEEPERS)
# Inspections and findings shown on a room's page; the lists have them all.
ROOM_PAGE_INSPECTIONS = 5


_kind = choice_label(Kind.choices)
_control = choice_label(Control.choices)
_status = choice_label(Status.choices)


def keeper_choices(current_pk=None):
    """Active keepers (and whoever holds the field now), for a select."""
    return (
        get_user_model()
        .objects.filter(
            Q(groups__name__in=rooms.KEEPER_ROLES, is_active=True) | Q(pk=current_pk or 0)
        )
        .select_related("person")
        .distinct()
        .order_by("username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.display_name}（{obj.username}）"


def _query_pk(request, name):
    value = request.GET.get(name, "") if request is not None else ""
    return int(value) if value.isdigit() and len(value) < 19 else None


# Rooms (3.1, 3.2) --------------------------------------------------------------------------------
def with_room_figures(qs):
    """Each room with its controls not in place, last inspection and open findings, in the
    same query (a filtered count and two subqueries): no query per row."""
    last = (
        Inspection.objects.filter(room=OuterRef("pk"), voided_at__isnull=True)
        .order_by("-inspected_on", "-id")
        .values("inspected_on")[:1]
    )
    open_count = (
        Finding.objects.filter(room=OuterRef("pk"), status=Status.OPEN, voided_at__isnull=True)
        .order_by()
        .values("room")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        absent_count=Count("controls", filter=Q(controls__state=State.ABSENT)),
        last_inspected_on=Subquery(last),
        open_findings=Coalesce(
            Subquery(open_count, output_field=IntegerField()), Value(0), output_field=IntegerField()
        ),
    )


def _range(low, high, unit) -> str:
    return f"{low}–{high} {unit}"


def _gaps(room) -> str:
    count = getattr(room, "absent_count", None)
    if count is None:
        count = rooms.absent_count(room)
    return str(count)


class RoomFilterSet(FilterSet):
    search_fields = ("name", "location", "notes")
    keeper = df.ModelChoiceFilter(
        label=gettext_lazy("管理人"),
        queryset=get_user_model()
        .objects.filter(groups__name__in=rooms.KEEPER_ROLES)
        .distinct()
        .order_by("username"),
    )
    gaps = df.ChoiceFilter(
        label=gettext_lazy("未設置控制措施"),
        choices=[("yes", gettext_lazy("有未設置")), ("no", gettext_lazy("皆已處理"))],
        method="filter_gaps",
    )

    class Meta:
        model = Room
        fields = ["kind", "keeper", "monitored", "gaps"]

    def filter_gaps(self, queryset, name, value):
        absent = Room.objects.filter(controls__state=State.ABSENT).values("pk")
        if value == "yes":
            return queryset.filter(pk__in=absent)
        if value == "no":
            return queryset.exclude(pk__in=absent)
        return queryset


class RoomForm(ModelForm):
    """A room; the rules (and their messages citing 3.1, 3.2) are ``rooms.room_errors``."""

    keeper = UserChoiceField(label=gettext_lazy("管理人"), queryset=get_user_model().objects.none())

    class Meta(ModelForm.Meta):
        model = Room
        fields = [
            "name",
            "kind",
            "location",
            "keeper",
            "monitored",
            "temperature_min",
            "temperature_max",
            "humidity_min",
            "humidity_max",
            "notes",
        ]
        widgets = {"kind": forms.RadioSelect, "notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "name": gettext_lazy("例如：行政大樓 3F 主機機房、電腦教室（一）。"),
            "keeper": gettext_lazy("在職的系統管理人員或設備組長；檢查缺失預設由其改善。"),
            "temperature_min": gettext_lazy("條文 3.2 建議 20°C～25°C；可依機房設備調整。"),
            "humidity_min": gettext_lazy("條文 3.2 建議相對濕度 50%～70%；可依機房設備調整。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        room = self.instance
        fields = self.fields
        fields["kind"].choices = Kind.choices
        fields["kind"].widget.attrs.pop("class", None)
        fields["keeper"].queryset = keeper_choices(room.keeper_id)
        fields["keeper"].widget.attrs["class"] = "form-select"
        for name in ("temperature_min", "temperature_max", "humidity_min", "humidity_max"):
            fields[name].widget.attrs["step"] = "0.1"
        if room.pk is None and self.request is not None and rooms.is_keeper(self.request.user):
            self.initial.setdefault("keeper", self.request.user.pk)

    def save(self, commit=True):
        room = super().save(commit=False)
        return rooms.save_room(room, actor=self.request.user)


class RoomSerializer(ModelSerializer):
    """A room and (read only) its controls; ``POST …/controls/`` sets them."""

    id = serializers.IntegerField(read_only=True)
    controls = serializers.SerializerMethodField(label=gettext_lazy("控制措施"))
    absent_controls = serializers.SerializerMethodField(label=gettext_lazy("未設置控制措施"))

    class Meta:
        model = Room
        fields = [
            "id",
            "name",
            "kind",
            "location",
            "keeper",
            "monitored",
            "temperature_min",
            "temperature_max",
            "humidity_min",
            "humidity_max",
            "notes",
            "controls",
            "absent_controls",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = ["created_at", "updated_at", "voided_at"]

    def get_controls(self, obj) -> list[dict]:
        return [
            {
                "control": rc.control,
                "clause": rooms.clause_of(rc.control),
                "state": rc.state,
                "detail": rc.detail,
            }
            for rc in rooms.sorted_controls(obj.controls.all())
        ]

    def get_absent_controls(self, obj) -> int:
        count = getattr(obj, "absent_count", None)
        return rooms.absent_count(obj) if count is None else count

    def _save(self, room):
        try:
            return rooms.save_room(room, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(Room(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class ControlEntrySerializer(serializers.Serializer):
    control = serializers.ChoiceField(label=gettext_lazy("控制措施"), choices=Control.choices)
    state = serializers.ChoiceField(label=gettext_lazy("設置情形"), choices=State.choices)
    detail = serializers.CharField(
        label=gettext_lazy("說明"), required=False, allow_blank=True, max_length=300
    )


class ControlsSerializer(serializers.Serializer):
    controls = ControlEntrySerializer(many=True, label=gettext_lazy("控制措施"))


class RoomViewSet(RegisterViewSet):
    """Rooms; ``POST …/{id}/controls/`` sets the state and detail of some of its controls."""

    @extend_schema(request=ControlsSerializer, responses={200: RoomSerializer})
    @action(detail=True, methods=["post"])
    def controls(self, request, pk=None):
        room = self.get_object()
        data = ControlsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = {}
        for entry in data.validated_data["controls"]:
            if entry["control"] in changes:
                raise exceptions.ValidationError({"controls": [_("同一項控制措施只能出現一次。")]})
            changes[entry["control"]] = (entry["state"], entry.get("detail", ""))
        try:
            rooms.save_controls(room, changes, actor=request.user)
        except ValidationError as error:
            raise service_errors(error) from None
        room = self.get_queryset().get(pk=room.pk)
        return Response(self.get_serializer(room).data)


class RoomRegister(Register):
    model = Room
    clause = "3.1"
    access = ROOM_ACCESS
    columns = [
        Column("name", gettext_lazy("名稱"), link=True),
        Column("kind", gettext_lazy("類別"), accessor=lambda r: _kind(r.kind), sort="kind"),
        Column("location", gettext_lazy("位置")),
        Column(
            "keeper",
            gettext_lazy("管理人"),
            accessor=lambda r: r.keeper.display_name,
            sort="keeper__username",
        ),
        Column(
            "temperature",
            gettext_lazy("溫度範圍"),
            accessor=lambda r: _range(r.temperature_min, r.temperature_max, "°C"),
            sort=None,
        ),
        Column(
            "humidity",
            gettext_lazy("濕度範圍"),
            accessor=lambda r: _range(r.humidity_min, r.humidity_max, "%RH"),
            sort=None,
        ),
        Column("monitored", gettext_lazy("溫濕度監控")),
        Column("absent", gettext_lazy("未設置控制措施"), accessor=_gaps, sort="absent_count"),
        Column(
            "last_inspected_on",
            gettext_lazy("最近檢查"),
            accessor=lambda r: r.last_inspected_on,
            sort="last_inspected_on",
        ),
        Column(
            "open_findings",
            gettext_lazy("待改善缺失"),
            accessor=lambda r: r.open_findings,
            sort="open_findings",
        ),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = RoomFilterSet
    form_class = RoomForm
    serializer_class = RoomSerializer
    viewset_base = RoomViewSet
    select_related = ("keeper__person",)
    serializer_reads_related = False
    ordering = ("kind", "name", "id")
    route = "rooms"
    nav_group = NAV
    nav_label = gettext_lazy("機房與電腦教室")
    detail_template = "facilities/rooms/room_detail.html"

    @classmethod
    def base_queryset(cls):
        return with_room_figures(super().base_queryset())

    @classmethod
    def api_queryset(cls):
        return with_room_figures(super().api_queryset()).prefetch_related("controls")

    @classmethod
    def void_error(cls, obj):
        return rooms.room_void_error(obj)

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return rooms.void_room(obj, actor=actor, reason=reason)


class RoomFormMixin:
    template_name = "facilities/rooms/room_form.html"


class RoomAdd(RoomFormMixin, AddPage):
    pass


class RoomEdit(RoomFormMixin, EditPage):
    pass


def control_groups(room_controls, kind):
    """The controls by clause: [(clause, title, [(rc, clause of the control, gap?)…])…]."""
    groups = {}
    for rc in rooms.sorted_controls(room_controls):
        clause = rooms.clause_of(rc.control)
        head = clause[:3]
        gap = rc.state == State.ABSENT
        groups.setdefault(head, []).append(
            {
                "rc": rc,
                "clause": clause,
                "gap": gap and kind == Kind.SERVER_ROOM,
                "absent": gap,
            }
        )
    return [(head, rooms.CLAUSE_TITLES.get(head, ""), rows) for head, rows in groups.items()]


def reading_state(room, reading) -> dict | None:
    """The latest reading against the room's thresholds (None without one)."""
    if reading is None:
        return None
    t, h = reading.temperature_c, reading.humidity_pct
    t_ok = t is None or float(room.temperature_min) <= t <= float(room.temperature_max)
    h_ok = h is None or float(room.humidity_min) <= h <= float(room.humidity_max)
    return {"reading": reading, "temperature_ok": t_ok, "humidity_ok": h_ok, "ok": t_ok and h_ok}


def with_fail_count(qs):
    return qs.annotate(fail_count=Count("items", filter=Q(items__result=Result.FAIL)))


class RoomDetail(DetailPage):
    """A room: its fields, controls by clause, inspections, findings and environment."""

    register = RoomRegister

    def get(self, request, pk, *, status=200, **extra):
        room = self.get_object("view")
        user = request.user
        today = timezone.localdate()
        controls = list(room.controls.all())
        findings = list(
            Finding.objects.active()
            .filter(room=room, status=Status.OPEN)
            .select_related("assignee__person", "inspection")
            .order_by("due_on", "id")
        )
        for f in findings:
            f.overdue = rooms.is_overdue(f, today)
        latest = Reading.objects.filter(room=room).order_by("-measured_at", "-id").first()
        keeper = can(user, "change", ROOM_ACCESS) and room.voided_at is None
        extra.update(
            room=room,
            groups=control_groups(controls, room.kind),
            gap_count=sum(
                1 for rc in controls if rc.state == State.ABSENT and room.kind == Kind.SERVER_ROOM
            ),
            absent_total=sum(1 for rc in controls if rc.state == State.ABSENT),
            inspections=list(
                with_fail_count(
                    Inspection.objects.filter(room=room, voided_at__isnull=True)
                    .select_related("inspector__person")
                    .order_by("-inspected_on", "-id")
                )[:ROOM_PAGE_INSPECTIONS]
            ),
            findings=findings,
            sensors=list(Sensor.objects.filter(room=room, voided_at__isnull=True).order_by("code")),
            latest=reading_state(room, latest),
            alerts=list(
                Alert.objects.filter(room=room, closed_at__isnull=True)
                .select_related("sensor")
                .order_by("-opened_at")
            ),
            can_keep=keeper,
            can_inspect=keeper and can(user, "add", INSPECTION_ACCESS),
            links={
                "controls": reverse("facilities:room_controls", args=[room.pk]),
                "inspect": reverse("facilities:inspection_add") + f"?room={room.pk}",
                "inspections": reverse("facilities:inspection_list") + f"?room={room.pk}",
                "findings": reverse("facilities:finding_list") + f"?room={room.pk}",
                "chart": url_or_none("facilities:room_chart", room.pk),
                "sensors": url_or_none("facilities:sensor_list", query=f"room={room.pk}"),
                "alerts": url_or_none("facilities:alert_list", query=f"room={room.pk}"),
                "visits": url_or_none("facilities:visit_list", query=f"room={room.pk}"),
            },
        )
        return super().get(request, pk, status=status, **extra)


class ControlsForm(forms.Form):
    """Every control of a room on one page: its state and detail."""

    def __init__(self, room, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.room = room
        self.rows = []
        current = {rc.control: rc for rc in room.controls.all()}
        for control in rooms.CONTROLS:
            rc = current.get(control.value)
            state = forms.ChoiceField(
                label=control.label,
                choices=State.choices,
                widget=forms.RadioSelect,
                initial=rc.state if rc else State.ABSENT,
            )
            detail = forms.CharField(
                label=_("說明"),
                required=False,
                max_length=300,
                initial=rc.detail if rc else "",
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
            )
            self.fields[f"state_{control.value}"] = state
            self.fields[f"detail_{control.value}"] = detail

    def table(self):
        """[(clause head, title, [(label, clause, state field, detail field, server-only)])]."""
        groups = {}
        for control in rooms.CONTROLS:
            clause = rooms.clause_of(control)
            groups.setdefault(clause[:3], []).append(
                {
                    "label": control.label,
                    "clause": clause,
                    "state": self[f"state_{control.value}"],
                    "detail": self[f"detail_{control.value}"],
                    "server_only": control in rooms.SERVER_ROOM_ONLY,
                }
            )
        return [(head, rooms.CLAUSE_TITLES.get(head, ""), rows) for head, rows in groups.items()]

    def changes(self) -> dict:
        data = self.cleaned_data
        return {
            c.value: (data.get(f"state_{c.value}", ""), data.get(f"detail_{c.value}", ""))
            for c in rooms.CONTROLS
        }

    def add_service_errors(self, error) -> None:
        for name, messages_ in error.message_dict.items():
            field = f"state_{name}"
            self.add_error(field if field in self.fields else None, messages_)


class RoomControlsView(RegisterView):
    """編輯控制措施: every control of a room in one form, one save."""

    register = RoomRegister
    access = CONTROLS_ACCESS
    action = "change"
    template_name = "facilities/rooms/controls_form.html"

    def room(self):
        room = self.get_object("change")
        if room.voided_at is not None:
            raise PermissionDenied
        return room

    def page(self, room, form, status=200):
        ctx = self.context(object=room, room=room, form=form, clause="3.1")
        return render(self.request, self.template_name, ctx, status=status)

    def get(self, request, pk):
        room = self.room()
        return self.page(room, ControlsForm(room))

    def post(self, request, pk):
        room = self.room()
        form = ControlsForm(room, request.POST)
        if form.is_valid():
            try:
                changed = rooms.save_controls(room, form.changes(), actor=request.user)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(
                    request,
                    _("已儲存控制措施（異動 %(n)d 項）。") % {"n": len(changed)},
                )
                return redirect(room.get_absolute_url())
        return self.page(room, form, status=400)


# Inspections (3.1–3.4) ---------------------------------------------------------------------------
def _inspection_label(inspection) -> str:
    return f"{inspection.room.name} · {roc.format_roc(inspection.inspected_on)}"


class InspectionFilterSet(FilterSet):
    search_fields = ("room__name", "note")
    room = df.ModelChoiceFilter(
        label=gettext_lazy("機房或電腦教室"), queryset=Room.objects.order_by("kind", "name")
    )
    kind = df.ChoiceFilter(
        label=gettext_lazy("類別"), choices=Kind.choices, field_name="room__kind"
    )
    inspector = df.ModelChoiceFilter(
        label=gettext_lazy("檢查人"),
        queryset=get_user_model()
        .objects.filter(groups__name__in=rooms.KEEPER_ROLES)
        .distinct()
        .order_by("username"),
    )
    failed = df.ChoiceFilter(
        label=gettext_lazy("檢查結果"),
        choices=[("yes", gettext_lazy("有不符合項目")), ("no", gettext_lazy("全部符合"))],
        method="filter_failed",
    )
    inspected_from = ROCDateFilter(
        label=gettext_lazy("檢查日期起"), field_name="inspected_on", lookup_expr="gte"
    )
    inspected_to = ROCDateFilter(
        label=gettext_lazy("檢查日期迄"), field_name="inspected_on", lookup_expr="lte"
    )

    class Meta:
        model = Inspection
        fields = ["room", "kind", "inspector", "failed", "inspected_from", "inspected_to"]

    def search(self, queryset, name, value):
        # The items' notes through a subquery: a join would multiply the failure count.
        value = value.strip()
        if not value:
            return queryset
        noted = InspectionItem.objects.filter(note__icontains=value).values("inspection")
        return queryset.filter(
            Q(room__name__icontains=value) | Q(note__icontains=value) | Q(pk__in=noted)
        )

    def filter_failed(self, queryset, name, value):
        failed = InspectionItem.objects.filter(result=Result.FAIL).values("inspection")
        if value == "yes":
            return queryset.filter(pk__in=failed)
        if value == "no":
            return queryset.exclude(pk__in=failed)
        return queryset


class RoomChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{_kind(obj.kind)}）"


class InspectionForm(ModelForm):
    """An inspection and its checklist: ``result_<control>`` and ``item_note_<control>``."""

    room = RoomChoiceField(label=gettext_lazy("機房或電腦教室"), queryset=Room.objects.none())
    inspector = UserChoiceField(
        label=gettext_lazy("檢查人"), queryset=get_user_model().objects.none()
    )

    class Meta(ModelForm.Meta):
        model = Inspection
        fields = ["room", "inspected_on", "inspector", "temperature_c", "humidity_pct", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "temperature_c": gettext_lazy("機房溫濕度顯示裝置上的讀數（條文 3.2），可留空。"),
            "note": gettext_lazy("整體情形；照片請於儲存後以附件上傳。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inspection = self.instance
        fields = self.fields
        room = inspection.room if inspection.room_id else None
        if inspection.pk is not None:
            fields["room"].queryset = Room.objects.filter(pk=inspection.room_id)
            fields["room"].disabled = True
            fields["room"].empty_label = None
        else:
            fields["room"].queryset = Room.objects.active().order_by("kind", "name")
            self.initial.setdefault("inspected_on", timezone.localdate())
            wanted = _query_pk(self.request, "room")
            if self.is_bound:
                wanted = self.data.get("room")
                wanted = int(wanted) if str(wanted).isdigit() and len(str(wanted)) < 19 else None
            elif wanted is not None:
                self.initial.setdefault("room", wanted)
            if wanted is not None:
                room = Room.objects.active().filter(pk=wanted).first()
            if self.request is not None and rooms.is_keeper(self.request.user):
                self.initial.setdefault("inspector", self.request.user.pk)
        fields["inspector"].queryset = keeper_choices(inspection.inspector_id)
        fields["inspector"].widget.attrs["class"] = "form-select"
        fields["room"].widget.attrs["class"] = "form-select"
        for name in ("temperature_c", "humidity_pct"):
            fields[name].widget.attrs["step"] = "0.1"
        if inspection.pk is not None:
            current = {i.control: (i.result, i.note) for i in inspection.items.all()}
        else:
            current = {c: (r, "") for c, r in rooms.default_results(room).items()} if room else {}
        self.room_states = (
            {rc.control: rc for rc in room.controls.all()} if room is not None else {}
        )
        for control in rooms.CONTROLS:
            result, note = current.get(control.value, ("", ""))
            fields[f"result_{control.value}"] = forms.ChoiceField(
                label=control.label,
                choices=Result.choices,
                required=False,
                widget=forms.RadioSelect,
                initial=result or None,
            )
            fields[f"item_note_{control.value}"] = forms.CharField(
                label=_("說明"),
                required=False,
                max_length=300,
                initial=note,
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
            )

    def checklist(self):
        """[(clause head, title, [row…])] for the template."""
        groups = {}
        for control in rooms.CONTROLS:
            clause = rooms.clause_of(control)
            rc = self.room_states.get(control.value)
            groups.setdefault(clause[:3], []).append(
                {
                    "control": control.value,
                    "label": control.label,
                    "clause": clause,
                    "result": self[f"result_{control.value}"],
                    "note": self[f"item_note_{control.value}"],
                    "room_state": rc.get_state_display() if rc else "",
                    "state": rc.state if rc else "",
                }
            )
        return [(head, rooms.CLAUSE_TITLES.get(head, ""), rows) for head, rows in groups.items()]

    def results(self) -> dict:
        data = self.cleaned_data
        out = {}
        for control in rooms.CONTROLS:
            result = data.get(f"result_{control.value}") or ""
            note = data.get(f"item_note_{control.value}") or ""
            if result or note:
                out[control.value] = (result, note)
        return out

    def save(self, commit=True):
        inspection = super().save(commit=False)
        try:
            return rooms.save_inspection(inspection, self.results(), actor=self.request.user)
        except ValidationError as error:
            raise ValidationError(checklist_errors(error.message_dict)) from None


def api_errors(error) -> serializers.ValidationError:
    """The service's ``items.<control>`` keys nested: ``{"items": {control: [...]}}``."""
    if not hasattr(error, "error_dict"):
        return service_errors(error)
    detail = {}
    for name, messages_ in error.message_dict.items():
        if name.startswith("items."):
            detail.setdefault("items", {})
            if isinstance(detail["items"], dict):
                detail["items"].setdefault(name[6:], []).extend(messages_)
            continue
        key = "non_field_errors" if name == "__all__" else name
        if key == "items" and isinstance(detail.get("items"), dict):
            detail["items"].setdefault("non_field_errors", []).extend(messages_)
            continue
        detail.setdefault(key, []).extend(messages_)
    return serializers.ValidationError(detail)


class ItemSerializer(serializers.Serializer):
    control = serializers.ChoiceField(label=gettext_lazy("控制措施"), choices=Control.choices)
    result = serializers.ChoiceField(label=gettext_lazy("檢查結果"), choices=Result.choices)
    note = serializers.CharField(
        label=gettext_lazy("說明"), required=False, allow_blank=True, max_length=300
    )


class InspectionSerializer(ModelSerializer):
    """An inspection with ``items: [{control, result, note}]`` (a result per control; a
    control the room marks 不適用 may be left out). On PATCH without ``items`` the results
    stay as they are."""

    id = serializers.IntegerField(read_only=True)
    inspector = serializers.PrimaryKeyRelatedField(
        label=gettext_lazy("檢查人"),
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
        help_text=gettext_lazy("省略時為登錄者。"),
    )
    items = ItemSerializer(many=True, required=False, label=gettext_lazy("檢查項目"))
    findings = serializers.SerializerMethodField(label=gettext_lazy("檢查缺失"))

    class Meta:
        model = Inspection
        fields = [
            "id",
            "room",
            "inspected_on",
            "inspector",
            "temperature_c",
            "humidity_pct",
            "note",
            "items",
            "findings",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = ["created_at", "updated_at", "voided_at"]

    def get_findings(self, obj) -> list[int]:
        return [f.pk for f in obj.findings.all()]

    def validate_room(self, room):
        if self.instance is not None and room.pk != self.instance.room_id:
            raise serializers.ValidationError(_("檢查紀錄的機房或電腦教室不能變更。"))
        return room

    def validate_items(self, items):
        seen = set()
        for entry in items:
            if entry["control"] in seen:
                raise serializers.ValidationError(_("同一項控制措施只能出現一次。"))
            seen.add(entry["control"])
        return items

    def _save(self, inspection, items):
        results = None
        if items is not None:
            results = {e["control"]: (e["result"], e.get("note", "")) for e in items}
        try:
            rooms.save_inspection(inspection, results, actor=self.context["request"].user)
        except ValidationError as error:
            raise api_errors(error) from None
        return Inspection.objects.prefetch_related("items", "findings").get(pk=inspection.pk)

    def create(self, validated_data):
        items = validated_data.pop("items", [])
        return self._save(Inspection(**validated_data), items)

    def update(self, instance, validated_data):
        items = validated_data.pop("items", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, items)


class InspectionRegister(Register):
    model = Inspection
    clause = "3.1"
    access = INSPECTION_ACCESS
    columns = [
        Column("inspected_on", gettext_lazy("檢查日期"), link=True),
        Column("room", gettext_lazy("機房或電腦教室"), accessor="room.name", sort="room__name"),
        Column("kind", gettext_lazy("類別"), accessor=lambda i: _kind(i.room.kind), sort=None),
        Column(
            "inspector",
            gettext_lazy("檢查人"),
            accessor=lambda i: i.inspector.display_name,
            sort="inspector__username",
        ),
        Column(
            "fail_count",
            gettext_lazy("不符合項目"),
            accessor=lambda i: i.fail_count,
            sort="fail_count",
        ),
        Column("temperature_c", gettext_lazy("溫度（°C）")),
        Column("humidity_pct", gettext_lazy("濕度（%RH）")),
        Column("note", gettext_lazy("檢查說明"), page=False),
        Column("created_at", gettext_lazy("建立時間"), page=False),
    ]
    filterset_class = InspectionFilterSet
    form_class = InspectionForm
    serializer_class = InspectionSerializer
    select_related = ("room", "inspector__person")
    prefetch_related = ("items", "findings")
    api_select_related = ()
    ordering = ("-inspected_on", "-id")
    route = "inspections"
    nav_group = NAV
    nav_label = gettext_lazy("機房檢查")
    detail_template = "facilities/rooms/inspection_detail.html"

    @classmethod
    def base_queryset(cls):
        qs = cls.model._default_manager.select_related(*cls.select_related)
        return with_fail_count(qs).order_by(*cls.ordering)

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return rooms.void_inspection(obj, actor=actor, reason=reason)


class InspectionFormMixin:
    template_name = "facilities/rooms/inspection_form.html"


class InspectionAdd(InspectionFormMixin, AddPage):
    pass


class InspectionEdit(InspectionFormMixin, EditPage):
    """A keeper corrects an inspection within ``rooms.EDIT_DAYS`` days of its entry."""

    def get(self, request, pk=None):
        inspection = self.get_instance()
        if not rooms.may_edit_inspection(request.user, inspection):
            messages.info(
                request,
                _("檢查紀錄只能在登錄後 %(days)d 天內修改；如有錯誤請作廢後重新登錄。")
                % {"days": rooms.EDIT_DAYS},
            )
            return redirect(inspection.get_absolute_url())
        return super().get(request, pk)


class InspectionDetail(DetailPage):
    register = InspectionRegister

    def get(self, request, pk, *, status=200, **extra):
        inspection = self.get_object("view")
        items = rooms.sorted_controls(inspection.items.all())
        findings = list(inspection.findings.select_related("assignee__person").order_by("id"))
        today = timezone.localdate()
        for f in findings:
            f.overdue = rooms.is_overdue(f, today)
        extra.update(
            inspection=inspection,
            heading=_inspection_label(inspection),
            items=[(i, rooms.clause_of(i.control)) for i in items],
            findings=findings,
            can_edit=rooms.may_edit_inspection(request.user, inspection),
            edit_days=rooms.EDIT_DAYS,
        )
        return super().get(request, pk, status=status, **extra)


# Findings ----------------------------------------------------------------------------------------
def _overdue_mark(finding) -> str:
    return str(_("逾期")) if rooms.is_overdue(finding) else ""


def _short(text, limit=40) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FindingFilterSet(FilterSet):
    search_fields = ("room__name", "description", "resolution")
    room = df.ModelChoiceFilter(
        label=gettext_lazy("機房或電腦教室"), queryset=Room.objects.order_by("kind", "name")
    )
    overdue = df.ChoiceFilter(
        label=gettext_lazy("逾期"),
        choices=[("yes", gettext_lazy("逾期未改善")), ("no", gettext_lazy("未逾期"))],
        method="filter_overdue",
    )
    assignee = df.ModelChoiceFilter(
        label=gettext_lazy("改善負責人"),
        queryset=get_user_model()
        .objects.filter(groups__name__in=rooms.KEEPER_ROLES)
        .distinct()
        .order_by("username"),
    )

    class Meta:
        model = Finding
        fields = ["status", "room", "control", "assignee", "overdue"]

    def filter_overdue(self, queryset, name, value):
        late = Q(status=Status.OPEN, voided_at__isnull=True, due_on__lt=timezone.localdate())
        if value == "yes":
            return queryset.filter(late)
        if value == "no":
            return queryset.exclude(late)
        return queryset


class FindingForm(ModelForm):
    """A keeper's change of an open finding: description, assignee, due date."""

    assignee = UserChoiceField(
        label=gettext_lazy("改善負責人"), queryset=get_user_model().objects.none()
    )

    class Meta(ModelForm.Meta):
        model = Finding
        fields = ["description", "assignee", "due_on"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"due_on": gettext_lazy("不可早於檢查日期。")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = keeper_choices(self.instance.assignee_id)
        self.fields["assignee"].widget.attrs["class"] = "form-select"

    def save(self, commit=True):
        finding = super().save(commit=False)
        return rooms.save_finding(finding, actor=self.request.user)


class FindingResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(
        label=gettext_lazy("改善情形"), max_length=rooms.RESOLUTION_LIMIT
    )
    mark_present = serializers.BooleanField(
        label=gettext_lazy("同時將此控制措施設為已設置"), required=False, default=False
    )


class FindingSerializer(ModelSerializer):
    """A finding; only its description, assignee and due date change here (an open one)."""

    id = serializers.IntegerField(read_only=True)
    overdue = serializers.SerializerMethodField(label=gettext_lazy("逾期"))

    class Meta:
        model = Finding
        fields = [
            "id",
            "room",
            "inspection",
            "control",
            "description",
            "assignee",
            "due_on",
            "status",
            "overdue",
            "resolution",
            "resolved_at",
            "resolved_by",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = [
            "room",
            "inspection",
            "control",
            "status",
            "resolution",
            "resolved_at",
            "resolved_by",
            "created_at",
            "updated_at",
            "voided_at",
        ]

    def get_overdue(self, obj) -> bool:
        return rooms.is_overdue(obj)

    def create(self, validated_data):
        raise exceptions.MethodNotAllowed("POST")

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            return rooms.save_finding(instance, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None


class FindingViewSet(RegisterViewSet):
    """Findings; ``POST …/{id}/resolve/`` records the resolution (a keeper or the assignee)."""

    def create(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed("POST")

    def matrix_action(self, request):
        if self.action == "resolve":
            return "view"  # who may resolve is the service's rule (a keeper or the assignee)
        return super().matrix_action(request)

    @extend_schema(request=FindingResolveSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        finding = self.get_object()
        data = FindingResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            rooms.resolve_finding(
                finding,
                actor=request.user,
                resolution=data.validated_data["resolution"],
                mark_present=data.validated_data.get("mark_present", False),
            )
        except ValidationError as error:
            raise service_errors(error) from None
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied() from exc
        finding.refresh_from_db()
        return Response(self.get_serializer(finding).data)


class FindingList(ListPage):
    def context(self, **extra):
        ctx = super().context(**extra)
        ctx["can_add"] = False
        return ctx


class FindingRegister(Register):
    model = Finding
    clause = "3.1"
    access = FINDING_ACCESS
    columns = [
        Column(
            "control",
            gettext_lazy("控制措施"),
            accessor=lambda f: _control(f.control),
            sort="control",
            link=True,
        ),
        Column("room", gettext_lazy("機房或電腦教室"), accessor="room.name", sort="room__name"),
        Column(
            "inspected_on",
            gettext_lazy("檢查日期"),
            accessor=lambda f: f.inspection.inspected_on,
            sort="inspection__inspected_on",
        ),
        Column(
            "description_short",
            gettext_lazy("缺失說明"),
            accessor=lambda f: _short(f.description),
            sort=None,
            export=False,
        ),
        Column("description", gettext_lazy("缺失說明"), page=False),
        Column(
            "assignee",
            gettext_lazy("改善負責人"),
            accessor=lambda f: f.assignee.display_name,
            sort="assignee__username",
        ),
        Column("due_on", gettext_lazy("改善期限")),
        Column("status", gettext_lazy("狀態"), accessor=lambda f: _status(f.status), sort="status"),
        Column("overdue", gettext_lazy("逾期"), accessor=_overdue_mark, sort=None),
        Column("resolved_at", gettext_lazy("改善完成時間")),
        Column("resolution", gettext_lazy("改善情形"), page=False),
        Column(
            "resolved_by",
            gettext_lazy("改善登錄者"),
            accessor=lambda f: f.resolved_by.display_name if f.resolved_by_id else "",
            sort=None,
            page=False,
        ),
    ]
    filterset_class = FindingFilterSet
    form_class = FindingForm
    serializer_class = FindingSerializer
    viewset_base = FindingViewSet
    select_related = ("room", "inspection", "assignee__person", "resolved_by__person")
    serializer_reads_related = False
    ordering = ("-status", "due_on", "id")
    route = "findings"
    nav_group = NAV
    nav_label = gettext_lazy("檢查缺失")
    detail_template = "facilities/rooms/finding_detail.html"

    @classmethod
    def urls(cls):
        # Findings come from inspections: no add page (nor its button, for a superuser too).
        names = {f"{cls.prefix()}_add", f"{cls.prefix()}_list"}
        patterns = [p for p in super().urls() if p.name not in names]
        view = type("FindingListPage", (FindingList,), {"register": cls}).as_view()
        patterns.insert(0, path(f"{cls.route}/", view, name=f"{cls.prefix()}_list"))
        return patterns

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return rooms.void_finding(obj, actor=actor, reason=reason)


class FindingEdit(EditPage):
    template_name = "facilities/rooms/finding_form.html"

    def get(self, request, pk=None):
        finding = self.get_instance()
        if not rooms.may_edit_finding(request.user, finding):
            messages.info(request, _("已改善或已作廢的缺失不能修改。"))
            return redirect(finding.get_absolute_url())
        return super().get(request, pk)


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        label=gettext_lazy("改善情形"),
        max_length=rooms.RESOLUTION_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        help_text=gettext_lazy("做了什麼、何時完成；改善後的照片可上傳為附件。"),
        error_messages={"required": gettext_lazy("請填寫改善情形（做了什麼、何時完成）。")},
    )
    mark_present = forms.BooleanField(
        label=gettext_lazy("同時將此控制措施設為已設置"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class FindingDetail(DetailPage):
    register = FindingRegister

    def get(self, request, pk, *, status=200, **extra):
        finding = self.get_object("view")
        user = request.user
        control = RoomControl.objects.filter(room=finding.room, control=finding.control).first()
        extra.setdefault("resolve_form", ResolveForm())
        extra.update(
            finding=finding,
            heading=f"{finding.room.name} · {finding.get_control_display()}",
            clause_of_control=rooms.clause_of(finding.control),
            room_control=control,
            overdue=rooms.is_overdue(finding),
            can_resolve=rooms.may_resolve(user, finding) and can(user, "change", RESOLVE_ACCESS),
            can_edit=rooms.may_edit_finding(user, finding),
            offer_present=control is not None
            and control.state != State.PRESENT
            and finding.room.voided_at is None,
        )
        return super().get(request, pk, status=status, **extra)


class FindingResolveView(DetailAction, FindingDetail):
    """登錄改善情形: a refused resolution shows the finding again with the reason (400)."""

    access = RESOLVE_ACCESS
    form_class = ResolveForm
    form_context = "resolve_form"

    def perform(self, finding, form, user):
        rooms.resolve_finding(
            finding,
            actor=user,
            resolution=form.cleaned_data["resolution"],
            mark_present=form.cleaned_data["mark_present"],
        )

    def success_message(self, finding):
        return _("已登錄改善情形。")


RoomRegister.add_view = RoomAdd
RoomRegister.edit_view = RoomEdit
RoomRegister.detail_view = RoomDetail
InspectionRegister.add_view = InspectionAdd
InspectionRegister.edit_view = InspectionEdit
InspectionRegister.detail_view = InspectionDetail
FindingRegister.edit_view = FindingEdit
FindingRegister.detail_view = FindingDetail


urlpatterns = [
    path("rooms/<int:pk>/controls/", RoomControlsView.as_view(), name="room_controls"),
    path("findings/<int:pk>/resolve/", FindingResolveView.as_view(), name="finding_resolve"),
    *RoomRegister.urls(),
    *InspectionRegister.urls(),
    *FindingRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [
    (RoomRegister, "rooms"),
    (InspectionRegister, "room-inspections"),
    (FindingRegister, "room-findings"),
]
