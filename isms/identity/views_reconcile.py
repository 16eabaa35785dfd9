"""Pages of the reconciliation of an account list exported from a system (2.7).

Upload (CSV or XLSX) → choose the columns (and the encoding, when it cannot be told) →
the file is read and compared within the request (10,000 rows take well under a second;
see bench/reconcile.py) → the differences, grouped → apply in one step: in the request,
or, with more than ISMS_IMPORT_INLINE_CHANGES changes, by the worker while the page shows
its progress (polled with htmx). The pages are the import flow of isms/core/importflow.py;
what is the reconciliation's own is here: the system and the unused days, the groups and
the apply's choices.

Who may do what: the security officer and system administrators (the sysadmin role), and
the administrators of the system concerned, upload and apply; the supervisor and the
principal read; everyone else is refused. An import of a system outside a person's reach
is a 404.
"""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from isms.core import importflow
from isms.core.access import Access, can
from isms.core.registers import nav_link
from isms.core.roles import PRINCIPAL, SECURITY_OFFICER, SUPERVISOR, SYSADMIN

from . import reconcile
from .models import Account, AccountImport, InformationSystem
from .views import NAV

WRITERS = frozenset({SECURITY_OFFICER, SYSADMIN})
READERS = WRITERS | {SUPERVISOR, PRINCIPAL}
RECONCILE_ACCESS = Access(view=READERS, add=WRITERS, change=WRITERS)
Status = AccountImport.Status
STATUS_LABELS = dict(Account.Status.choices)
KIND_LABELS = dict(Account.Kind.choices)


