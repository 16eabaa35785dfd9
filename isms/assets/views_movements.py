"""Equipment movement pages (設備進出紀錄表, A-7; clause 3.6) and outside repairs (7.9).

Who sees what (``movements.movement_scope``): the office (security officer, supervisor,
principal), the 設備組長 and system administrators see every movement; everyone else with
a role sees the movements they borrow or filed, and files their own requests. A movement
outside one's scope is a 404. The steps (authorise or refuse; check out; return) are
small forms on the movement's page, each posted to its own URL with its own access.

Outside repairs are a plain register: the 設備組長 and system administrators keep it, the
office reads it.
"""

import contextlib
import datetime as dt

import django_filters as df
from django import forms as djforms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, serializers

from isms.audit.models import AuditEntry
from isms.core import roc
from isms.core.access import Access, can, restrict, user_roles
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import add_service_errors
from isms.core.generic import AddPage, DetailPage, ListPage, RegisterView
from isms.core.models import Person, SchoolProfile
from isms.core.registers import Column, Register, nav_link
from isms.core.restapi import ModelSerializer, RegisterViewSet, service_errors
from isms.core.roles import ALL_ROLES, SECURITY_OFFICER

from . import forms_movements as forms
from . import movements
from .models import Asset, EquipmentMovement, RepairVisit
from .nav import NAV

Status = EquipmentMovement.Status

MOVEMENT_ACCESS = Access(
    view=ALL_ROLES,
    add=ALL_ROLES,
    void=movements.HANDLERS | {SECURITY_OFFICER},
    export=movements.READERS,
    scope=movements.movement_scope,
)
# The steps: who authorises, who hands over and receives back (all of them read everything).
AUTHORISE_ACCESS = Access(view=movements.READERS, change=movements.AUTHORISERS)
HANDLE_ACCESS = Access(view=movements.READERS, change=movements.HANDLERS)
REPAIR_ACCESS = Access(
    view=movements.REPAIR_READERS,
    add=movements.REPAIR_WRITERS,
    change=movements.REPAIR_WRITERS,
    void=movements.REPAIR_WRITERS,
)
# The 設備進出紀錄表 is a log: a print of many movements goes on over pages, up to this.
PRINT_LIMIT = 500
# Rows of a printed log, filled or blank, as on a paper sheet.
PAPER_ROWS = 10


def _name(user) -> str:
    return user.display_name if user is not None else ""


def _overdue(movement) -> str:
    days = movements.overdue_days(movement)
    return _("逾期 %(n)d 天") % {"n": days} if days else ""


def _lazy_choices(queryset):
    """Choices read only when a form is drawn (an API call never reads them)."""
    return djforms.ModelChoiceField(queryset=queryset).choices


