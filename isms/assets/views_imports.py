"""Pages of the property-list (財產清冊) import (issue 6 point 5).

Upload (CSV or XLSX) → choose the encoding when it cannot be told, the header line and the
columns (and a kind for 類別 words the dictionary does not know) → every row is read and
compared within the request (5,000 rows in a constant number of queries) → the preview:
assets to add, to update (old → new), unchanged, unusable rows with their line → apply in
one transaction, all or nothing, or discard.

Who may do what: the 設備組長, system administrators and the security officer upload,
map and apply; the supervisor and the principal read; everyone else is refused (403).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core import tabular
from isms.core.access import Access, can
from isms.core.generic import ProtectedView
from isms.core.registers import nav_link
from isms.core.roles import EQUIPMENT_HEAD, PRINCIPAL, SECURITY_OFFICER, SUPERVISOR, SYSADMIN

from . import imports
from .models import Asset, AssetImport
from .nav import NAV

# Those who keep the register import into it; the security officer and the heads read.
WRITERS = frozenset({EQUIPMENT_HEAD, SYSADMIN})
IMPORT_ACCESS = Access(
    view=WRITERS | {SECURITY_OFFICER, SUPERVISOR, PRINCIPAL}, add=WRITERS, change=WRITERS
)
CLAUSE = "2.1"
# Rows shown per group and unusable rows listed (the counts are always complete).
SHOW = 500
SHOW_ERRORS = 500
Status = AssetImport.Status
KIND_LABELS = dict(Asset.Kind.choices)
STATE_LABELS = dict(Asset.State.choices)


# Forms ----------------------------------------------------------------------------------------
class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("財產清冊"),
        help_text=gettext_lazy(
            "由財產管理系統匯出的財產清冊：CSV（UTF-8 或 Big5，以逗號、Tab 或分號分隔）或"
            " XLSX（第一個工作表），須有標題列。"
        ),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": tabular.ACCEPT}),
    )


def _column_choices(header):
    blank = _("（空白）")
    return [("", _("—（不使用）"))] + [
        (str(i), f"{i + 1}. {name or blank}") for i, name in enumerate(header)
    ]


class ColumnsForm(forms.Form):
    """The officer's choice of columns; the property number and the name are required."""

    header_line = forms.IntegerField(
        label=gettext_lazy("標題列在第幾行"),
        min_value=1,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    default_kind = forms.ChoiceField(
        label=gettext_lazy("無法對應的類別"),
        required=False,
        help_text=gettext_lazy(
            "類別欄的字詞不在對照表中（或空白）時：列為無法匯入，或新增為所選的類別；"
            "已登記的資產不因此改變類別。"
        ),
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, imp, **kwargs):
        mapping = imp.mapping
        initial = {
            "header_line": mapping.get("header_line") or 1,
            "encoding": tabular.encoding_choice(imp.encoding) or "utf-8",
            "default_kind": mapping.get("default_kind") or "",
        }
        for field, index in (mapping.get("columns") or {}).items():
            initial[field] = "" if index is None else str(index)
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["default_kind"].choices = [("", _("—（列為無法匯入）")), *Asset.Kind.choices]
        if mapping.get("kind") == "csv":
            self.fields["encoding"] = forms.ChoiceField(
                label=gettext_lazy("檔案編碼"),
                choices=tabular.ENCODINGS,
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        choices = _column_choices(mapping.get("header") or [])
        for field in imports.FIELDS:
            label = imports.FIELD_LABELS[field]
            self.fields[field] = forms.ChoiceField(
                label=label,
                choices=choices,
                required=field in imports.REQUIRED,
                error_messages={"required": _("請選擇「%(field)s」欄位。") % {"field": label}},
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        self.fields["kind"].help_text = _("依類別對照表對應，見下方說明。")
        self.fields["unit"].help_text = _("依名稱或代碼對應到單位資料。")
        self.fields["custodian"].help_text = _("依姓名對應到人員資料；同名時以使用單位區分。")
        self.fields["state"].help_text = _("使用中、庫存、維修中、待啟用；不變更已登記資產的狀態。")

    def column_fields(self):
        return [self[f] for f in imports.FIELDS]

    def clean(self):
        data = super().clean()
        seen = {}
        for field in imports.FIELDS:
            value = data.get(field)
            if value in (None, ""):
                continue
            if value in seen:
                self.add_error(
                    field,
                    _("此欄已對應為「%(other)s」。") % {"other": imports.FIELD_LABELS[seen[value]]},
                )
            seen[value] = field
        return data

    def columns(self) -> dict:
        return {
            f: (int(self.cleaned_data[f]) if self.cleaned_data.get(f) not in (None, "") else None)
            for f in imports.FIELDS
        }


# Pages ----------------------------------------------------------------------------------------
class ImportView(ProtectedView):
    access = IMPORT_ACCESS

    def get_import(self) -> AssetImport:
        imp = (
            AssetImport.objects.select_related("uploaded_by__person", "applied_by__person")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if imp is None:
            raise Http404
        return imp

    def list_page(self, request, form=None, status=200):
        can_upload = can(request.user, "add", self.access)
        if can_upload and form is None:
            form = UploadForm()
        imports_ = AssetImport.objects.select_related(
            "uploaded_by__person", "applied_by__person"
        ).defer("preview", "mapping")
        return render(
            request,
            "assets/imports/list.html",
            {
                "imports": list(imports_[:100]),
                "form": form,
                "can_upload": can_upload,
                "clause": CLAUSE,
            },
            status=status,
        )


class ImportListView(ImportView):
    """The imports so far, and the upload form."""

    def get(self, request):
        return self.list_page(request)


class ImportUploadView(ImportView):
    action = "add"

    def get(self, request):
        return redirect("assets:import_list")

    def post(self, request):
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.list_page(request, form=form, status=400)
        upload = form.cleaned_data["file"]
        try:
            kind = imports.check_file(upload)
            upload.seek(0)
            imp = imports.save_upload(
                upload=upload, data=upload.read(), kind=kind, actor=request.user
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("file", message)
            return self.list_page(request, form=form, status=400)
        except imports.FileError as error:
            form.add_error("file", str(error))
            return self.list_page(request, form=form, status=400)
        if imp.mapping.get("header"):
            messages.success(request, _("已上傳，請確認各欄位的對應。"))
        else:
            messages.warning(request, _("無法判斷檔案的編碼，請選擇檔案編碼。"))
        return redirect(imp.get_absolute_url())


class ImportTemplateView(ImportView):
    """An empty property list with the headers the import expects (UTF-8 with BOM)."""

    def get(self, request):
        response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=_("財產清冊範本") + ".csv"
        )
        return response


def _url(name, *args) -> str:
    """A page of another part of the module, or "" when it is not installed."""
    try:
        return reverse(f"assets:{name}", args=args)
    except NoReverseMatch:
        return ""


def _asset_url(pk) -> str:
    return _url("asset_detail", pk)


def _commission_url(pk) -> str:
    """The A-1 form opened for this asset as a commissioning."""
    url = _url("commissioningrecord_add")
    return f"{url}?asset={pk}&kind=commission" if url else ""


def _label(field, value):
    if value is None or value == "":
        return ""
    if field == "kind":
        return KIND_LABELS.get(value, value)
    if field in ("unit", "custodian"):
        return value[1]
    return value


def _shown(entries):
    out = []
    for entry in entries[:SHOW]:
        entry = dict(entry)
        if entry.get("id"):
            entry["url"] = _asset_url(entry["id"])
        if "kind" in entry:
            entry["kind_label"] = KIND_LABELS.get(entry["kind"], entry["kind"])
        for key in ("kind_from", "kind_to"):
            if key in entry:
                entry[f"{key}_label"] = KIND_LABELS.get(entry[key], entry[key])
        for key in ("state", "from", "to"):
            if key in entry:
                entry[f"{key}_label"] = STATE_LABELS.get(entry[key], entry[key])
        if "changes" in entry:
            entry["changes"] = [
                (imports.FIELD_LABELS[f], _label(f, old), _label(f, new))
                for f, (old, new) in entry["changes"].items()
            ]
        out.append(entry)
    return out


GROUP_TITLES = {
    "new": gettext_lazy("新增到登記簿的資產"),
    "update": gettext_lazy("資料有變動的資產（更新）"),
    "unchanged": gettext_lazy("資料相同的資產"),
    "needs_a1": gettext_lazy("清冊為使用中、須先有啟用紀錄（A-1）的新資產"),
    "state": gettext_lazy("狀態與登記簿不同（匯入不變更狀態）"),
    "kind": gettext_lazy("類別與登記簿不同（匯入不變更類別）"),
    "missing": gettext_lazy("登記簿有、清冊中沒有的資產"),
}


class ImportDetailView(ImportView):
    """The column choice (uploaded), or the preview and the apply form (read)."""

    def get(self, request, pk):
        imp = self.get_import()
        if imp.status == Status.UPLOADED:
            return self.columns_page(request, imp)
        return self.preview_page(request, imp)

    def columns_page(self, request, imp, form=None, status=200):
        writable = can(request.user, "change", self.access)
        needs_encoding = imp.mapping.get("kind") == "csv" and not imp.mapping.get("header")
        ctx = {
            "imp": imp,
            "can_write": writable,
            "needs_encoding": needs_encoding,
            "clause": CLAUSE,
        }
        if needs_encoding:
            ctx["previews"] = tabular.encoding_previews(imports.file_data(imp))
            ctx["encodings"] = tabular.ENCODINGS
        else:
            columns = imp.mapping.get("columns") or {}
            ctx.update(
                form=form or ColumnsForm(imp=imp),
                header=imp.mapping.get("header", []),
                sample=imp.mapping.get("sample", []),
                no_guess=[
                    imports.FIELD_LABELS[f] for f in imports.REQUIRED if columns.get(f) is None
                ],
                kind_words=imports.kind_words(),
            )
            if imp.mapping.get("kind") == "csv":
                ctx["delimiter"] = tabular.DELIMITER_NAMES.get(imp.mapping.get("delimiter"), "")
                ctx["encoding_label"] = tabular.ENCODING_LABELS.get(imp.encoding, imp.encoding)
        return render(request, "assets/imports/columns.html", ctx, status=status)

    def preview_page(self, request, imp, status=200):
        preview = imp.preview or {}
        groups = preview.get("groups") or {}
        counts = preview.get("counts") or {}
        sections = [
            {
                "name": name,
                "title": GROUP_TITLES[name],
                "count": counts.get(name, 0),
                "entries": _shown(groups.get(name, [])),
                "more": max(0, counts.get(name, 0) - SHOW),
            }
            for name in imports.GROUPS
        ]
        errors = [{**e, "text": imports.error_text(e)} for e in (imp.errors or [])[:SHOW_ERRORS]]
        applied = preview.get("applied")
        if applied:
            applied = {
                **applied,
                "a1": [
                    (number, name, _asset_url(pk), _commission_url(pk))
                    for pk, number, name in applied["a1"]
                ],
            }
        writable = can(request.user, "change", self.access)
        posted = request.POST if request.method == "POST" else None
        ctx = {
            "imp": imp,
            "sections": sections,
            "by_name": {s["name"]: s for s in sections},
            "errors": errors,
            "error_count": len(imp.errors or []),
            "more_errors": max(0, len(imp.errors or []) - SHOW_ERRORS),
            "kinds": [
                {**k, "label": KIND_LABELS.get(k["kind"], k["kind"])}
                for k in preview.get("kinds", [])
            ],
            "default_kind": KIND_LABELS.get(preview.get("default_kind") or "", ""),
            "mapped": preview.get("mapped") or {},
            "applied": applied,
            "can_apply": imp.status == Status.READ and writable,
            "can_write": writable,
            "skip_bad": bool(posted and posted.get("skip_bad") == "on"),
            "clause": CLAUSE,
        }
        return render(request, "assets/imports/detail.html", ctx, status=status)


class ImportColumnsView(ImportDetailView):
    """Choose the encoding and the columns; then every row is read and compared."""

    action = "change"

    def get(self, request, pk):
        return redirect("assets:assetimport_detail", pk=pk)

    def post(self, request, pk):
        imp = self.get_import()
        if imp.status not in (Status.UPLOADED, Status.READ):
            messages.error(request, _("此清冊已匯入或已放棄，無法再變更欄位。"))
            return redirect(imp.get_absolute_url())
        if request.POST.get("reopen"):
            imports.reopen(imp, actor=request.user)
            return redirect(imp.get_absolute_url())
        kind = imp.mapping.get("kind", "csv")
        try:
            header_line = int(request.POST.get("header_line") or 0) or None
        except ValueError:
            header_line = None
        current = tabular.encoding_choice(imp.encoding)
        encoding = imp.encoding
        if kind == "csv":
            encoding = request.POST.get("encoding", "")
            if encoding not in dict(tabular.ENCODINGS):
                messages.error(request, _("請選擇檔案編碼。"))
                return self.columns_page(request, imp, status=400)
        changed = (kind == "csv" and encoding != current) or (
            header_line is not None and header_line != imp.mapping.get("header_line")
        )
        if changed or not imp.mapping.get("header"):
            try:
                imports.reinspect(
                    imp, encoding=encoding, header_line=header_line, actor=request.user
                )
            except imports.FileError as error:
                messages.error(request, str(error))
                return redirect(imp.get_absolute_url())
            messages.info(request, _("已重新讀取標題列，請確認各欄位的對應。"))
            return redirect(imp.get_absolute_url())
        form = ColumnsForm(request.POST, imp=imp)
        if not form.is_valid():
            return self.columns_page(request, imp, form=form, status=400)
        try:
            imports.run(
                imp,
                columns=form.columns(),
                default_kind=form.cleaned_data.get("default_kind") or "",
                actor=request.user,
            )
        except imports.FileError as error:
            form.add_error(None, str(error))
            return self.columns_page(request, imp, form=form, status=400)
        if imp.errors:
            messages.warning(
                request,
                _("已讀取 %(rows)d 筆，其中 %(bad)d 筆無法匯入；請檢視下列原因。")
                % {"rows": imp.rows, "bad": len(imp.errors)},
            )
        else:
            messages.success(request, _("已讀取並比對 %(rows)d 筆。") % {"rows": imp.rows})
        return redirect(imp.get_absolute_url())


class ImportApplyView(ImportDetailView):
    """Apply the preview in one step: all or nothing."""

    action = "change"

    def get(self, request, pk):
        return redirect("assets:assetimport_detail", pk=pk)

    def post(self, request, pk):
        imp = self.get_import()
        try:
            counts = imports.apply(
                imp,
                actor=request.user,
                digest_seen=request.POST.get("digest", ""),
                skip_bad=request.POST.get("skip_bad") == "on",
            )
        except imports.Stale:
            messages.warning(
                request, _("登記簿或清冊在預覽後有變動，已重新比對；請再檢視預覽後匯入。")
            )
            return redirect(imp.get_absolute_url())
        except imports.FileError as error:
            messages.error(request, str(error))
            return redirect(imp.get_absolute_url())
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            messages.error(request, _("未匯入任何資料。"))
            return self.preview_page(request, imp, status=400)
        messages.success(
            request,
            _("已匯入：新增 %(added)d 筆、更新 %(updated)d 筆資產。")
            % {"added": counts["added"], "updated": counts["updated"]},
        )
        return redirect(imp.get_absolute_url())


class ImportDiscardView(ImportDetailView):
    action = "change"

    def get(self, request, pk):
        return redirect("assets:assetimport_detail", pk=pk)

    def post(self, request, pk):
        imp = self.get_import()
        if imports.discard(imp, actor=request.user):
            messages.info(request, _("已放棄此清冊，登記簿未變更。"))
        return redirect("assets:import_list")


urlpatterns = [
    path("imports/", ImportListView.as_view(), name="import_list"),
    path("imports/upload/", ImportUploadView.as_view(), name="import_upload"),
    path("imports/template.csv", ImportTemplateView.as_view(), name="import_template"),
    path("imports/<int:pk>/", ImportDetailView.as_view(), name="assetimport_detail"),
    path("imports/<int:pk>/columns/", ImportColumnsView.as_view(), name="assetimport_columns"),
    path("imports/<int:pk>/apply/", ImportApplyView.as_view(), name="assetimport_apply"),
    path("imports/<int:pk>/discard/", ImportDiscardView.as_view(), name="assetimport_discard"),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = []

nav_link(NAV, gettext_lazy("財產清冊匯入"), "assets:import_list", IMPORT_ACCESS)
