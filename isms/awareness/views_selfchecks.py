"""Pages of the offices' semester self-checks (辦公室自主檢查; clauses 2.3, 7.5, 7.7).

* 自主檢查項目 (``/api/self-check-items/``): the checklist, kept by the security officer;
  removing an item a check used retires it instead.
* 自主檢查填表人 (``/api/office-heads/``): which login fills each unit's check.
* 辦公室自主檢查 (``/api/self-checks/``): the unit's head fills the unit's check of the
  semester (the officer may fill any unit's); managers read all, a head their units';
  the 改善情形 of a failed item is recorded on the check's page (and
  ``POST /api/self-checks/<id>/resolve/``). The rules are ``selfchecks``'.
"""

import django_filters as df
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from isms.core.access import Access
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm, checklist_errors
from isms.core.generic import AddPage, DeletePage, DetailAction, DetailPage, EditPage
from isms.core.models import Unit
from isms.core.registers import Column, Register
from isms.core.restapi import ModelSerializer, RegisterViewSet, service_errors
from isms.core.roles import ALL_ROLES, MANAGERS, SECURITY_OFFICER

from . import selfchecks
from .models import OfficeHead, SelfCheck, SelfCheckItem, SelfCheckResult
from .nav import NAV

OFFICER = frozenset({SECURITY_OFFICER})
ITEM_ACCESS = Access(view=MANAGERS, add=OFFICER, change=OFFICER, delete=OFFICER)
HEAD_ACCESS = Access(view=MANAGERS, add=OFFICER, change=OFFICER, delete=OFFICER)
# Anyone may be a unit's head (any role): the scope and the service narrow it to the
# units they head; the managers read every check, the officer writes any.
CHECK_ACCESS = Access(
    view=ALL_ROLES,
    add=ALL_ROLES,
    change=ALL_ROLES,
    void=OFFICER,
    export=MANAGERS,
    scope=selfchecks.scope,
)
RESOLVE_ACCESS = CHECK_ACCESS


def _without(patterns, *names):
    return [p for p in patterns if p.name not in names]


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.display_name}（{obj.username}）"


# Checklist items -------------------------------------------------------------------------------
class SelfCheckItemForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = SelfCheckItem
        fields = ["text", "clause", "order", "active"]
        help_texts = {
            "clause": gettext_lazy("對應的條文，例如 2.3.1、7.5。"),
            "order": gettext_lazy("在檢查表上的順序，數字小的在前。"),
            "active": gettext_lazy("停用的項目不再列入新的自主檢查；已填的檢查仍保留。"),
        }

    def save(self, commit=True):
        return selfchecks.item_save(super().save(commit=False), actor=self.request.user)


