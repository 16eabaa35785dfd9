"""Pages of the official code lists (clause 7.1; PDPA art. 53).

- 特定目的代號 (``/api/personal-data-purposes/``, read-only): list (search by code or name,
  filter in use), detail (with the files and notices that chose it), add, edit.
- 個人資料類別代號 (``/api/personal-data-categories/``, read-only): the same, with a filter
  by group.
- 代號清單匯入: upload a list (CSV or XLSX) → preview of the codes added, changed, marked
  not in use (each bad row with its line) → apply, all or nothing.

Every signed-in role reads; only the security officer writes. Codes are not voided: a
code no longer wanted is marked not in use (使用中 off). The rules are ``codes``'s.
"""

import base64
import binascii

import django_filters as df
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core import tabular
from isms.core.access import Access
from isms.core.filters import FilterSet
from isms.core.forms import ModelForm
from isms.core.generic import DetailPage, ProtectedView
from isms.core.registers import Column, Register, nav_link
from isms.core.restapi import ModelSerializer
from isms.core.roles import ALL_ROLES

from . import codes
from .models import CategoryCode, PurposeCode
from .nav import NAV

CODE_ACCESS = Access(view=ALL_ROLES, add=codes.WRITERS, change=codes.WRITERS)
IMPORT_ACCESS = Access(view=codes.WRITERS, add=codes.WRITERS, change=codes.WRITERS)