# Movements ---------------------------------------------------------------------------------------
class EquipmentMovementFilterSet(FilterSet):
    search_fields = (
        "number",
        "asset__property_number",
        "asset__name",
        "borrower__name",
        "destination",
        "reason",
    )
    overdue = df.ChoiceFilter(
        label=gettext_lazy("逾期"),
        choices=[("1", gettext_lazy("逾期未歸還"))],
        method="filter_overdue",
    )
    asset = df.ModelChoiceFilter(label=gettext_lazy("設備"), queryset=Asset.objects.all())
    borrower = df.ModelChoiceFilter(label=gettext_lazy("攜出人"), queryset=Person.objects.all())
    out_from = ROCDateFilter(
        label=gettext_lazy("攜出日期起"), field_name="out_on", lookup_expr="gte"
    )
    out_to = ROCDateFilter(label=gettext_lazy("攜出日期迄"), field_name="out_on", lookup_expr="lte")

    class Meta:
        model = EquipmentMovement
        fields = ["status", "overdue", "asset", "borrower"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any asset or person is accepted (?asset=<pk> from an asset's page); the lists
        # offer those of the movements this person may see.
        user = getattr(self.request, "user", None)
        visible = EquipmentMovement.objects.all()
        if user is not None:
            visible = restrict(visible, user, "view", MOVEMENT_ACCESS)
        fields = self.form.fields
        fields["asset"].widget.choices = _lazy_choices(
            Asset.objects.filter(pk__in=visible.values("asset_id")).order_by(
                "property_number", "name"
            )
        )
        fields["borrower"].widget.choices = _lazy_choices(
            Person.objects.filter(pk__in=visible.values("borrower_id")).order_by("name")
        )

    def filter_overdue(self, queryset, name, value):
        return queryset.filter(movements.overdue_filter()) if value == "1" else queryset


class EquipmentMovementSerializer(ModelSerializer):
    """A movement; created through the same rules as the page (a teacher's token files
    the teacher's own request)."""

    repair = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        label=gettext_lazy("送修"),
        help_text=gettext_lazy("設備送出維修（事由會以「送修：」開頭）。"),
    )
    overdue_days = serializers.SerializerMethodField(label=gettext_lazy("逾期天數"))

    class Meta:
        model = EquipmentMovement
        fields = [
            "id",
            "number",
            "asset",
            "borrower",
            "reason",
            "destination",
            "out_on",
            "due_on",
            "status",
            "requested_by",
            "authorised_by",
            "authorised_at",
            "decision_note",
            "checked_out_by",
            "checked_out_at",
            "returned_at",
            "received_by",
            "return_condition",
            "overdue_days",
            "created_at",
            "voided_at",
            "repair",
        ]
        read_only_fields = [
            "number",
            "status",
            "requested_by",
            "authorised_by",
            "authorised_at",
            "decision_note",
            "checked_out_by",
            "checked_out_at",
            "returned_at",
            "received_by",
            "return_condition",
            "created_at",
            "voided_at",
        ]
        extra_kwargs = {"borrower": {"required": False, "allow_null": True}}

    def get_overdue_days(self, obj) -> int:
        return movements.overdue_days(obj)

    def create(self, validated_data):
        try:
            return movements.file_movement(
                actor=self.context["request"].user,
                asset=validated_data.get("asset"),
                borrower=validated_data.get("borrower"),
                reason=validated_data.get("reason", ""),
                destination=validated_data.get("destination", ""),
                out_on=validated_data.get("out_on"),
                due_on=validated_data.get("due_on"),
                repair=validated_data.get("repair", False),
            )
        except DjangoValidationError as error:
            raise service_errors(error) from None


class EquipmentMovementViewSet(RegisterViewSet):
    """List, read and file movements; the steps stay on the pages."""

    def update(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method)


class EquipmentMovementRegister(Register):
    model = EquipmentMovement
    clause = "3.6"
    access = MOVEMENT_ACCESS
    columns = [
        Column("number", gettext_lazy("編號"), link=True),
        Column("out_on", gettext_lazy("攜出日期")),
        Column(
            "property_number",
            gettext_lazy("財產編號"),
            accessor="asset.property_number",
            sort="asset__property_number",
        ),
        Column("asset", gettext_lazy("設備名稱"), accessor="asset.name", sort="asset__name"),
        Column("borrower", gettext_lazy("攜出人"), accessor="borrower.name", sort="borrower__name"),
        Column("destination", gettext_lazy("攜往地點")),
        Column("due_on", gettext_lazy("預定歸還日期")),
        Column("status", gettext_lazy("狀態")),
        Column("overdue", gettext_lazy("逾期"), accessor=_overdue, sort=None),
        Column("reason", gettext_lazy("攜出事由"), page=False),
        Column(
            "requested_by",
            gettext_lazy("登記人"),
            accessor=lambda m: _name(m.requested_by),
            sort=None,
            page=False,
        ),
        Column(
            "authorised_by",
            gettext_lazy("核准人"),
            accessor=lambda m: _name(m.authorised_by),
            sort=None,
            page=False,
        ),
        Column("authorised_at", gettext_lazy("核准時間"), page=False),
        Column("decision_note", gettext_lazy("核准說明"), page=False),
        Column("checked_out_at", gettext_lazy("攜出時間"), page=False),
        Column(
            "checked_out_by",
            gettext_lazy("點交人"),
            accessor=lambda m: _name(m.checked_out_by),
            sort=None,
            page=False,
        ),
        Column("returned_at", gettext_lazy("歸還時間"), page=False),
        Column("return_condition", gettext_lazy("歸還狀況"), page=False),
        Column(
            "received_by",
            gettext_lazy("點收人"),
            accessor=lambda m: _name(m.received_by),
            sort=None,
            page=False,
        ),
    ]
    filterset_class = EquipmentMovementFilterSet
    form_class = forms.MovementForm
    serializer_class = EquipmentMovementSerializer
    viewset_base = EquipmentMovementViewSet
    serializer_reads_related = False
    select_related = (
        "asset",
        "borrower",
        "requested_by__person",
        "authorised_by__person",
        "checked_out_by__person",
        "received_by__person",
    )
    ordering = ("-out_on", "-id")
    route = "movements"
    nav_group = NAV
    nav_label = gettext_lazy("設備進出紀錄（A-7）")


class MovementList(ListPage):
    """The register's list, with the overdue count and the print of the log."""

    register = EquipmentMovementRegister
    template_name = "assets/movements/list.html"

    def extra_context(self) -> dict:
        scoped = self.scoped("view")
        return {"overdue_count": scoped.filter(movements.overdue_filter()).count()}


class MovementAdd(RegisterView):
    """File a request: for oneself, or (設備組長, system administrators, security officer)
    for anyone. ``?asset=<pk>`` names the asset (the link on an asset's page); ``repair=1``,
    ``reason``, ``destination``, ``borrower`` and ``out_on`` prefill the rest."""

    register = EquipmentMovementRegister
    action = "add"
    template_name = "assets/movements/form.html"

    def render_form(self, form, status=200):
        asset = None
        if (pk := forms._pk(form["asset"].value())) is not None:
            asset = Asset.objects.filter(pk=pk).first()
        return render(
            self.request,
            self.template_name,
            self.context(form=form, asset=asset, max_days=movements.max_days()),
            status=status,
        )

    def get(self, request):
        query = request.GET
        initial = {"out_on": timezone.localdate()}
        if (pk := forms._pk(query.get("asset"))) is not None:
            asset = Asset.objects.active().filter(pk=pk).first()
            if asset is not None:
                initial["asset"] = asset.pk
        for name in ("reason", "destination"):
            if query.get(name):
                initial[name] = query[name].strip()[:300]
        if query.get("repair") == "1":
            initial["repair"] = True
        if (pk := forms._pk(query.get("borrower"))) is not None:
            initial["borrower"] = pk
        elif request.user.person_id:
            initial["borrower"] = request.user.person_id  # for those who may name another
        if query.get("out_on"):
            with contextlib.suppress(ValueError):
                initial["out_on"] = max(roc.parse_roc_date(query["out_on"]), timezone.localdate())
        return self.render_form(forms.MovementForm(initial=initial, request=request))

    def post(self, request):
        form = forms.MovementForm(request.POST, request=request)
        if form.is_valid():
            data = form.cleaned_data
            try:
                movement = movements.file_movement(
                    actor=request.user,
                    asset=data.get("asset"),
                    borrower=data.get("borrower") if form.for_others else None,
                    reason=data.get("reason", ""),
                    destination=data.get("destination", ""),
                    out_on=data.get("out_on"),
                    due_on=data.get("due_on"),
                    repair=data.get("repair", False),
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request,
                    _("已送出設備攜出申請 %(number)s，核准後請向設備組長辦理點交。")
                    % {"number": movement.number},
                )
                return redirect(movement.get_absolute_url())
        return self.render_form(form, status=400)


class MovementEdit(RegisterView):
    """A filed request is not edited: it is refused, or voided and filed again."""

    register = EquipmentMovementRegister
    action = "change"

    def get(self, request, pk):
        movement = self.get_object("view")
        messages.info(request, _("設備進出紀錄送出後不可修改；如有錯誤請作廢後重新申請。"))
        return redirect(movement.get_absolute_url())

    post = get


def timeline(movement) -> list[tuple]:
    """Each step with when, who, what and a note: filed, decided, out, back, voided."""
    m = movement
    steps = [
        (
            m.created_at,
            _name(m.requested_by),
            _("送出申請"),
            ""
            if m.requested_by.person_id == m.borrower_id
            else _("代 %(who)s 申請") % {"who": m.borrower.name},
        )
    ]
    if m.authorised_at is not None:
        what = _("不核准") if m.status == Status.REFUSED else _("核准")
        steps.append((m.authorised_at, _name(m.authorised_by), what, m.decision_note))
    if m.checked_out_at is not None:
        steps.append((m.checked_out_at, _name(m.checked_out_by), _("點交（攜出）"), ""))
    if m.returned_at is not None:
        steps.append((m.returned_at, _name(m.received_by), _("點收（歸還）"), m.return_condition))
    if m.voided_at is not None:
        steps.append((m.voided_at, _name(m.voided_by), _("作廢"), m.void_reason))
    return sorted(steps, key=lambda s: s[0])


def _asset_url(asset) -> str:
    try:
        return asset.get_absolute_url()
    except NoReverseMatch:  # the asset pages are not there (a partial install)
        return ""


def _now():
    return timezone.localtime().replace(second=0, microsecond=0)


class MovementDetail(RegisterView):
    """A movement with its steps so far and the forms of the next step for who may take it."""

    register = EquipmentMovementRegister
    template_name = "assets/movements/detail.html"

    def get(self, request, pk):
        return self.render_detail()

    def render_detail(self, status=200, **bound):
        movement = self.get_object("view")
        user = self.request.user
        live = movement.voided_at is None
        borrower = movements.is_borrower(user, movement)
        may_authorise = live and movement.status == Status.REQUESTED
        may_authorise = may_authorise and movements.may_authorise(user)
        may_handle = live and movements.may_handle(user)
        history = None
        if user.is_superuser or user_roles(user) & movements.READERS:
            history = list(
                AuditEntry.objects.filter(
                    model_label=EquipmentMovement._meta.label_lower, object_id=str(movement.pk)
                )
                .select_related("actor")
                .order_by("-timestamp", "-id")[:20]
            )
        can_authorise = may_authorise and not borrower
        can_check_out = may_handle and movement.status == Status.AUTHORISED and not borrower
        can_return = may_handle and movement.status == Status.OUT and not borrower
        shown = {
            "authorise_form": can_authorise,
            "refuse_form": can_authorise,
            "checkout_form": can_check_out,
            "return_form": can_return,
        }
        refused = []  # why a posted step was refused, above the page
        for name, form in bound.items():
            refused += list(form.non_field_errors())
            if not shown.get(name):  # its form is not on the page any more: say it here
                refused += [
                    e for field, errs in form.errors.items() if field != "__all__" for e in errs
                ]
        ctx = self.context(
            object=movement,
            m=movement,
            refused=refused,
            asset_url=_asset_url(movement.asset) if history is not None else "",
            overdue=movements.overdue_days(movement),
            repair=movements.for_repair(movement),
            timeline=timeline(movement),
            history=history,
            can_list=can(user, "view", self.register.access),
            can_authorise=can_authorise,
            can_check_out=can_check_out,
            can_return=can_return,
            own_step=borrower
            and (
                may_authorise or (may_handle and movement.status in (Status.AUTHORISED, Status.OUT))
            ),
            authorise_form=bound.get("authorise_form") or forms.NoteForm(),
            refuse_form=bound.get("refuse_form") or forms.RefuseForm(),
            checkout_form=bound.get("checkout_form")
            or forms.CheckOutForm(initial={"checked_out_at": _now()}),
            return_form=bound.get("return_form")
            or forms.ReturnForm(initial={"returned_at": _now()}),
        )
        return render(self.request, self.template_name, ctx, status=status)


class MovementStep(MovementDetail):
    """One step posted from the movement's page; refused, the page shows again (400)."""

    access = HANDLE_ACCESS
    action = "change"
    form_class = None
    form_name = ""
    http_method_names = ["get", "post"]

    def get(self, request, pk):
        return redirect(self.get_object("view").get_absolute_url())

    def post(self, request, pk):
        movement = self.get_object("view")
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                message = self.perform(movement, form.cleaned_data, request.user)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, message)
                return redirect(movement.get_absolute_url())
        return self.render_detail(status=400, **{self.form_name: form})

    def perform(self, movement, data, actor) -> str:
        raise NotImplementedError


