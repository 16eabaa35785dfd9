"""Pages of the repair-ticket import (報修系統 → 資訊工作日誌; clause 2.5.1).

Upload (CSV or XLSX) → choose the encoding when it cannot be told, the header line and the
columns → every row is read and compared within the request → the preview: entries to
add, to update (old → new), unchanged, tickets whose entry is reviewed or voided (not
changed), unusable rows with their line → apply in one transaction, all or nothing, or
discard. The pages are the import flow of isms/core/importflow.py; what is the import's
own is here: the preview's groups and labels, the template file.

Who may do what: system administrators upload, map and apply; the supervisor, the
security officer and the principal read; everyone else is refused (403).
"""

from django import forms
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core import importflow, tabular
from isms.core.access import Access
from isms.core.registers import as_text, nav_link
from isms.core.roles import PRINCIPAL, SECURITY_OFFICER, SUPERVISOR, SYSADMIN

from . import worklog_imports as imports
from .models import WorkLogEntry, WorkLogImport
from .nav import NAV

WRITERS = frozenset({SYSADMIN})
IMPORT_ACCESS = Access(
    view=WRITERS | {SUPERVISOR, SECURITY_OFFICER, PRINCIPAL}, add=WRITERS, change=WRITERS
)
KIND_LABELS = dict(WorkLogEntry.Kind.choices)


# Forms ----------------------------------------------------------------------------------------
class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("報修紀錄"),
        help_text=gettext_lazy(
            "由校內報修系統匯出的報修紀錄：CSV（UTF-8 或 Big5，以逗號、Tab 或分號分隔）或"
            " XLSX（第一個工作表），須有標題列。"
        ),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": tabular.ACCEPT}),
    )


class ColumnsForm(importflow.ColumnsForm):
    """The administrator's choice of columns; 類別 and 處理措施 may be left out."""

    service = imports
    required = imports.REQUIRED

    def __init__(self, *args, imp, **kwargs):
        super().__init__(*args, imp=imp, **kwargs)
        self.fields["ticket_number"].help_text = _("同一報修單重新匯入時更新原日誌，不會重複。")
        self.fields["system"].help_text = _("與資訊系統清冊同名者對應到該系統；否則照錄名稱。")
        self.fields["kind"].help_text = _("依類別對照表對應，見下方說明；未對應時為「其它」。")
        self.fields["administrator"].help_text = _("依姓名或帳號對應到登入帳號；否則照錄姓名。")


# Pages ----------------------------------------------------------------------------------------
def _entry_url(pk) -> str:
    return reverse("operations:worklogentry_detail", args=[pk])


def _moment(iso: str) -> str:
    moment = parse_datetime(iso or "")
    return as_text(moment) if moment is not None else ""


def _kind(pair) -> str:
    kind, other = pair
    label = str(KIND_LABELS.get(kind, kind))
    if kind == WorkLogEntry.Kind.OTHER and other:
        return _("其它：%(what)s") % {"what": other}
    return label


def _part(name, value) -> str:
    """A part of an entry (as ``worklog_imports.compare`` keeps it) as the page shows it."""
    if value is None:
        return ""
    if name == "operated_at":
        return _moment(value)
    if name in ("system", "administrator"):
        return value[1]
    if name == "kind":
        return _kind(value)
    return value


LINKED = {
    "system": (gettext_lazy("（連結到資訊系統清冊）"), gettext_lazy("（未登記的系統）")),
    "administrator": (gettext_lazy("（連結到登入帳號）"), gettext_lazy("（不連結登入帳號）")),
}


def _link_part(name, old, new) -> str:
    """The new value of a change; a system or handler of the same name that becomes (or
    stops being) linked says so, or the change would read 「陳志明 → 陳志明」."""
    text = _part(name, new)
    if name in LINKED and old and new and old[1] == new[1]:
        linked, unlinked = LINKED[name]
        text += str(linked if new[0] else unlinked)
    return text


CHANGE_LABELS = {
    "operated_at": gettext_lazy("操作日期"),
    "system": gettext_lazy("系統名稱"),
    "kind": gettext_lazy("操作事項"),
    "description": gettext_lazy("操作說明"),
    "correction": gettext_lazy("系統錯誤改正措施說明"),
    "administrator": gettext_lazy("系統管理人員"),
}
GROUP_TITLES = {
    "new": gettext_lazy("新增到工作日誌的報修單"),
    "update": gettext_lazy("資料有變動的日誌（更新）"),
    "unchanged": gettext_lazy("資料相同的日誌"),
    "locked": gettext_lazy("已經主管覆核或已作廢的日誌（不更新）"),
}


