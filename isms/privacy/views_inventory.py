"""Pages of the personal-data file inventory (個人資料檔案清冊; clause 7.1; PDPA art. 17).

- The register (list with 最近檢視 flagged when a file is not reviewed within the year,
  filters, export, the read-only ``/api/personal-data-files/``), the form with searchable
  pickers for the official code lists, systems and equipment, the file's page (its reviews,
  「確認年度檢視」, the equipment that holds it with their disposal, repair and server-room
  records (7.9, 7.10), the public address and the snippet for the school website).
- The public page, without sign-in: ``/privacy/public/`` (printable), ``/privacy/public/
  embed/`` (the same table for an iframe on the school website: the one frameable page),
  ``/privacy/public/<id>/`` (one file; an internal or voided file is a 404 that shows
  nothing of it) and ``/api/personal-data-files/public/`` (JSON for any website: CORS,
  ETag and Last-Modified). Each answer is built from the records (no cache to go stale);
  ETag and Last-Modified let a browser or a website ask again cheaply.

The rules are ``inventory``'s.
"""

import hashlib

import django_filters as df
from django import forms
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.cache import get_conditional_response, patch_vary_headers, quote_etag
from django.utils.decorators import method_decorator
from django.utils.html import conditional_escape, escape
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.clickjacking import xframe_options_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from isms.assets.models import Asset
from isms.core.access import Access, can, restrict
from isms.core.filters import FilterSet
from isms.core.forms import ModelForm
from isms.core.generic import (
    AddPage,
    DetailAction,
    DetailPage,
    EditPage,
    ListPage,
    url_or_none,
)
from isms.core.models import SchoolProfile, Unit
from isms.core.registers import Column, Register, nav_link
from isms.core.restapi import DateTimeField, ModelSerializer, RegisterViewSet
from isms.core.services import site_url
from isms.identity.models import InformationSystem

from . import inventory
from .models import CategoryCode, FileReview, PersonalDataFile, PurposeCode
from .nav import NAV

Visibility = PersonalDataFile.Visibility
FILE_ACCESS = Access(
    view=inventory.READERS,
    add=inventory.WRITERS,
    change=inventory.WRITERS,
    void=inventory.WRITERS,
)
REVIEW_ACCESS = Access(view=inventory.READERS, change=inventory.WRITERS)
# The public page in the menu: everyone signed in may open it (it is public anyway).
PUBLIC_LINK_ACCESS = Access(signed_in=True)
PUBLIC_ROUTE = "personal-data-files/public"