class AuthoriseView(MovementStep):
    access = AUTHORISE_ACCESS
    form_class = forms.NoteForm
    form_name = "authorise_form"

    def perform(self, movement, data, actor):
        movements.authorise(movement, actor=actor, note=data.get("note", ""))
        return _("已核准 %(number)s。") % {"number": movement.number}


class RefuseView(MovementStep):
    access = AUTHORISE_ACCESS
    form_class = forms.RefuseForm
    form_name = "refuse_form"

    def perform(self, movement, data, actor):
        movements.refuse(movement, actor=actor, note=data.get("note", ""))
        return _("已不核准 %(number)s。") % {"number": movement.number}


class CheckOutView(MovementStep):
    form_class = forms.CheckOutForm
    form_name = "checkout_form"

    def perform(self, movement, data, actor):
        movements.check_out(movement, actor=actor, at=data["checked_out_at"])
        return _("已點交 %(number)s，設備已攜出。") % {"number": movement.number}


class ReturnView(MovementStep):
    form_class = forms.ReturnForm
    form_name = "return_form"

    def perform(self, movement, data, actor):
        movements.return_movement(
            movement, actor=actor, at=data["returned_at"], condition=data.get("return_condition")
        )
        return _("已點收 %(number)s，設備已歸還。") % {"number": movement.number}