class ImportView(importflow.ImportFlowView):
    """The matrix alone decides: every import may be read by the readers, changed by the writers."""

    access = IMPORT_ACCESS
    model = WorkLogImport
    service = imports
    clause = "2.5.1"
    result_field = "preview"
    upload_form_class = UploadForm
    columns_form_class = ColumnsForm
    group_titles = GROUP_TITLES
    template_dir = "operations/worklog_imports"
    list_url = "operations:worklog_import_list"
    closed_message = gettext_lazy("此報修紀錄已匯入或已放棄，無法再變更欄位。")
    bad_rows_message = gettext_lazy("已讀取 %(rows)d 筆，其中 %(bad)d 筆無法匯入；請檢視下列原因。")
    stale_message = gettext_lazy(
        "工作日誌或報修紀錄在預覽後有變動，已重新比對；請再檢視預覽後匯入。"
    )
    not_applied_message = gettext_lazy("未匯入任何資料。")
    applied_message = gettext_lazy("已匯入：新增 %(added)d 筆、更新 %(updated)d 筆日誌。")
    discarded_message = gettext_lazy("已放棄此報修紀錄，工作日誌未變更。")

    def columns_context(self, imp) -> dict:
        return {"kind_words": imports.kind_words()}

    def label_entry(self, entry):
        if entry.get("id"):
            entry["url"] = _entry_url(entry["id"])
        if "parts" in entry:
            entry["shown"] = {name: _part(name, v) for name, v in entry["parts"].items()}
            entry["linked_system"] = bool(entry["parts"]["system"][0])
            entry["linked_administrator"] = bool(entry["parts"]["administrator"][0])
        if "changes" in entry:
            entry["changes"] = [
                (CHANGE_LABELS[name], _part(name, old), _link_part(name, old, new))
                for name, (old, new) in entry["changes"].items()
            ]
        return entry

    def result_context(self, request, imp, result) -> dict:
        posted = request.POST if request.method == "POST" else None
        return {
            "kinds": [
                {**k, "label": _kind([k["kind"], k["other"]])} for k in result.get("kinds", [])
            ],
            "skip_bad": bool(posted and posted.get("skip_bad") == "on"),
        }

    def apply(self, request, imp, **choices):
        return imports.apply(imp, actor=request.user, **choices)


class ImportListView(ImportView, importflow.ListView):
    """The imports so far, and the upload form."""


class ImportUploadView(ImportView, importflow.UploadView):
    """Store an uploaded export and go to its column choice."""


class ImportTemplateView(ImportView):
    """An empty export with the headers the import expects (UTF-8 with BOM)."""

    def get(self, request):
        response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=_("報修紀錄範本") + ".csv"
        )
        return response


class ImportDetailView(ImportView, importflow.DetailView):
    """The column choice (uploaded), or the preview and the apply form (read)."""


class ImportColumnsView(ImportView, importflow.ColumnsView):
    """Choose the encoding and the columns; then every row is read and compared."""


class ImportApplyView(ImportView, importflow.ApplyView):
    """Apply the preview in one step: all or nothing."""


class ImportDiscardView(ImportView, importflow.DiscardView):
    """Give up an export; the work log is not changed."""


urlpatterns = [
    path("work-log/imports/", ImportListView.as_view(), name="worklog_import_list"),
    path("work-log/imports/upload/", ImportUploadView.as_view(), name="worklog_import_upload"),
    path(
        "work-log/imports/template.csv",
        ImportTemplateView.as_view(),
        name="worklog_import_template",
    ),
    path("work-log/imports/<int:pk>/", ImportDetailView.as_view(), name="worklogimport_detail"),
    path(
        "work-log/imports/<int:pk>/columns/",
        ImportColumnsView.as_view(),
        name="worklogimport_columns",
    ),
    path("work-log/imports/<int:pk>/apply/", ImportApplyView.as_view(), name="worklogimport_apply"),
    path(
        "work-log/imports/<int:pk>/discard/",
        ImportDiscardView.as_view(),
        name="worklogimport_discard",
    ),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = []

nav_link(NAV, gettext_lazy("報修紀錄匯入"), "operations:worklog_import_list", IMPORT_ACCESS)