# The list's filters -------------------------------------------------------------------------
class PersonalDataFileFilterSet(FilterSet):
    search_fields = (
        "name",
        "legal_basis",
        "purpose_note",
        "retention",
        "users",
        "notes",
        "contact_name",
        "unit__name",
    )
    unit = df.ModelChoiceFilter(
        label=gettext_lazy("保有單位"), queryset=Unit.objects.order_by("name")
    )
    purpose = df.CharFilter(
        label=gettext_lazy("特定目的代號"), method="filter_purpose", max_length=10
    )
    category = df.CharFilter(
        label=gettext_lazy("類別代號"), method="filter_category", max_length=10
    )
    overdue = df.BooleanFilter(label=gettext_lazy("逾期未檢視"), method="filter_overdue")

    class Meta:
        model = PersonalDataFile
        fields = ["unit", "visibility", "purpose", "category", "overdue", "paper"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["purpose"].widget.attrs["placeholder"] = "109"
        self.form.fields["category"].widget.attrs["placeholder"] = "C001"

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        query = Q()
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": value})
        # A code or its name: matched in a subquery, so a file is listed once.
        coded = PersonalDataFile.objects.filter(
            Q(purposes__code__iexact=value)
            | Q(purposes__name__icontains=value)
            | Q(categories__code__iexact=value)
            | Q(categories__name__icontains=value)
        ).values("pk")
        return queryset.filter(query | Q(pk__in=coded))

    def filter_purpose(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        links = PersonalDataFile.purposes.through.objects.filter(purposecode__code__iexact=value)
        return queryset.filter(pk__in=links.values("personaldatafile_id"))

    def filter_category(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        links = PersonalDataFile.categories.through.objects.filter(categorycode__code__iexact=value)
        return queryset.filter(pk__in=links.values("personaldatafile_id"))

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        due = inventory.overdue_q(days=inventory.review_days())
        return queryset.filter(due) if value else queryset.exclude(due)


# Columns (page, CSV, XLSX, the evidence binder) ----------------------------------------------
def _purposes(file) -> str:
    return inventory.codes(file.purposes.all())


def _categories(file) -> str:
    return inventory.codes(file.categories.all())


def _purposes_full(file) -> str:
    return inventory.codes_with_names(file.purposes.all())


def _categories_full(file) -> str:
    return inventory.codes_with_names(file.categories.all())


def _systems(file) -> str:
    return "、".join(sorted(s.name for s in file.systems.all()))


def _assets(file) -> str:
    return "、".join(str(a) for a in sorted(file.assets.all(), key=lambda a: a.property_number))


def _last_review(file):
    return file.last_reviewed_at


def _review_due(file):
    return inventory.review_due(file) if file.voided_at is None else None


COLUMNS = [
    Column("name", gettext_lazy("個人資料檔案名稱"), link=True),
    Column("unit", gettext_lazy("保有單位"), accessor="unit.name", sort="unit__name"),
    Column("purposes", gettext_lazy("特定目的"), accessor=_purposes, sort=None),
    Column("categories", gettext_lazy("個人資料類別"), accessor=_categories, sort=None),
    Column("visibility", gettext_lazy("公開")),
    Column(
        "last_reviewed_at",
        gettext_lazy("最近檢視"),
        accessor=_last_review,
        sort="last_reviewed_at",
    ),
    Column(
        "purposes_full",
        gettext_lazy("特定目的（代號及名稱）"),
        accessor=_purposes_full,
        page=False,
    ),
    Column("purpose_note", gettext_lazy("特定目的補充說明"), page=False),
    Column(
        "categories_full",
        gettext_lazy("個人資料類別（代號及名稱）"),
        accessor=_categories_full,
        page=False,
    ),
    Column("legal_basis", gettext_lazy("保有依據"), page=False),
    Column("contact_name", gettext_lazy("聯絡人"), page=False),
    Column("contact_phone", gettext_lazy("聯絡電話"), page=False),
    Column("contact_email", gettext_lazy("聯絡電子郵件"), page=False),
    Column("systems", gettext_lazy("存放的資訊系統"), accessor=_systems, page=False),
    Column("assets", gettext_lazy("存放的設備"), accessor=_assets, page=False),
    Column("paper", gettext_lazy("含紙本"), page=False),
    Column("retention", gettext_lazy("保存期限"), page=False),
    Column("users", gettext_lazy("利用範圍（可使用者）"), page=False),
    Column("internal_reason", gettext_lazy("不公開理由"), page=False),
    Column("review_due", gettext_lazy("下次檢視期限"), accessor=_review_due, page=False),
    Column("notes", gettext_lazy("備註"), page=False),
]
BINDER_COLUMNS = tuple(c for c in COLUMNS if c.export)


# The form -------------------------------------------------------------------------------------
class CodeChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        label = f"{obj.code} {obj.name}"
        return label if obj.is_active else _("%(label)s（已停用）") % {"label": label}


class SystemChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.name if obj.voided_at is None else _("%(name)s（已作廢）") % {"name": obj.name}


class AssetChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        label = str(obj)
        if obj.location:
            label = f"{label}（{obj.location}）"
        if obj.stores_personal_data:
            label = _("%(label)s［存有個人資料］") % {"label": label}
        return label


class UnitChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.phone}）" if obj.phone else obj.name


# What a file holds (the form's fields; the API's, with the unit's name after the unit).
FILE_FIELDS = [
    "name",
    "unit",
    "contact_name",
    "contact_phone",
    "contact_email",
    "legal_basis",
    "purposes",
    "purpose_note",
    "categories",
    "systems",
    "assets",
    "paper",
    "retention",
    "users",
    "visibility",
    "internal_reason",
    "notes",
]
# The many-to-many pickers: checkboxes in a box with a search field (picker.html).
PICKERS = ("purposes", "categories", "systems", "assets")


class PersonalDataFileForm(ModelForm):
    """A file of the inventory; the pickers list codes, systems and equipment in use (and
    whatever the file already has). Saved through ``inventory.save_file``."""

    class Meta(ModelForm.Meta):
        model = PersonalDataFile
        fields = FILE_FIELDS
        field_classes = {
            "unit": UnitChoice,
            "purposes": CodeChoices,
            "categories": CodeChoices,
            "systems": SystemChoices,
            "assets": AssetChoices,
        }
        widgets = {
            "purposes": forms.CheckboxSelectMultiple,
            "categories": forms.CheckboxSelectMultiple,
            "systems": forms.CheckboxSelectMultiple,
            "assets": forms.CheckboxSelectMultiple,
            "visibility": forms.RadioSelect,
            "legal_basis": forms.Textarea(attrs={"rows": 2}),
            "purpose_note": forms.Textarea(attrs={"rows": 2}),
            "users": forms.Textarea(attrs={"rows": 2}),
            "internal_reason": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "name": gettext_lazy("例如：學籍資料、學生健康檢查資料（條文 7.1 公布項目之一）。"),
            "unit": gettext_lazy("保有此檔案的單位，公開頁面會列出「學校名稱＋單位」。"),
            "contact_name": gettext_lazy("校內聯絡窗口，不公開；公開頁面只列電話與電子郵件。"),
            "contact_phone": gettext_lazy("電話與電子郵件都留空時，帶入保有單位的電話。"),
            "purposes": gettext_lazy(
                "依「個人資料保護法之特定目的及個人資料之類別」勾選；可輸入代號或文字篩選。"
                "代號都不適用時，於下方補充說明寫明特定目的。"
            ),
            "categories": gettext_lazy(
                "例如：C001 辨識個人者、C051 學校紀錄；可輸入代號或文字篩選。"
            ),
            "systems": gettext_lazy("存放此檔案的資訊系統（資訊系統清冊）。"),
            "assets": gettext_lazy(
                "存放此檔案的電腦或設備（資產清冊）：其報廢、移轉他用與外部維修紀錄會列在檔案頁面"
                "（條文 7.9、7.10）。"
            ),
            "visibility": gettext_lazy(
                "個人資料保護法第 17 條：原則公開於學校網站；不公開須有法律依據。"
            ),
            "internal_reason": gettext_lazy(
                "不公開時寫明理由及法律依據，例如：政府資訊公開法第 18 條第 1 項第 6 款。"
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        file = self.instance
        fields = self.fields
        kept = {name: [] for name in PICKERS}
        if file.pk is not None:
            kept = {
                name: list(getattr(file, name).values_list("pk", flat=True)) for name in PICKERS
            }
        fields["unit"].queryset = Unit.objects.filter(
            Q(is_active=True) | Q(pk=file.unit_id or 0)
        ).order_by("name")
        fields["purposes"].queryset = PurposeCode.objects.filter(
            Q(is_active=True) | Q(pk__in=kept["purposes"])
        ).order_by("code")
        fields["categories"].queryset = CategoryCode.objects.filter(
            Q(is_active=True) | Q(pk__in=kept["categories"])
        ).order_by("code")
        fields["systems"].queryset = InformationSystem.objects.filter(
            Q(voided_at__isnull=True) | Q(pk__in=kept["systems"])
        ).order_by("name")
        fields["assets"].queryset = Asset.objects.filter(
            Q(voided_at__isnull=True) & ~Q(state=Asset.State.DECOMMISSIONED)
            | Q(pk__in=kept["assets"])
        ).order_by("property_number", "id")
        # The service says what is missing, citing 7.1 and art. 17 (not Django's generic text).
        for name in (
            "name",
            "unit",
            "legal_basis",
            "purposes",
            "categories",
            "systems",
            "assets",
            "retention",
            "users",
        ):
            fields[name].required = False
        fields["visibility"].choices = Visibility.choices  # no empty choice
        for name in PICKERS:
            fields[name].widget.attrs.pop("class", None)
        fields["visibility"].widget.attrs["class"] = "form-check-input"

    def save(self, commit=True):
        file = super().save(commit=False)
        data = self.cleaned_data
        return inventory.save_file(
            file,
            actor=self.request.user,
            purposes=list(data.get("purposes") or []),
            categories=list(data.get("categories") or []),
            systems=list(data.get("systems") or []),
            assets=list(data.get("assets") or []),
        )


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("檢視說明"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        help_text=gettext_lazy(
            "例如：四項公開內容、存放系統與設備、保存期限皆無變動；或說明已修正的項目。"
        ),
    )


# The API ----------------------------------------------------------------------------------------
class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class PersonalDataFileSerializer(ModelSerializer):
    """A file of the inventory, read-only (the inventory is kept on its pages)."""

    # Reads the request's review rhythm once (see ``_days``), through the context.
    fast_read = False
    id = serializers.IntegerField(read_only=True)
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    purposes = CodeSerializer(many=True, read_only=True)
    categories = CodeSerializer(many=True, read_only=True)
    last_reviewed_at = DateTimeField(read_only=True, allow_null=True)
    review_due_at = serializers.SerializerMethodField()
    review_overdue = serializers.SerializerMethodField()

    class Meta:
        model = PersonalDataFile
        fields = [
            "id",
            *FILE_FIELDS[:2],
            "unit_name",
            *FILE_FIELDS[2:],
            "last_reviewed_at",
            "review_due_at",
            "review_overdue",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = fields

    def _days(self) -> int:
        request = self.context.get("request")
        days = getattr(request, "_privacy_review_days", None)
        if days is None:
            days = inventory.review_days()
            if request is not None:
                request._privacy_review_days = days
        return days

    def get_review_due_at(self, obj) -> str | None:
        if obj.voided_at is not None:
            return None
        return serializers.DateTimeField().to_representation(
            inventory.review_due(obj, self._days())
        )

    def get_review_overdue(self, obj) -> bool:
        return inventory.review_overdue(obj, days=self._days())


class PublicFileSerializer(serializers.Serializer):
    """The four items of PDPA art. 17 for one published file."""

    id = serializers.IntegerField()
    name = serializers.CharField(help_text=gettext_lazy("個人資料檔案名稱"))
    agency = serializers.CharField(help_text=gettext_lazy("保有機關名稱"))
    unit = serializers.CharField(help_text=gettext_lazy("保有單位"))
    phone = serializers.CharField(allow_blank=True, help_text=gettext_lazy("聯絡電話"))
    email = serializers.CharField(allow_blank=True, help_text=gettext_lazy("聯絡電子郵件"))
    legal_basis = serializers.CharField(help_text=gettext_lazy("保有之依據"))
    purposes = CodeSerializer(many=True, help_text=gettext_lazy("特定目的"))
    purpose_note = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("特定目的補充說明")
    )
    categories = CodeSerializer(many=True, help_text=gettext_lazy("個人資料之類別"))
    url = serializers.CharField(help_text=gettext_lazy("公開頁面網址"))


class PublicInventorySerializer(serializers.Serializer):
    school = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)
    page_url = serializers.CharField()
    count = serializers.IntegerField()
    files = PublicFileSerializer(many=True)


class PersonalDataFileViewSet(RegisterViewSet):
    """The inventory, read-only for the signed-in (token); ``public`` is the published list
    for any website: no sign-in, CORS open, ETag and Last-Modified."""

    # "public" is not an id: only digits reach the record's route.
    lookup_value_regex = "[0-9]+"
    # Set on the public route (and its OPTIONS): CORS headers and the public flag.
    public_route = False

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        view = super().as_view(actions, **initkwargs)
        if initkwargs.get("public_route"):
            view.isms_public = True  # no sign-in: the published four items of art. 17
        return view

    def check_permissions(self, request):
        # A method the inventory's API does not take is a 405 for everyone, whatever
        # the person's roles (the inventory is kept on its pages).
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().check_permissions(request)

    def get_queryset(self):
        qs = super().get_queryset()
        return inventory.with_review(qs) if qs is not None else qs

    @extend_schema(responses={200: PublicInventorySerializer}, auth=[])
    @action(
        detail=False,
        methods=["get"],
        url_path="public",
        permission_classes=[AllowAny],
        authentication_classes=[],
        public_route=True,
        filter_backends=[],
        pagination_class=None,
    )
    def public(self, request, format=None):
        body, moment = public_json()
        response = Response(body)
        return conditional(request, response, moment, content=_json_key(body))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.public_route:
            response["Access-Control-Allow-Origin"] = "*"
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
            response["Access-Control-Expose-Headers"] = "ETag, Last-Modified"
            response["Access-Control-Max-Age"] = "86400"
        return response


# The register -------------------------------------------------------------------------------
class PersonalDataFileRegister(Register):
    model = PersonalDataFile
    clause = "7.1"
    access = FILE_ACCESS
    columns = COLUMNS
    filterset_class = PersonalDataFileFilterSet
    form_class = PersonalDataFileForm
    serializer_class = PersonalDataFileSerializer
    viewset_base = PersonalDataFileViewSet
    viewset_read_only = True
    select_related = ("unit",)
    prefetch_related = ("purposes", "categories", "systems", "assets")
    ordering = ("unit__name", "name", "id")
    route = "files"
    nav_group = NAV
    nav_label = gettext_lazy("個資檔案清冊")
    detail_template = "privacy/inventory/detail.html"

    @classmethod
    def base_queryset(cls):
        return inventory.with_review(super().base_queryset())

    # 最近檢視 in red with 「逾期未檢視」 when a file in use was not reviewed within the year
    # (its entry counts as the first check).
    late_column = "last_reviewed_at"

    @classmethod
    def rows_state(cls, now):
        return inventory.review_days()

    @classmethod
    def row_late(cls, obj, now, state=None):
        return inventory.review_overdue(obj, now, state)

    @classmethod
    def cell_html(cls, obj, name, text, late):
        if name != "last_reviewed_at":
            return text
        shown = text or conditional_escape(_("尚未檢視"))
        if late:
            badge = conditional_escape(_("逾期未檢視"))
            return f'{shown} <span class="badge text-bg-danger">{badge}</span>'
        return shown

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return inventory.void_file(obj, actor=actor, reason=reason)


# The file's page ------------------------------------------------------------------------------
def public_urls(file=None) -> dict:
    """The public addresses (as people open the product) and the snippets for the school
    website: an iframe of the embeddable list, and a link to the page (or to the file)."""
    page = site_url(reverse("privacy:inventory_public"))
    embed = site_url(reverse("privacy:inventory_public_embed"))
    api = site_url(f"/api/{PUBLIC_ROUTE}/")
    title = escape(_("個人資料檔案公開項目"))
    # Plain text (escaped once more by the template): code to copy, not markup to render.
    iframe = (
        f'<iframe src="{escape(embed)}" title="{title}" '
        'style="width:100%;min-height:640px;border:0" loading="lazy"></iframe>'
    )
    link = f'<a href="{escape(page)}">{title}</a>'
    out = {"page": page, "embed": embed, "api": api, "iframe": iframe, "link": link}
    if file is not None and file.pk and file.visibility == Visibility.PUBLIC:
        out["file"] = site_url(reverse("privacy:inventory_public_file", args=[file.pk]))
        out["file_link"] = f'<a href="{escape(out["file"])}">{escape(file.name)}</a>'
    return out


def _review_rows(file):
    return list(
        FileReview.objects.filter(file=file)
        .select_related("reviewer__person")
        .order_by("-reviewed_at", "-id")
    )


def _links(holdings) -> None:
    """Each record's page, when that module is there (url_or_none)."""
    for row in holdings["rows"]:
        asset = row["asset"]
        row["url"] = url_or_none("assets:asset_detail", asset.pk)
        row["edit_url"] = url_or_none("assets:asset_edit", asset.pk)
        row["record_links"] = [
            (r, url_or_none("assets:commissioningrecord_detail", r.pk)) for r in row["records"]
        ]
        row["repair_links"] = [
            (r, url_or_none("assets:repairvisit_detail", r.pk)) for r in row["repairs"]
        ]
        row["visit_links"] = [
            (v, url_or_none("facilities:visit_detail", v.pk), inventory._external(v))
            for v in row["visits"]
        ]


class FileDetail(DetailPage):
    register = PersonalDataFileRegister

    def get(self, request, pk, *, status=200, **extra):
        file = self.get_object("view")
        user = request.user
        open_ = file.voided_at is None
        can_review = open_ and can(user, "change", REVIEW_ACCESS)
        if can_review:
            extra.setdefault("review_form", ReviewForm())
        days = inventory.review_days()
        holding = inventory.holdings(file)
        _links(holding)
        systems = sorted(file.systems.all(), key=lambda s: s.name)
        return super().get(
            request,
            pk,
            status=status,
            file=file,
            purposes=sorted(file.purposes.all(), key=lambda c: c.code),
            categories=sorted(file.categories.all(), key=lambda c: c.code),
            systems=[(s, url_or_none("identity:system_detail", s.pk)) for s in systems],
            holding=holding,
            reviews=_review_rows(file),
            review_due=inventory.review_due(file, days) if open_ else None,
            review_overdue=inventory.review_overdue(file, days=days),
            review_days=days,
            can_review=can_review,
            can_edit=open_ and inventory.may_write(user),
            public=public_urls(file),
            is_public=open_ and file.visibility == Visibility.PUBLIC,
            **extra,
        )


class ReviewView(DetailAction, FileDetail):
    """「確認年度檢視」: refused (a voided file) → the file's page with the reason, 400."""

    access = REVIEW_ACCESS
    form_class = ReviewForm
    form_context = "review_form"

    def perform(self, file, form, user):
        inventory.review_file(file, actor=user, note=form.cleaned_data.get("note", ""))

    def success_message(self, file):
        return _("已確認「%(file)s」的年度檢視。") % {"file": file}


class FileList(ListPage):
    """The list reads only what its columns show (the export and the binder read the
    systems and equipment too)."""

    register = PersonalDataFileRegister

    def scoped(self, action=None):
        qs = inventory.with_review(
            PersonalDataFile.objects.select_related("unit")
            .prefetch_related("purposes", "categories")
            .order_by(*self.register.ordering)
        )
        return restrict(qs, self.request.user, action or self.action, self.access)


class FileAdd(AddPage):
    template_name = "privacy/inventory/form.html"


class FileEdit(EditPage):
    template_name = "privacy/inventory/form.html"


PersonalDataFileRegister.add_view = FileAdd
PersonalDataFileRegister.edit_view = FileEdit
PersonalDataFileRegister.detail_view = FileDetail


# The public page (7.1; PDPA art. 17) -----------------------------------------------------------
def _json_key(body) -> bytes:
    import json

    return json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode()


def conditional(request, response, moment, *, content: bytes | None = None, vary=False):
    """ETag (a digest of what is answered) and Last-Modified, so a browser or a website asks
    again cheaply (304 when unchanged); ``no-cache``: every use asks again, never stale."""
    digest = hashlib.sha256(content if content is not None else response.content).hexdigest()
    etag = quote_etag(digest[:32])
    response["ETag"] = etag
    stamp = int(moment.timestamp()) if moment is not None else None
    if stamp is not None:
        response["Last-Modified"] = http_date(stamp)
    response["Cache-Control"] = "no-cache"
    if vary:  # the page's language comes from a cookie
        patch_vary_headers(response, ("Cookie",))
    return get_conditional_response(request, etag=etag, last_modified=stamp, response=response)


def public_context() -> dict:
    school = SchoolProfile.load()
    files = list(inventory.public_files())
    entries = [inventory.public_entry(f, school) for f in files]
    for entry in entries:
        entry["url"] = reverse("privacy:inventory_public_file", args=[entry["id"]])
    moment = inventory.last_updated()
    return {
        "school": school,
        "entries": entries,
        "updated_at": moment,
        "page_url": reverse("privacy:inventory_public"),
    }


def public_json() -> tuple[dict, object]:
    """The published list as the JSON API gives it, and its Last-Modified moment."""
    ctx = public_context()
    files = []
    for entry in ctx["entries"]:
        item = dict(entry)
        item["url"] = site_url(entry["url"])
        files.append(item)
    moment = ctx["updated_at"]
    body = {
        "school": ctx["school"].name,
        "updated_at": serializers.DateTimeField().to_representation(moment) if moment else None,
        "page_url": site_url(ctx["page_url"]),
        "count": len(files),
        "files": files,
    }
    return body, moment


class PublicView(View):
    """A page anyone may open (no sign-in): the four items of art. 17, from the records."""

    isms_public = True  # PDPA art. 17: published on the school website
    http_method_names = ["get", "head"]
    template_name = "privacy/inventory/public_list.html"

    def get(self, request):
        ctx = public_context()
        response = render(request, self.template_name, ctx)
        return conditional(request, response, ctx["updated_at"], vary=True)


@method_decorator(xframe_options_exempt, name="dispatch")
class PublicEmbedView(PublicView):
    """The same table without the page around it, for an iframe on the school website: the
    one page exempt from X-Frame-Options."""

    template_name = "privacy/inventory/public_embed.html"


class PublicFileView(View):
    """One published file; internal, voided or unknown: 404, naming nothing of it."""

    isms_public = True  # PDPA art. 17: published on the school website
    http_method_names = ["get", "head"]

    def get(self, request, pk):
        school = SchoolProfile.load()
        file = inventory.public_file(pk)
        if file is None:
            body = render_to_string(
                "privacy/inventory/public_missing.html",
                {"school": school, "page_url": reverse("privacy:inventory_public")},
                request=request,
            )
            response = HttpResponse(body, status=404)
            response["Cache-Control"] = "no-cache"
            return response
        entry = inventory.public_entry(file, school)
        moment = max(
            [file.updated_at, *(r.reviewed_at for r in file.reviews.all())],
            default=None,
        )
        response = render(
            request,
            "privacy/inventory/public_file.html",
            {
                "school": school,
                "entry": entry,
                "updated_at": moment,
                "page_url": reverse("privacy:inventory_public"),
            },
        )
        return conditional(request, response, moment, vary=True)


nav_link(
    NAV,
    gettext_lazy("個資檔案公開頁面（學校網站）"),
    "privacy:inventory_public",
    PUBLIC_LINK_ACCESS,
)


urlpatterns = [
    path("files/", FileList.as_view(), name="personaldatafile_list"),
    path("public/", PublicView.as_view(), name="inventory_public"),
    path("public/embed/", PublicEmbedView.as_view(), name="inventory_public_embed"),
    path("public/<int:pk>/", PublicFileView.as_view(), name="inventory_public_file"),
    path("files/<int:pk>/review/", ReviewView.as_view(), name="personaldatafile_review"),
    *PersonalDataFileRegister.urls(without=("list",)),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(PersonalDataFileRegister, "personal-data-files")]