class SelfCheckItemSerializer(ModelSerializer):
    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = SelfCheckItem
        fields = ["id", "text", "clause", "order", "active", "updated_at"]
        read_only_fields = ["updated_at"]

    def _save(self, item):
        try:
            return selfchecks.item_save(item, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(SelfCheckItem(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class SelfCheckItemViewSet(RegisterViewSet):
    """DELETE removes an unused item (204) and retires one a check used (200)."""

    def destroy(self, request, *args, **kwargs):
        item = self.get_object()
        if selfchecks.item_remove(item, actor=request.user):
            return Response(status=status.HTTP_204_NO_CONTENT)
        item.refresh_from_db()
        return Response(self.get_serializer(item).data)


class SelfCheckItemFilterSet(FilterSet):
    search_fields = ("text", "clause")

    class Meta:
        model = SelfCheckItem
        fields = ["active"]


class SelfCheckItemRegister(Register):
    model = SelfCheckItem
    clause = "2.3"
    access = ITEM_ACCESS
    columns = [
        Column("order", gettext_lazy("順序")),
        Column("text", gettext_lazy("檢查項目"), link=True),
        Column("clause", gettext_lazy("條文")),
        Column("active", gettext_lazy("使用中")),
    ]
    filterset_class = SelfCheckItemFilterSet
    form_class = SelfCheckItemForm
    serializer_class = SelfCheckItemSerializer
    viewset_base = SelfCheckItemViewSet
    deletable = True
    attachments = False
    ordering = ("order", "id")
    route = "self-check-items"
    nav_group = NAV
    nav_label = gettext_lazy("自主檢查項目")


class ItemDelete(DeletePage):
    """刪除 an unused item; one a check used is retired instead (kept on its checks)."""

    register = SelfCheckItemRegister
    template_name = "awareness/selfchecks/item_delete.html"

    def get(self, request, pk):
        item = self.get_object()
        ctx = self.context(object=item, in_use=selfchecks.in_use(item))
        return render(request, self.template_name, ctx)

    def post(self, request, pk):
        item = self.get_object()
        if selfchecks.item_remove(item, actor=request.user):
            messages.success(request, _("已刪除檢查項目「%(item)s」。") % {"item": item})
            return redirect(reverse(self.register.url_name("list")))
        messages.success(
            request,
            _("檢查項目「%(item)s」已有自主檢查使用，已改為停用（不再列入新的檢查）。")
            % {"item": item},
        )
        return redirect(item.get_absolute_url())


# Who fills each unit's check ---------------------------------------------------------------------
class OfficeHeadForm(ModelForm):
    user = UserChoiceField(
        label=gettext_lazy("單位主管（填表人）"), queryset=get_user_model().objects.none()
    )

    class Meta(ModelForm.Meta):
        model = OfficeHead
        fields = ["unit", "user"]
        help_texts = {"user": gettext_lazy("此帳號每學期填寫該單位的辦公室自主檢查。")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        units = Unit.objects.filter(is_active=True)
        if self.instance.pk:
            units = Unit.objects.filter(Q(is_active=True) | Q(pk=self.instance.unit_id))
        self.fields["unit"].queryset = units.order_by("name")
        self.fields["user"].queryset = (
            get_user_model().objects.filter(is_active=True).select_related("person")
        ).order_by("username")
        self.fields["user"].widget.attrs["class"] = "form-select"

    def save(self, commit=True):
        return selfchecks.head_save(super().save(commit=False), actor=self.request.user)


class OfficeHeadSerializer(ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    user = serializers.PrimaryKeyRelatedField(
        label=gettext_lazy("單位主管（填表人）"), queryset=get_user_model().objects.all()
    )

    class Meta:
        model = OfficeHead
        fields = ["id", "unit", "user"]
        # The one-per-unit rule is the service's (with its message).
        validators = []

    def _save(self, head):
        try:
            return selfchecks.head_save(head, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(OfficeHead(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)

    def get_fields(self):
        fields = super().get_fields()
        unit = fields.get("unit")
        if unit is not None:  # the one-per-unit rule is the service's (with its message)
            unit.validators = [v for v in unit.validators if not isinstance(v, UniqueValidator)]
        return fields


class OfficeHeadViewSet(RegisterViewSet):
    def perform_destroy(self, instance):
        selfchecks.head_delete(instance, actor=self.request.user)


class OfficeHeadFilterSet(FilterSet):
    search_fields = ("unit__name", "user__username", "user__person__name")

    class Meta:
        model = OfficeHead
        fields = []


class OfficeHeadRegister(Register):
    model = OfficeHead
    clause = "2.3"
    access = HEAD_ACCESS
    columns = [
        Column("unit", gettext_lazy("單位"), accessor="unit.name", sort="unit__name", link=True),
        Column(
            "user",
            gettext_lazy("單位主管（填表人）"),
            accessor=lambda h: h.user.display_name,
            sort="user__username",
        ),
        Column("username", gettext_lazy("帳號"), accessor="user.username", sort=None),
        Column(
            "active",
            gettext_lazy("帳號啟用"),
            accessor=lambda h: h.user.is_active,
            sort=None,
        ),
    ]
    filterset_class = OfficeHeadFilterSet
    form_class = OfficeHeadForm
    serializer_class = OfficeHeadSerializer
    viewset_base = OfficeHeadViewSet
    serializer_reads_related = False
    select_related = ("unit", "user__person")
    deletable = True
    attachments = False
    ordering = ("unit__name", "id")
    route = "office-heads"
    nav_group = NAV
    nav_label = gettext_lazy("自主檢查填表人")


class HeadDelete(DeletePage):
    register = OfficeHeadRegister

    def post(self, request, pk):
        head = self.get_object()
        selfchecks.head_delete(head, actor=request.user)
        messages.success(request, _("已取消「%(head)s」的指定。") % {"head": head})
        return redirect(reverse(self.register.url_name("list")))


# The self-checks ---------------------------------------------------------------------------------
class SelfCheckFilterSet(FilterSet):
    search_fields = ("unit__name", "note")
    unit = df.ModelChoiceFilter(label=gettext_lazy("單位"), queryset=Unit.objects.order_by("name"))
    school_year = df.NumberFilter(label=gettext_lazy("學年度"))
    term = df.ChoiceFilter(
        label=gettext_lazy("學期"),
        choices=[(1, gettext_lazy("第 1 學期")), (2, gettext_lazy("第 2 學期"))],
    )
    pending = df.ChoiceFilter(
        label=gettext_lazy("改善情形"),
        choices=[
            ("yes", gettext_lazy("有待改善項目")),
            ("failed", gettext_lazy("有不符合項目")),
            ("no", gettext_lazy("無待改善項目")),
        ],
        method="filter_pending",
    )
    checked_from = ROCDateFilter(
        label=gettext_lazy("檢查日期起"), field_name="checked_on", lookup_expr="gte"
    )
    checked_to = ROCDateFilter(
        label=gettext_lazy("檢查日期迄"), field_name="checked_on", lookup_expr="lte"
    )

    class Meta:
        model = SelfCheck
        fields = ["unit", "school_year", "term", "pending"]

    def search(self, queryset, name, value):
        """The unit, the note, or a result's note or 改善情形 (a subquery: the list's
        counts stay right)."""
        value = value.strip()
        if not value:
            return queryset
        results = SelfCheckResult.objects.filter(
            Q(note__icontains=value) | Q(resolution__icontains=value),
            check_record=OuterRef("pk"),
        )
        return queryset.filter(
            Q(unit__name__icontains=value) | Q(note__icontains=value) | Q(Exists(results))
        )

    def filter_pending(self, queryset, name, value):
        pending = SelfCheckResult.objects.filter(
            selfchecks.pending_q(), check_record=OuterRef("pk")
        )
        failed = SelfCheckResult.objects.filter(ok=False, check_record=OuterRef("pk"))
        if value == "yes":
            return queryset.filter(Exists(pending))
        if value == "failed":
            return queryset.filter(Exists(failed))
        if value == "no":
            return queryset.exclude(Exists(pending))
        return queryset


def _term(check) -> str:
    return _("%(year)d學年度第%(term)d學期") % {"year": check.school_year, "term": check.term}


class SelfCheckForm(ModelForm):
    """A check and its answers: ``result_<item>`` (ok / fail) and ``item_note_<item>``."""

    unit = forms.ModelChoiceField(label=gettext_lazy("受檢單位"), queryset=Unit.objects.none())

    class Meta(ModelForm.Meta):
        model = SelfCheck
        fields = ["unit", "checked_on", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "checked_on": gettext_lazy("學年度與學期依檢查日期自動判定。"),
            "note": gettext_lazy("整體情形；照片可於儲存後上傳為附件。"),
        }

    CHOICES = [("ok", gettext_lazy("符合")), ("fail", gettext_lazy("不符合"))]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check = self.instance
        user = self.request.user if self.request is not None else None
        unit = self.fields["unit"]
        unit.widget.attrs["class"] = "form-select"
        if check.pk is not None:
            unit.queryset = Unit.objects.filter(pk=check.unit_id)
            unit.disabled = True
            unit.empty_label = None
            current = {
                r.item_id: ("ok" if r.ok else "fail", r.note)
                for r in SelfCheckResult.objects.filter(check_record=check)
            }
        else:
            units = selfchecks.fill_units(user)
            unit.queryset = units
            wanted = self.request.GET.get("unit", "") if self.request is not None else ""
            if wanted.isdigit() and len(wanted) < 19:
                self.initial.setdefault("unit", int(wanted))
            elif (
                not self.is_bound and len(ids := list(units.values_list("pk", flat=True)[:2])) == 1
            ):
                self.initial.setdefault("unit", ids[0])
            self.initial.setdefault("checked_on", timezone.localdate())
            current = {}
        self.items = selfchecks.asked_items(check)
        for item in self.items:
            result, note = current.get(item.pk, ("", ""))
            self.fields[f"result_{item.pk}"] = forms.ChoiceField(
                label=item.text,
                choices=self.CHOICES,
                required=False,
                widget=forms.RadioSelect,
                initial=result or None,
            )
            self.fields[f"item_note_{item.pk}"] = forms.CharField(
                label=_("說明"),
                required=False,
                max_length=selfchecks.NOTE_LIMIT,
                initial=note,
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
            )

    def checklist(self):
        return [
            {
                "item": item,
                "result": self[f"result_{item.pk}"],
                "note": self[f"item_note_{item.pk}"],
            }
            for item in self.items
        ]

    def answers(self) -> dict:
        data = self.cleaned_data
        out = {}
        for item in self.items:
            value = data.get(f"result_{item.pk}") or ""
            ok = True if value == "ok" else False if value == "fail" else None
            out[item.pk] = (ok, data.get(f"item_note_{item.pk}") or "")
        return out

    def save(self, commit=True):
        check = super().save(commit=False)
        try:
            return selfchecks.check_save(check, self.answers(), actor=self.request.user)
        except ValidationError as error:
            raise ValidationError(checklist_errors(error.message_dict)) from None


def api_errors(error) -> serializers.ValidationError:
    """The service's ``items.<pk>`` keys nested: ``{"results": {"<pk>": [...]}}``."""
    if not hasattr(error, "error_dict"):
        return service_errors(error)
    detail = {}
    for name, messages_ in error.message_dict.items():
        if name.startswith("items."):
            detail.setdefault("results", {}).setdefault(name[6:], []).extend(messages_)
            continue
        key = "non_field_errors" if name == "__all__" else name
        detail.setdefault(key, []).extend(messages_)
    return serializers.ValidationError(detail)


class ResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(label=gettext_lazy("檢查項目"), source="item_id")
    text = serializers.CharField(read_only=True)
    ok = serializers.BooleanField(label=gettext_lazy("符合"))
    note = serializers.CharField(
        label=gettext_lazy("說明"), required=False, allow_blank=True, max_length=300
    )
    resolution = serializers.CharField(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_by = serializers.IntegerField(read_only=True, allow_null=True, source="resolved_by_id")


class SelfCheckSerializer(ModelSerializer):
    """A check with ``results: [{item, ok, note}]`` (one per active item when filled; on
    PATCH without ``results`` the answers stay as they are)."""

    id = serializers.IntegerField(read_only=True)
    results = ResultSerializer(many=True, required=False, label=gettext_lazy("檢查結果"))

    class Meta:
        model = SelfCheck
        fields = [
            "id",
            "unit",
            "school_year",
            "term",
            "checked_on",
            "filled_by",
            "note",
            "results",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            "school_year",
            "term",
            "filled_by",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        validators = []  # one per unit and term: the service's rule, with its message

    def validate_unit(self, unit):
        if self.instance is not None and unit.pk != self.instance.unit_id:
            raise serializers.ValidationError(_("自主檢查的受檢單位不能變更。"))
        return unit

    def validate_results(self, results):
        seen = set()
        for entry in results:
            if entry["item_id"] in seen:
                raise serializers.ValidationError(_("同一檢查項目只能出現一次。"))
            seen.add(entry["item_id"])
        return results

    def _save(self, check, results):
        if results is None:
            answers = {
                r.item_id: (r.ok, r.note)
                for r in SelfCheckResult.objects.filter(check_record_id=check.pk)
            }
        else:
            answers = {e["item_id"]: (e["ok"], e.get("note", "")) for e in results}
        try:
            selfchecks.check_save(check, answers, actor=self.context["request"].user)
        except ValidationError as error:
            raise api_errors(error) from None
        return SelfCheck.objects.prefetch_related("results").get(pk=check.pk)

    def create(self, validated_data):
        results = validated_data.pop("results", [])
        return self._save(SelfCheck(**validated_data), results)

    def update(self, instance, validated_data):
        results = validated_data.pop("results", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, results)


class SelfCheckResolveSerializer(serializers.Serializer):
    result = serializers.IntegerField(label=gettext_lazy("檢查結果"))
    resolution = serializers.CharField(
        label=gettext_lazy("改善情形"), max_length=selfchecks.RESOLUTION_LIMIT
    )


def _result_of(check, pk) -> SelfCheckResult:
    result = SelfCheckResult.objects.filter(check_record=check, pk=pk).first()
    if result is None:
        raise ValidationError({"result": _("此自主檢查沒有這個檢查結果。")})
    return result


class SelfCheckViewSet(RegisterViewSet):
    """``resolve``: 登錄改善情形 of a failed item (the unit's head or the officer)."""

    @extend_schema(request=SelfCheckResolveSerializer, responses={200: SelfCheckSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        check = self.get_object()
        data = SelfCheckResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = _result_of(check, data.validated_data["result"])
            selfchecks.result_resolve(
                result, actor=request.user, resolution=data.validated_data["resolution"]
            )
        except ValidationError as error:
            raise service_errors(error) from None
        check = SelfCheck.objects.prefetch_related("results").get(pk=check.pk)
        return Response(SelfCheckSerializer(check, context={"request": request}).data)


def with_answer_counts(qs):
    """Each check with its failed and not yet put right answers, counted by correlated
    subqueries: only the page's 50 checks are counted, not every check joined with its
    answers and grouped before the sort (3,000 checks: 7 ms instead of 90 ms)."""

    def count(condition):
        rows = (
            SelfCheckResult.objects.filter(condition, check_record=OuterRef("pk"))
            .order_by()
            .values("check_record")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))

    return qs.annotate(fail_count=count(Q(ok=False)), pending_count=count(selfchecks.pending_q()))


class SelfCheckRegister(Register):
    model = SelfCheck
    clause = "2.3"
    access = CHECK_ACCESS
    columns = [
        Column("unit", gettext_lazy("單位"), accessor="unit.name", sort="unit__name"),
        Column("term", gettext_lazy("學期"), accessor=_term, sort="school_year"),
        Column("checked_on", gettext_lazy("檢查日期"), link=True),
        Column(
            "filled_by",
            gettext_lazy("填表人"),
            accessor=lambda c: c.filled_by.display_name,
            sort="filled_by__username",
        ),
        Column("fail_count", gettext_lazy("不符合項目"), accessor="fail_count", sort="fail_count"),
        Column(
            "pending_count", gettext_lazy("待改善"), accessor="pending_count", sort="pending_count"
        ),
        Column("note", gettext_lazy("說明"), page=False),
    ]
    filterset_class = SelfCheckFilterSet
    form_class = SelfCheckForm
    serializer_class = SelfCheckSerializer
    viewset_base = SelfCheckViewSet
    select_related = ("unit", "filled_by__person")
    ordering = ("-school_year", "-term", "unit__name", "id")
    route = "self-checks"
    nav_group = NAV
    nav_label = gettext_lazy("辦公室自主檢查")
    detail_template = "awareness/selfchecks/detail.html"

    @classmethod
    def base_queryset(cls):
        return with_answer_counts(SelfCheck.objects.select_related(*cls.select_related)).order_by(
            *cls.ordering
        )

    @classmethod
    def api_queryset(cls):
        return SelfCheck.objects.prefetch_related("results").order_by(*cls.ordering)

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return selfchecks.check_void(obj, actor=actor, reason=reason)


class CheckFormMixin:
    template_name = "awareness/selfchecks/form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not selfchecks.may_fill_any(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class CheckAdd(CheckFormMixin, AddPage):
    """The unit's head (or the officer) fills the check of the semester."""


class CheckEdit(CheckFormMixin, EditPage):
    """Correct a check not voided (its unit's head or the officer)."""

    def get(self, request, pk=None):
        check = self.get_instance()
        if check.voided_at is not None:
            messages.info(request, _("已作廢的自主檢查不能修改。"))
            return redirect(check.get_absolute_url())
        return super().get(request, pk)


class ResolveForm(forms.Form):
    result = forms.IntegerField(widget=forms.HiddenInput)
    resolution = forms.CharField(
        label=gettext_lazy("改善情形"),
        max_length=selfchecks.RESOLUTION_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        error_messages={"required": gettext_lazy("請填寫改善情形（做了什麼、何時完成）。")},
    )


class CheckDetail(DetailPage):
    register = SelfCheckRegister

    def get(self, request, pk, *, status=200, **extra):
        check = self.get_object("view")
        user = request.user
        results = list(
            SelfCheckResult.objects.filter(check_record=check)
            .select_related("item", "resolved_by__person")
            .order_by("item__order", "item_id")
        )
        may_fill = check.voided_at is None and selfchecks.may_fill(user, check.unit_id)
        failed_form = extra.pop("resolve_form", None)
        due = selfchecks.fix_due(check.checked_on)
        for r in results:
            r.form = None
            if not r.ok and r.resolved_at is None and may_fill:
                bound = failed_form is not None and str(failed_form.data.get("result")) == str(r.pk)
                r.form = failed_form if bound else ResolveForm(initial={"result": r.pk})
        extra.update(
            check=check,
            heading=f"{check.unit.name} {_term(check)}",
            term_label=_term(check),
            results=results,
            fix_due=due,
            overdue=timezone.localdate() > due,
            can_edit=may_fill,
            resolve_errors=[
                message
                for name, messages_ in (failed_form.errors if failed_form else {}).items()
                if name != "resolution"
                for message in messages_
            ],
        )
        return super().get(request, pk, status=status, **extra)


class CheckResolve(DetailAction, CheckDetail):
    """登錄改善情形: a refused one shows the check again with the reason (400)."""

    access = RESOLVE_ACCESS
    form_class = ResolveForm
    form_context = "resolve_form"

    def perform(self, check, form, user):
        result = _result_of(check, form.cleaned_data["result"])
        selfchecks.result_resolve(result, actor=user, resolution=form.cleaned_data["resolution"])

    def success_message(self, check):
        return _("已登錄改善情形。")


SelfCheckRegister.add_view = CheckAdd
SelfCheckRegister.edit_view = CheckEdit
SelfCheckRegister.detail_view = CheckDetail


urlpatterns = [
    path(
        "self-check-items/<int:pk>/delete/",
        ItemDelete.as_view(action="delete"),
        name="selfcheckitem_delete",
    ),
    path(
        "office-heads/<int:pk>/delete/",
        HeadDelete.as_view(action="delete"),
        name="officehead_delete",
    ),
    path("self-checks/<int:pk>/resolve/", CheckResolve.as_view(), name="selfcheck_resolve"),
    *_without(SelfCheckItemRegister.urls(), "selfcheckitem_delete"),
    *_without(OfficeHeadRegister.urls(), "officehead_delete"),
    *SelfCheckRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [
    (SelfCheckItemRegister, "self-check-items"),
    (OfficeHeadRegister, "office-heads"),
    (SelfCheckRegister, "self-checks"),
]
