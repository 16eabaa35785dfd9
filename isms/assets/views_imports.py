"""Pages of the property-list (財產清冊) import (issue 6 point 5).

Upload (CSV or XLSX) → choose the encoding when it cannot be told, the header line and the
columns (and a kind for 類別 words the dictionary does not know) → every row is read and
compared within the request (5,000 rows in a constant number of queries) → the preview:
assets to add, to update (old → new), unchanged, unusable rows with their line → apply in
one transaction, all or nothing, or discard. The pages are the import flow of
isms/core/importflow.py; what is the import's own is here: the kind chosen for unknown
words, the preview's groups and links, the template file.

Who may do what: the 設備組長 and system administrators upload, map and apply; the
security officer, the supervisor and the principal read; everyone else is refused (403).
"""

from django import forms
from django.http import HttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core import importflow, tabular
from isms.core.access import Access
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


class ColumnsForm(importflow.ColumnsForm):
    """The officer's choice of columns; the property number and the name are required."""

    service = imports
    required = imports.REQUIRED

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
        super().__init__(*args, imp=imp, **kwargs)
        self.fields["default_kind"].choices = [("", _("—（列為無法匯入）")), *Asset.Kind.choices]
        self.fields["kind"].help_text = _("依類別對照表對應，見下方說明。")
        self.fields["unit"].help_text = _("依名稱或代碼對應到單位資料。")
        self.fields["custodian"].help_text = _("依姓名對應到人員資料；同名時以使用單位區分。")
        self.fields["state"].help_text = _("使用中、庫存、維修中、待啟用；不變更已登記資產的狀態。")

    def initial_for(self, imp) -> dict:
        return {"default_kind": imp.mapping.get("default_kind") or ""}


# Pages ----------------------------------------------------------------------------------------
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


GROUP_TITLES = {
    "new": gettext_lazy("新增到登記簿的資產"),
    "update": gettext_lazy("資料有變動的資產（更新）"),
    "unchanged": gettext_lazy("資料相同的資產"),
    "needs_a1": gettext_lazy("清冊為使用中、須先有啟用紀錄（A-1）的新資產"),
    "state": gettext_lazy("狀態與登記簿不同（匯入不變更狀態）"),
    "kind": gettext_lazy("類別與登記簿不同（匯入不變更類別）"),
    "transfer": gettext_lazy("存有個人資料、須經移轉他用的變動（匯入不變更）"),
    "missing": gettext_lazy("登記簿有、清冊中沒有的資產"),
}


class ImportView(importflow.ImportFlowView):
    """The matrix alone decides: every import may be read by the readers, changed by the writers."""

    access = IMPORT_ACCESS
    model = AssetImport
    service = imports
    clause = "2.1"
    result_field = "preview"
    upload_form_class = UploadForm
    columns_form_class = ColumnsForm
    group_titles = GROUP_TITLES
    template_dir = "assets/imports"
    list_url = "assets:import_list"
    closed_message = gettext_lazy("此清冊已匯入或已放棄，無法再變更欄位。")
    bad_rows_message = gettext_lazy("已讀取 %(rows)d 筆，其中 %(bad)d 筆無法匯入；請檢視下列原因。")
    stale_message = gettext_lazy("登記簿或清冊在預覽後有變動，已重新比對；請再檢視預覽後匯入。")
    not_applied_message = gettext_lazy("未匯入任何資料。")
    applied_message = gettext_lazy("已匯入：新增 %(added)d 筆、更新 %(updated)d 筆資產。")
    discarded_message = gettext_lazy("已放棄此清冊，登記簿未變更。")

    def columns_context(self, imp) -> dict:
        return {"kind_words": imports.kind_words()}

    def run_options(self, form) -> dict:
        return {"default_kind": form.cleaned_data.get("default_kind") or ""}

    def label_entry(self, entry):
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
        return entry

    def result_context(self, request, imp, result) -> dict:
        applied = result.get("applied")
        if applied:
            applied = {
                **applied,
                "a1": [
                    (number, name, _asset_url(pk), _commission_url(pk))
                    for pk, number, name in applied["a1"]
                ],
            }
        posted = request.POST if request.method == "POST" else None
        return {
            "kinds": [
                {**k, "label": KIND_LABELS.get(k["kind"], k["kind"])}
                for k in result.get("kinds", [])
            ],
            "default_kind": KIND_LABELS.get(result.get("default_kind") or "", ""),
            "applied": applied,
            "skip_bad": bool(posted and posted.get("skip_bad") == "on"),
        }

    def apply(self, request, imp, **choices):
        return imports.apply(imp, actor=request.user, **choices)


class ImportListView(ImportView, importflow.ListView):
    """The imports so far, and the upload form."""


class ImportUploadView(ImportView, importflow.UploadView):
    """Store an uploaded property list and go to its column choice."""


class ImportTemplateView(ImportView):
    """An empty property list with the headers the import expects (UTF-8 with BOM)."""

    def get(self, request):
        response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=_("財產清冊範本") + ".csv"
        )
        return response


class ImportDetailView(ImportView, importflow.DetailView):
    """The column choice (uploaded), or the preview and the apply form (read)."""


class ImportColumnsView(ImportView, importflow.ColumnsView):
    """Choose the encoding and the columns; then every row is read and compared."""


class ImportApplyView(ImportView, importflow.ApplyView):
    """Apply the preview in one step: all or nothing."""


class ImportDiscardView(ImportView, importflow.DiscardView):
    """Give up a property list; the register is not changed."""


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