EquipmentMovementRegister.add_view = MovementAdd
EquipmentMovementRegister.edit_view = MovementEdit
EquipmentMovementRegister.detail_view = MovementDetail


# The paper form (設備進出紀錄表, A-7) ---------------------------------------------------------
def _print(request, rows, *, period=None, more=False, errors=None, status=200):
    from isms.compliance.models import PolicyRevision

    school = SchoolProfile.load()
    return render(
        request,
        "assets/movements/print.html",
        {
            "rows": rows,
            "blank_rows": range(max(0, PAPER_ROWS - len(rows))),
            "period": period,
            "more": more,
            "limit": PRINT_LIMIT,
            "errors": errors,
            "school": school,
            "school_profile": school,  # the layout's, so that it is read once
            "policy_version": PolicyRevision.current(),
            "now": timezone.now(),
        },
        status=status,
    )


class MovementPrint(RegisterView):
    """One movement on the 設備進出紀錄表 (A-7), as its line of the log."""

    register = EquipmentMovementRegister

    def get(self, request, pk):
        return _print(request, [self.get_object("view")])


def _month(today: dt.date) -> tuple[dt.date, dt.date]:
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return first, last


class MovementLogPrint(RegisterView):
    """The log for a range of 攜出日期 (this month unless given) under the list's filters;
    refused requests are left out unless asked for by status."""

    register = EquipmentMovementRegister

    def get(self, request):
        data = request.GET.copy()
        if not data.get("out_from") and not data.get("out_to"):
            first, last = _month(timezone.localdate())
            data["out_from"], data["out_to"] = roc.format_roc(first), roc.format_roc(last)
        filterset = EquipmentMovementFilterSet(
            data, queryset=self.scoped("view").filter(voided_at__isnull=True), request=request
        )
        if not filterset.is_valid():
            errors = [e for field_errors in filterset.errors.values() for e in field_errors]
            return _print(request, [], errors=errors, status=400)
        qs = filterset.qs
        if not data.get("status"):
            qs = qs.exclude(status=Status.REFUSED)
        rows = list(qs.order_by("out_on", "id")[: PRINT_LIMIT + 1])
        period = (
            filterset.form.cleaned_data.get("out_from"),
            filterset.form.cleaned_data.get("out_to"),
        )
        return _print(request, rows[:PRINT_LIMIT], period=period, more=len(rows) > PRINT_LIMIT)