# Forms ----------------------------------------------------------------------------------------
class UploadForm(forms.Form):
    system = forms.ModelChoiceField(
        label=gettext_lazy("系統"),
        queryset=InformationSystem.objects.none(),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    file = forms.FileField(
        label=gettext_lazy("帳號清單"),
        help_text=gettext_lazy(
            "由系統匯出的帳號清單：CSV（UTF-8 或 Big5，以逗號、Tab 或分號分隔）或 XLSX"
            "（第一個工作表），須有標題列。"
        ),
        widget=forms.ClearableFileInput(
            attrs={"class": "form-control", "accept": ".csv,.txt,.tsv,.xlsx"}
        ),
    )
    unused_days = forms.IntegerField(
        label=gettext_lazy("未使用天數"),
        min_value=1,
        max_value=3650,
        help_text=gettext_lazy("超過此天數未登入（或從未登入）的啟用帳號列為未使用。"),
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, systems, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = systems
        self.fields["unused_days"].initial = settings.ISMS_ACCOUNT_UNUSED_DAYS


class ColumnsForm(importflow.ColumnsForm):
    """The officer's choice of columns; only the account name is required."""

    service = reconcile
    required = ("account",)

    unused_days = forms.IntegerField(
        label=gettext_lazy("未使用天數"),
        min_value=1,
        max_value=3650,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, imp, **kwargs):
        super().__init__(*args, imp=imp, **kwargs)
        self.fields["privileged"].help_text = _(
            "標示為 1、true、Y、是、admin、管理者等值的帳號視為特權帳號；"
            "admin、root 等名稱不論此欄一律視為特權帳號。"
        )

    def initial_for(self, imp) -> dict:
        return {"unused_days": imp.unused_days}

    def required_message(self, label) -> str:
        return _("請選擇帳號欄位；沒有帳號欄位的清單無法比對。")


# Access ---------------------------------------------------------------------------------------
def administered(user) -> set[int]:
    """The systems this person administers (cached on the user for the request)."""
    cached = getattr(user, "_isms_administered", None)
    if cached is None:
        cached = set(
            InformationSystem.objects.filter(administrators=user).values_list("pk", flat=True)
        )
        user._isms_administered = cached
    return cached


# The import flow ------------------------------------------------------------------------------
def _moment(value):
    if not value:
        return None
    return dt.datetime.fromisoformat(value)


GROUP_TITLES = {
    "new": gettext_lazy("登記簿沒有的帳號（新增）"),
    "gone": gettext_lazy("清單中已沒有的帳號（標記為已刪除）"),
    "departed": gettext_lazy("離職人員仍啟用的帳號"),
    "unused": gettext_lazy("從未使用或久未使用的帳號"),
    "shared": gettext_lazy("共用帳號"),
    "privileged": gettext_lazy("未列入特權帳號清單（A-4）的特權帳號"),
    "status": gettext_lazy("啟用狀態不一致"),
    "updates": gettext_lazy("顯示名稱、電子郵件或最後登入有變動"),
    "suggest": gettext_lazy("登記簿未指定使用人：建議的使用人"),
}


class ReconcileView(importflow.ImportFlowView):
    """The reconciliation's import flow.

    The matrix, or being an administrator of some system, lets a person in; an
    administrator reaches only the lists of the systems they administer.
    """

    access = RECONCILE_ACCESS
    model = AccountImport
    service = reconcile
    clause = "2.7"
    related = ("system", "uploaded_by__person", "applied_by__person")
    result_field = "differences"
    columns_form_class = ColumnsForm
    group_titles = GROUP_TITLES
    show = 1000
    template_dir = "identity/reconcile"
    progress_template = "identity/reconcile/_progress.html"
    list_url = "identity:reconcile"
    closed_message = gettext_lazy("此清單已套用或已放棄，無法再變更欄位。")
    busy_message = gettext_lazy("此清單正在套用，請稍候。")
    bad_rows_message = gettext_lazy("已讀取 %(rows)d 筆，其中 %(bad)d 筆無法讀取；請檢視下列原因。")
    stale_message = gettext_lazy("登記簿或清單在比對後有變動，已重新比對；請再檢視差異後套用。")
    not_applied_message = gettext_lazy("未套用任何變更。")
    queued_message = gettext_lazy("變更較多，已交由背景程序在同一交易中套用；本頁會顯示進度。")
    applied_message = gettext_lazy(
        "已套用：新增 %(added)d 個帳號、標記 %(removed)d 個為已刪除、變更 %(status)d 個的"
        "啟用狀態、更新 %(updated)d 個的資料、指定 %(adopted)d 個的使用人、建立 "
        "%(offboarded)d 項帳號移除工作。"
    )
    discarded_message = gettext_lazy("已放棄此清單，登記簿未變更。")

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (can(user, self.action, self.access) or administered(user)):
            raise PermissionDenied
        return View.dispatch(self, request, *args, **kwargs)

    def may_upload(self) -> bool:
        user = self.request.user
        return can(user, "add", self.access) or bool(administered(user))

    def may_read(self, imp) -> bool:
        user = self.request.user
        return can(user, "view", self.access) or imp.system_id in administered(user)

    def may_write(self, imp) -> bool:
        user = self.request.user
        return can(user, "change", self.access) or imp.system_id in administered(user)

    def readable(self, imports):
        user = self.request.user
        if can(user, "view", self.access):
            return imports
        return imports.filter(system_id__in=administered(user))

    def systems(self):
        """The systems a list may be uploaded for: all, or those the person administers."""
        user = self.request.user
        systems = InformationSystem.objects.active()
        if can(user, "add", self.access):
            return systems
        return systems.filter(pk__in=administered(user))

    def upload_form(self, *args):
        return UploadForm(*args, systems=self.systems())

    def upload_options(self, form) -> dict:
        return {
            "system": form.cleaned_data["system"],
            "unused_days": form.cleaned_data["unused_days"],
        }

    def run_options(self, form) -> dict:
        return {"unused_days": form.cleaned_data["unused_days"]}

    def label_entry(self, entry):
        if entry.get("last_sign_in"):
            entry["last_sign_in"] = _moment(entry["last_sign_in"])
        for name in ("from", "to", "status"):
            if name in entry:
                entry[f"{name}_label"] = STATUS_LABELS.get(entry[name], entry[name])
        person = entry.get("person")
        if person and person.get("leave_date"):
            entry["person"] = {**person, "leave_date": dt.date.fromisoformat(person["leave_date"])}
        if entry.get("kind"):
            entry["kind_label"] = KIND_LABELS.get(entry["kind"], entry["kind"])
        if "changes" in entry:
            changes = []
            for field, (old, new) in entry["changes"].items():
                if field == "last_sign_in":
                    old, new = _moment(old), _moment(new)
                changes.append((reconcile.FIELD_LABELS[field], old, new))
            entry["changes"] = changes
        return entry

    def result_context(self, request, imp, result) -> dict:
        groups = result.get("groups") or {}
        options = imp.apply_options or {}
        posted = request.POST if request.method == "POST" else None
        # After a refused apply (in the request or in the worker) the choices are shown again.
        chosen = (
            {
                "unmatched_kind": posted.get("unmatched_kind", ""),
                "skip_new": set(posted.getlist("skip_new")),
                "adopt": set(posted.getlist("adopt")),
                "skip_bad": posted.get("skip_bad") == "on",
            }
            if posted
            else {
                "unmatched_kind": options.get("unmatched_kind", ""),
                "skip_new": {str(k) for k in options.get("skip_new", ())},
                "adopt": {str(k) for k in options.get("adopt", ())},
                "skip_bad": bool(options.get("skip_bad")),
            }
        )
        return {
            "unmatched": sum(
                1
                for e in groups.get("new", [])
                if not (e.get("person") or {}).get("id") and not e.get("voided")
            ),
            "status_off": sum(1 for e in groups.get("status", []) if e["to"] != "active"),
            "departed_people": len(
                {e["person"]["id"] for e in groups.get("departed", []) if e.get("person")}
            ),
            "changes": reconcile.change_count(result),
            "in_worker": reconcile.runs_in_worker(imp),
            "kinds": [(k, KIND_LABELS[k]) for k in (Account.Kind.SHARED, Account.Kind.SERVICE)],
            "chosen_kind": chosen["unmatched_kind"],
            "skipped_new": chosen["skip_new"],
            "adopted": chosen["adopt"],
            "skip_bad": chosen["skip_bad"],
            "apply_error": imp.apply_error if imp.status == Status.READ else "",
        }

    def apply(self, request, imp, **choices):
        return reconcile.request_apply(
            imp,
            actor=request.user,
            skip_new=request.POST.getlist("skip_new"),
            unmatched_kind=request.POST.get("unmatched_kind", ""),
            adopt=[a for a in request.POST.getlist("adopt") if a.isdigit()],
            **choices,
        )


# Pages ----------------------------------------------------------------------------------------
class ReconcileListView(ReconcileView, importflow.ListView):
    """The upload form and the lists read so far; the form posts here."""

    def post(self, request):
        return self.upload(request)


class ImportDetailView(ReconcileView, importflow.DetailView):
    """The column choice (uploaded), or the differences and the apply form (read)."""


class ImportColumnsView(ReconcileView, importflow.ColumnsView):
    """Choose the encoding and the columns; then every row is read and compared."""


class ImportApplyView(ReconcileView, importflow.ApplyView):
    """Apply the differences in one step: all or nothing, in the request or the worker."""


class ImportDiscardView(ReconcileView, importflow.DiscardView):
    """Give up a list; the register is not changed."""


nav_link(NAV, gettext_lazy("帳號清單比對"), "identity:reconcile", RECONCILE_ACCESS)