# Forms -----------------------------------------------------------------------------------------
class CodeForm(ModelForm):
    """One code; its code is fixed once saved (mark it not in use and add the right one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = gettext_lazy(
                "代號不能修改；不再使用時取消「使用中」，另新增正確的代號。"
            )

    def validate_unique(self):
        """The service says "already exists" in zh-TW."""

    def save(self, commit=True):
        return codes.save_code(super().save(commit=False), actor=self.request.user)


class PurposeForm(CodeForm):
    class Meta(ModelForm.Meta):
        model = PurposeCode
        fields = ["code", "name", "is_active"]
        help_texts = {
            "code": gettext_lazy("3 位數字，例如 109。"),
            "is_active": gettext_lazy("不使用的代號不再出現於選單；已選用的檔案仍保留。"),
        }


class CategoryForm(CodeForm):
    class Meta(ModelForm.Meta):
        model = CategoryCode
        fields = ["code", "group", "name", "description", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "code": gettext_lazy("C 加 3 位數字，例如 C001。"),
            "is_active": gettext_lazy("不使用的代號不再出現於選單；已選用的檔案仍保留。"),
        }


# Filters ---------------------------------------------------------------------------------------
class PurposeFilterSet(FilterSet):
    search_fields = ("code", "name")

    class Meta:
        model = PurposeCode
        fields = ["is_active"]


def group_choices():
    return [(group, group) for group in codes.category_groups()]


class CategoryFilterSet(FilterSet):
    search_fields = ("code", "name", "description")
    group = df.ChoiceFilter(label=gettext_lazy("分類"), choices=group_choices)

    class Meta:
        model = CategoryCode
        fields = ["group", "is_active"]


# API (read-only) -------------------------------------------------------------------------------
class PurposeSerializer(ModelSerializer):
    class Meta:
        model = PurposeCode
        fields = ["id", "code", "name", "is_active"]
        read_only_fields = fields


class CategorySerializer(ModelSerializer):
    class Meta:
        model = CategoryCode
        fields = ["id", "code", "group", "name", "description", "is_active"]
        read_only_fields = fields


# Registers -------------------------------------------------------------------------------------
class PurposeRegister(Register):
    model = PurposeCode
    clause = codes.CLAUSE
    access = CODE_ACCESS
    columns = [
        Column("code", gettext_lazy("代號"), link=True),
        Column("name", gettext_lazy("特定目的")),
        Column("is_active", gettext_lazy("使用中")),
    ]
    filterset_class = PurposeFilterSet
    form_class = PurposeForm
    serializer_class = PurposeSerializer
    viewset_read_only = True
    ordering = ("code",)
    paginate_by = 100
    attachments = False
    route = "purposes"
    nav_group = NAV
    nav_label = gettext_lazy("特定目的代號")
    detail_template = "privacy/codes/detail.html"


class CategoryRegister(Register):
    model = CategoryCode
    clause = codes.CLAUSE
    access = CODE_ACCESS
    columns = [
        Column("code", gettext_lazy("代號"), link=True),
        Column("group", gettext_lazy("分類")),
        Column("name", gettext_lazy("類別")),
        Column("description", gettext_lazy("說明"), page=False),
        Column("is_active", gettext_lazy("使用中")),
    ]
    filterset_class = CategoryFilterSet
    form_class = CategoryForm
    serializer_class = CategorySerializer
    viewset_read_only = True
    ordering = ("code",)
    paginate_by = 100
    attachments = False
    route = "categories"
    nav_group = NAV
    nav_label = gettext_lazy("個人資料類別代號")
    detail_template = "privacy/codes/detail.html"


class CodeDetail(DetailPage):
    """A code with how many files and notices chose it (they keep it when it is retired)."""

    def get(self, request, pk, *, status=200, **extra):
        obj = self.get_object("view")
        files = obj.files.filter(voided_at__isnull=True)
        return super().get(
            request,
            pk,
            status=status,
            code=obj,
            file_count=files.count(),
            notice_count=obj.notices.filter(voided_at__isnull=True).count(),
            can_import=codes.may_write(request.user),
            **extra,
        )


class PurposeDetail(CodeDetail):
    register = PurposeRegister


class CategoryDetail(CodeDetail):
    register = CategoryRegister


PurposeRegister.detail_view = PurposeDetail
CategoryRegister.detail_view = CategoryDetail


# Import ----------------------------------------------------------------------------------------
class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("代號清單"),
        choices=[(k, label) for k, label in codes.KIND_LABELS.items()],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    file = forms.FileField(
        label=gettext_lazy("清單檔案"),
        help_text=gettext_lazy(
            "CSV（UTF-8 或 Big5）或 XLSX，第一列為標題：特定目的為 code,name；"
            "個人資料類別為 code,group,name,description。"
        ),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": tabular.ACCEPT}),
    )
    deactivate_missing = forms.BooleanField(
        label=gettext_lazy("清單外的代號改為不使用"),
        required=False,
        help_text=gettext_lazy(
            "勾選時以此清單為現行清單：清單中沒有的代號改為不使用，清單中的代號恢復使用。"
            "代號一律不刪除。"
        ),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class ImportView(ProtectedView):
    """代號清單匯入: upload → preview (each bad row with its line, or the changes) → apply,
    all or nothing; the file rides along with the preview (base64) and is read again."""

    access = IMPORT_ACCESS
    action = "change"
    template_name = "privacy/codes/import.html"

    def page(self, *, status=200, **ctx):
        ctx.setdefault("import_form", ImportForm())
        ctx.setdefault("clause", codes.CLAUSE)
        return render(self.request, self.template_name, ctx, status=status)

    def get(self, request):
        kind = request.GET.get("kind")
        initial = {"kind": kind} if kind in codes.KINDS else {}
        return self.page(import_form=ImportForm(initial=initial))

    def post(self, request):
        if "data" in request.POST:
            return self.apply()
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.page(import_form=form, status=400)
        upload = form.cleaned_data["file"]
        kind = form.cleaned_data["kind"]
        try:
            file_kind = codes.check_upload(upload)
            data = upload.read()
            if len(data) > codes.MAX_FILE_BYTES:
                raise tabular.FileError(_("代號清單不可超過 2 MB。"))
            rows, encoding = codes.read_list(data, kind, file_kind=file_kind)
        except (tabular.FileError, ValidationError) as error:
            form.add_error("file", error.messages if hasattr(error, "messages") else str(error))
            return self.page(import_form=form, status=400)
        return self.preview(
            kind, data, file_kind, encoding, form.cleaned_data["deactivate_missing"], rows
        )

    def preview(self, kind, data, file_kind, encoding, deactivate, rows=None, **ctx):
        if rows is None:
            rows, encoding = codes.read_list(data, kind, file_kind=file_kind, encoding=encoding)
        preview = codes.compare(kind, rows, deactivate_missing=deactivate)
        status = ctx.pop("status", 400 if preview["errors"] else 200)
        model = codes.model_for(kind)
        change_rows = [
            (item["code"], model._meta.get_field(name).verbose_name, old, new)
            for item in preview["changed"]
            for name, (old, new) in item["changes"].items()
        ]
        return self.page(
            preview=preview,
            change_rows=change_rows,
            kind=kind,
            kind_label=codes.KIND_LABELS[kind],
            data=base64.b64encode(data).decode(),
            file_kind=file_kind,
            encoding=encoding,
            encoding_label=tabular.ENCODING_LABELS.get(encoding, encoding),
            deactivate=deactivate,
            import_form=ImportForm(initial={"kind": kind, "deactivate_missing": deactivate}),
            status=status,
            **ctx,
        )

    def apply(self):
        post = self.request.POST
        kind = post.get("kind")
        file_kind = post.get("file_kind") if post.get("file_kind") in tabular.KINDS else "csv"
        encoding = post.get("encoding", "")
        if encoding not in tabular.ENCODING_LABELS:
            encoding = ""
        deactivate = post.get("deactivate_missing") == "1"
        try:
            data = base64.b64decode(post.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if kind not in codes.KINDS or not data or len(data) > codes.MAX_FILE_BYTES:
            return self.page(errors=[_("請重新上傳代號清單。")], status=400)
        try:
            done = codes.import_file(
                kind,
                data,
                actor=self.request.user,
                file_kind=file_kind,
                encoding=encoding,
                deactivate_missing=deactivate,
                digest_seen=post.get("digest", ""),
            )
        except tabular.FileError as error:
            return self.page(errors=[str(error)], status=400)
        except ValidationError as error:
            return self.preview(
                kind, data, file_kind, encoding, deactivate, errors=error.messages, status=400
            )
        messages.success(self.request, codes.summary(done))
        register = PurposeRegister if kind == codes.PURPOSES else CategoryRegister
        return redirect(reverse(register.url_name("list")))


nav_link(NAV, gettext_lazy("代號清單匯入"), "privacy:codes_import", IMPORT_ACCESS)

urlpatterns = [
    path("codes/import/", ImportView.as_view(), name="codes_import"),
    *PurposeRegister.urls(),
    *CategoryRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py (read-only).
API_ROUTES = [
    (PurposeRegister, "personal-data-purposes"),
    (CategoryRegister, "personal-data-categories"),
]