# Outside repairs (7.9) ---------------------------------------------------------------------------
class RepairVisitFilterSet(FilterSet):
    search_fields = ("asset__property_number", "asset__name", "party", "work", "present__name")
    visited_from = ROCDateFilter(
        label=gettext_lazy("日期起"), field_name="visited_on", lookup_expr="gte"
    )
    visited_to = ROCDateFilter(
        label=gettext_lazy("日期迄"), field_name="visited_on", lookup_expr="lte"
    )
    personal_data = df.BooleanFilter(
        label=gettext_lazy("存有個人資料"), field_name="asset__stores_personal_data"
    )
    asset = df.ModelChoiceFilter(label=gettext_lazy("設備"), queryset=Asset.objects.all())

    class Meta:
        model = RepairVisit
        fields = ["offsite", "personal_data", "asset"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any asset is accepted (?asset=<pk> from an asset's page); those repaired are offered.
        self.form.fields["asset"].widget.choices = _lazy_choices(
            Asset.objects.filter(pk__in=RepairVisit.objects.values("asset_id")).order_by(
                "property_number", "name"
            )
        )


class RepairVisitSerializer(ModelSerializer):
    """An outside repair; written through the same rules as the page (7.9)."""

    class Meta:
        model = RepairVisit
        fields = [
            "id",
            "asset",
            "visited_on",
            "party",
            "work",
            "offsite",
            "present",
            "data_protection",
            "recorded_by",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = ["recorded_by", "created_at", "updated_at", "voided_at"]

    def _save(self, visit):
        try:
            return movements.save_repair(visit, actor=self.context["request"].user)
        except DjangoValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(RepairVisit(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class RepairAdd(AddPage):
    """Record an outside repair; ``?asset=<pk>`` names the asset (from its page)."""

    def make_form(self, instance, data=None, files=None):
        initial = {"visited_on": timezone.localdate()}
        pk = forms._pk(self.request.GET.get("asset"))
        if data is None and pk is not None:
            initial["asset"] = pk
        return forms.RepairVisitForm(
            data=data, files=files, instance=instance, initial=initial, request=self.request
        )


class RepairVisitRegister(Register):
    model = RepairVisit
    clause = "7.9"
    access = REPAIR_ACCESS
    columns = [
        Column("visited_on", gettext_lazy("日期"), link=True),
        Column(
            "property_number",
            gettext_lazy("財產編號"),
            accessor="asset.property_number",
            sort="asset__property_number",
        ),
        Column("asset", gettext_lazy("設備名稱"), accessor="asset.name", sort="asset__name"),
        Column(
            "personal_data",
            gettext_lazy("存有個人資料"),
            accessor="asset.stores_personal_data",
            sort=None,
        ),
        Column("party", gettext_lazy("維修廠商或人員")),
        Column("work", gettext_lazy("維修或更新內容")),
        Column("offsite", gettext_lazy("送外維修")),
        Column("present", gettext_lazy("在場人員"), accessor="present.name", sort="present__name"),
        Column("data_protection", gettext_lazy("資料保護措施"), page=False),
        Column(
            "recorded_by",
            gettext_lazy("登記人"),
            accessor=lambda v: _name(v.recorded_by),
            sort=None,
            page=False,
        ),
    ]
    filterset_class = RepairVisitFilterSet
    form_class = forms.RepairVisitForm
    serializer_class = RepairVisitSerializer
    serializer_reads_related = False
    select_related = ("asset", "present", "recorded_by__person")
    ordering = ("-visited_on", "-id")
    route = "repairs"
    nav_group = NAV
    nav_label = gettext_lazy("外部維修紀錄")
    detail_template = "assets/movements/repair_detail.html"
    add_view = RepairAdd


class RepairDetail(DetailPage):
    """An outside repair; an off-site one links to filing its A-7 movement."""

    register = RepairVisitRegister

    def get(self, request, pk, *, status=200, **extra):
        visit = self.get_object("view")
        filed = (
            EquipmentMovement.objects.active()
            .filter(asset_id=visit.asset_id, reason__startswith=movements.REPAIR_MARK)
            .filter(due_on__gte=visit.visited_on)
            .order_by("out_on", "id")
        )
        extra.setdefault("repair_movements", list(filed[:5]))
        extra.setdefault(
            "can_file_movement", can(request.user, "add", EquipmentMovementRegister.access)
        )
        return super().get(request, pk, status=status, **extra)


RepairVisitRegister.detail_view = RepairDetail


nav_link(NAV, gettext_lazy("申請攜出設備"), "assets:equipmentmovement_add", MOVEMENT_ACCESS)


def _without_list(patterns):
    return [p for p in patterns if p.name != "equipmentmovement_list"]


urlpatterns = [
    path("movements/", MovementList.as_view(), name="equipmentmovement_list"),
    path("movements/print/", MovementLogPrint.as_view(), name="equipmentmovement_log_print"),
    path("movements/<int:pk>/print/", MovementPrint.as_view(), name="equipmentmovement_print"),
    path(
        "movements/<int:pk>/authorise/",
        AuthoriseView.as_view(),
        name="equipmentmovement_authorise",
    ),
    path("movements/<int:pk>/refuse/", RefuseView.as_view(), name="equipmentmovement_refuse"),
    path(
        "movements/<int:pk>/check-out/",
        CheckOutView.as_view(),
        name="equipmentmovement_check_out",
    ),
    path("movements/<int:pk>/return/", ReturnView.as_view(), name="equipmentmovement_return"),
    *_without_list(EquipmentMovementRegister.urls()),
    *RepairVisitRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [
    (EquipmentMovementRegister, "equipment-movements"),
    (RepairVisitRegister, "repair-visits"),
]


def _movement_void_error(cls, movement) -> str | None:
    return movements.void_error(movement)


EquipmentMovementRegister.void_error = classmethod(_movement_void_error)
