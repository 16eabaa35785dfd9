"""Pages of the reconciliation of an account list exported from a system (2.7).

Upload (CSV or XLSX) → choose the columns (and the encoding, when it cannot be told) →
the file is read and compared within the request (10,000 rows take well under a second;
see bench/reconcile.py) → the differences, grouped → apply in one step: in the request,
or, with more than ISMS_IMPORT_INLINE_CHANGES changes, by the worker while the page shows
its progress (polled with htmx).

Who may do what: the security officer and system administrators (the sysadmin role), and
the administrators of the system concerned, upload and apply; the supervisor and the
principal read; everyone else is refused. An import of a system outside a person's reach
is a 404.
"""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django_htmx.http import HttpResponseClientRefresh

from isms.core import progress
from isms.core.access import Access, can
from isms.core.generic import ProtectedView
from isms.core.registers import nav_link
from isms.core.roles import PRINCIPAL, SECURITY_OFFICER, SUPERVISOR, SYSADMIN

from . import reconcile
from .models import Account, AccountImport, InformationSystem
from .views import NAV

WRITERS = frozenset({SECURITY_OFFICER, SYSADMIN})
READERS = WRITERS | {SUPERVISOR, PRINCIPAL}
RECONCILE_ACCESS = Access(view=READERS, add=WRITERS, change=WRITERS)
# Rows shown per group and unreadable rows listed (the counts are always complete).
SHOW = 1000
SHOW_ERRORS = 500
Status = AccountImport.Status
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8（BOM）",
    "cp950": "Big5（cp950）",
    "big5hkscs": "Big5-HKSCS",
}


def _encoding_choice(encoding: str) -> str:
    """The encoding as offered on the page (UTF-8 with or without BOM is one choice)."""
    return "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding


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


def _column_choices(header):
    blank = _("（空白）")
    return [("", _("—（不使用）"))] + [
        (str(i), f"{i + 1}. {name or blank}") for i, name in enumerate(header)
    ]


class ColumnsForm(forms.Form):
    """The officer's choice of columns; only the account name is required."""

    header_line = forms.IntegerField(
        label=gettext_lazy("標題列在第幾行"),
        min_value=1,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    unused_days = forms.IntegerField(
        label=gettext_lazy("未使用天數"),
        min_value=1,
        max_value=3650,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, imp, **kwargs):
        mapping = imp.mapping
        initial = {
            "header_line": mapping.get("header_line") or 1,
            "unused_days": imp.unused_days,
            "encoding": _encoding_choice(imp.encoding) or "utf-8",
        }
        for field, index in (mapping.get("columns") or {}).items():
            initial[field] = "" if index is None else str(index)
        super().__init__(*args, initial=initial, **kwargs)
        if mapping.get("kind") == "csv":
            self.fields["encoding"] = forms.ChoiceField(
                label=gettext_lazy("檔案編碼"),
                choices=reconcile.ENCODINGS,
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        choices = _column_choices(mapping.get("header") or [])
        for field in reconcile.FIELDS:
            self.fields[field] = forms.ChoiceField(
                label=reconcile.FIELD_LABELS[field],
                choices=choices,
                required=field == "account",
                error_messages={"required": _("請選擇帳號欄位；沒有帳號欄位的清單無法比對。")},
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        self.fields["privileged"].help_text = _(
            "標示為 1、true、Y、是、admin、管理者等值的帳號視為特權帳號；"
            "admin、root 等名稱不論此欄一律視為特權帳號。"
        )

    def column_fields(self):
        return [self[f] for f in reconcile.FIELDS]

    def clean(self):
        data = super().clean()
        seen = {}
        for field in reconcile.FIELDS:
            value = data.get(field)
            if value in (None, ""):
                continue
            if value in seen:
                self.add_error(
                    field,
                    _("此欄已對應為「%(other)s」。")
                    % {"other": reconcile.FIELD_LABELS[seen[value]]},
                )
            seen[value] = field
        return data

    def columns(self) -> dict:
        return {
            f: (int(self.cleaned_data[f]) if self.cleaned_data.get(f) not in (None, "") else None)
            for f in reconcile.FIELDS
        }


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


def may_write(user, system_id: int) -> bool:
    return can(user, "change", RECONCILE_ACCESS) or system_id in administered(user)


def may_read(user, system_id: int) -> bool:
    return can(user, "view", RECONCILE_ACCESS) or system_id in administered(user)


class ReconcileView(ProtectedView):
    """The matrix, or being an administrator of some system, lets a person in."""

    access = RECONCILE_ACCESS

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (can(user, self.action, self.access) or administered(user)):
            raise PermissionDenied
        return View.dispatch(self, request, *args, **kwargs)

    def get_import(self, *, write=False) -> AccountImport:
        imp = (
            AccountImport.objects.select_related(
                "system", "uploaded_by__person", "applied_by__person"
            )
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if imp is None or not may_read(self.request.user, imp.system_id):
            raise Http404
        if write and not may_write(self.request.user, imp.system_id):
            raise PermissionDenied
        return imp


# Pages ----------------------------------------------------------------------------------------
class ReconcileListView(ReconcileView):
    """The upload form and the lists read so far."""

    def systems(self):
        user = self.request.user
        systems = InformationSystem.objects.active()
        if can(user, "add", self.access):
            return systems
        return systems.filter(pk__in=administered(user))

    def page(self, request, form=None, status=200):
        user = request.user
        imports = AccountImport.objects.select_related(
            "system", "uploaded_by__person", "applied_by__person"
        ).defer("differences", "mapping")
        if not can(user, "view", self.access):
            imports = imports.filter(system_id__in=administered(user))
        can_upload = can(user, "add", self.access) or bool(administered(user))
        if can_upload and form is None:
            form = UploadForm(systems=self.systems())
        return render(
            request,
            "identity/reconcile/list.html",
            {
                "imports": list(imports[:100]),
                "form": form,
                "can_upload": can_upload,
                "clause": "2.7",
            },
            status=status,
        )

    def get(self, request):
        return self.page(request)

    def post(self, request):
        systems = self.systems()
        if not (can(request.user, "add", self.access) or administered(request.user)):
            raise PermissionDenied
        form = UploadForm(request.POST, request.FILES, systems=systems)
        if not form.is_valid():
            return self.page(request, form=form, status=400)
        upload = form.cleaned_data["file"]
        try:
            kind = reconcile.check_file(upload)
            upload.seek(0)
            data = upload.read()
            imp = reconcile.save_upload(
                system=form.cleaned_data["system"],
                upload=upload,
                data=data,
                kind=kind,
                unused_days=form.cleaned_data["unused_days"],
                actor=request.user,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("file", message)
            return self.page(request, form=form, status=400)
        except reconcile.FileError as error:
            form.add_error("file", str(error))
            return self.page(request, form=form, status=400)
        if imp.mapping.get("header"):
            messages.success(request, _("已上傳，請確認各欄位的對應。"))
        else:
            messages.warning(request, _("無法判斷檔案的編碼，請選擇檔案編碼。"))
        return redirect(imp.get_absolute_url())


def _moment(value):
    if not value:
        return None
    return dt.datetime.fromisoformat(value)


def _progress(imp) -> dict:
    """The context of the progress partial: the worker's progress file, when it has one."""
    seen = progress.read(imp.progress_key) if imp.status == Status.APPLYING else None
    return {
        "imp": imp,
        "percent": seen["percent"] if seen else 0,
        "step": seen["step"] if seen else "",
    }


def _shown(entries):
    out = []
    for entry in entries[:SHOW]:
        entry = dict(entry)
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
        out.append(entry)
    return out


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


class ImportDetailView(ReconcileView):
    """The column choice (uploaded), or the differences and the apply form (read)."""

    def get(self, request, pk):
        imp = self.get_import()
        if request.htmx:
            # The progress of an apply in the worker; once it is over, the whole page.
            if imp.applying:
                return render(request, "identity/reconcile/_progress.html", _progress(imp))
            return HttpResponseClientRefresh()
        if imp.status == Status.UPLOADED:
            return self.columns_page(request, imp)
        return self.result_page(request, imp)

    def columns_page(self, request, imp, form=None, status=200):
        writable = may_write(request.user, imp.system_id)
        needs_encoding = imp.mapping.get("kind") == "csv" and not imp.mapping.get("header")
        ctx = {"imp": imp, "can_write": writable, "needs_encoding": needs_encoding}
        if needs_encoding:
            ctx["previews"] = reconcile.encoding_previews(reconcile.file_data(imp))
            ctx["encodings"] = reconcile.ENCODINGS
        else:
            ctx["form"] = form or ColumnsForm(imp=imp)
            ctx["header"] = imp.mapping.get("header", [])
            ctx["sample"] = imp.mapping.get("sample", [])
            ctx["no_account_guess"] = (imp.mapping.get("columns") or {}).get("account") is None
            if imp.mapping.get("kind") == "csv":
                ctx["delimiter"] = DELIMITER_NAMES.get(imp.mapping.get("delimiter"), "")
                ctx["encoding_label"] = ENCODING_LABELS.get(imp.encoding, imp.encoding)
        return render(request, "identity/reconcile/columns.html", ctx, status=status)

    def result_page(self, request, imp, status=200):
        diff = imp.differences or {}
        groups = diff.get("groups") or {}
        counts = diff.get("counts") or {}
        sections = [
            {
                "name": name,
                "title": GROUP_TITLES[name],
                "count": counts.get(name, 0),
                "entries": _shown(groups.get(name, [])),
                "more": max(0, counts.get(name, 0) - SHOW),
            }
            for name in reconcile.GROUPS
        ]
        errors = [{**e, "text": reconcile.error_text(e)} for e in (imp.errors or [])[:SHOW_ERRORS]]
        new = groups.get("new", [])
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
                "unmatched_kind": (imp.apply_options or {}).get("unmatched_kind", ""),
                "skip_new": {str(k) for k in (imp.apply_options or {}).get("skip_new", ())},
                "adopt": {str(k) for k in (imp.apply_options or {}).get("adopt", ())},
                "skip_bad": bool((imp.apply_options or {}).get("skip_bad")),
            }
        )
        ctx = {
            "imp": imp,
            "sections": sections,
            "by_name": {s["name"]: s for s in sections},
            "errors": errors,
            "error_count": len(imp.errors or []),
            "more_errors": max(0, len(imp.errors or []) - SHOW_ERRORS),
            "mapped": diff.get("mapped") or {},
            "can_apply": imp.status == Status.READ and may_write(request.user, imp.system_id),
            "can_write": may_write(request.user, imp.system_id),
            "unmatched": sum(
                1 for e in new if not (e.get("person") or {}).get("id") and not e.get("voided")
            ),
            "status_off": sum(1 for e in groups.get("status", []) if e["to"] != "active"),
            "departed_people": len(
                {e["person"]["id"] for e in groups.get("departed", []) if e.get("person")}
            ),
            "applied": diff.get("applied"),
            "changes": reconcile.change_count(diff),
            "in_worker": reconcile.runs_in_worker(imp),
            "kinds": [(k, KIND_LABELS[k]) for k in (Account.Kind.SHARED, Account.Kind.SERVICE)],
            "chosen_kind": chosen["unmatched_kind"],
            "skipped_new": chosen["skip_new"],
            "adopted": chosen["adopt"],
            "skip_bad": chosen["skip_bad"],
            "apply_error": imp.apply_error if imp.status == Status.READ else "",
            "clause": "2.7",
        }
        if imp.applying:
            ctx.update(_progress(imp))
        return render(request, "identity/reconcile/detail.html", ctx, status=status)


class ImportColumnsView(ImportDetailView):
    """Choose the encoding and the columns; then every row is read and compared."""

    action = "change"

    def get(self, request, pk):
        return redirect("identity:accountimport_detail", pk=pk)

    def post(self, request, pk):
        imp = self.get_import(write=True)
        if imp.applying:
            messages.error(request, _("此清單正在套用，請稍候。"))
            return redirect(imp.get_absolute_url())
        if imp.status not in (Status.UPLOADED, Status.READ):
            messages.error(request, _("此清單已套用或已放棄，無法再變更欄位。"))
            return redirect(imp.get_absolute_url())
        if request.POST.get("reopen"):
            reconcile.reopen(imp, actor=request.user)
            return redirect(imp.get_absolute_url())
        kind = imp.mapping.get("kind", "csv")
        try:
            header_line = int(request.POST.get("header_line") or 0) or None
        except ValueError:
            header_line = None
        current = _encoding_choice(imp.encoding)
        encoding = imp.encoding
        if kind == "csv":
            encoding = request.POST.get("encoding", "")
            if encoding not in dict(reconcile.ENCODINGS):
                messages.error(request, _("請選擇檔案編碼。"))
                return self.columns_page(request, imp, status=400)
        changed = (kind == "csv" and encoding != current) or (
            header_line is not None and header_line != imp.mapping.get("header_line")
        )
        if changed or not imp.mapping.get("header"):
            try:
                reconcile.reinspect(
                    imp, encoding=encoding, header_line=header_line, actor=request.user
                )
            except reconcile.FileError as error:
                messages.error(request, str(error))
                return redirect(imp.get_absolute_url())
            messages.info(request, _("已重新讀取標題列，請確認各欄位的對應。"))
            return redirect(imp.get_absolute_url())
        form = ColumnsForm(request.POST, imp=imp)
        if not form.is_valid():
            return self.columns_page(request, imp, form=form, status=400)
        try:
            reconcile.run(
                imp,
                columns=form.columns(),
                unused_days=form.cleaned_data["unused_days"],
                actor=request.user,
            )
        except reconcile.FileError as error:
            form.add_error(None, str(error))
            return self.columns_page(request, imp, form=form, status=400)
        if imp.errors:
            messages.warning(
                request,
                _("已讀取 %(rows)d 筆，其中 %(bad)d 筆無法讀取；請檢視下列原因。")
                % {"rows": imp.rows, "bad": len(imp.errors)},
            )
        else:
            messages.success(request, _("已讀取並比對 %(rows)d 筆。") % {"rows": imp.rows})
        return redirect(imp.get_absolute_url())


class ImportApplyView(ImportDetailView):
    """Apply the differences in one step: all or nothing."""

    action = "change"

    def get(self, request, pk):
        return redirect("identity:accountimport_detail", pk=pk)

    def post(self, request, pk):
        imp = self.get_import(write=True)
        try:
            counts = reconcile.request_apply(
                imp,
                actor=request.user,
                digest_seen=request.POST.get("digest", ""),
                skip_bad=request.POST.get("skip_bad") == "on",
                skip_new=request.POST.getlist("skip_new"),
                unmatched_kind=request.POST.get("unmatched_kind", ""),
                adopt=[a for a in request.POST.getlist("adopt") if a.isdigit()],
            )
        except reconcile.Stale:
            messages.warning(
                request,
                _("登記簿或清單在比對後有變動，已重新比對；請再檢視差異後套用。"),
            )
            return redirect(imp.get_absolute_url())
        except reconcile.FileError as error:
            messages.error(request, str(error))
            return redirect(imp.get_absolute_url())
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            messages.error(request, _("未套用任何變更。"))
            return self.result_page(request, imp, status=400)
        if counts is None:
            messages.info(
                request,
                _("變更較多，已交由背景程序在同一交易中套用；本頁會顯示進度。"),
            )
            return redirect(imp.get_absolute_url())
        messages.success(
            request,
            _(
                "已套用：新增 %(added)d 個帳號、標記 %(removed)d 個為已刪除、變更 %(status)d 個的"
                "啟用狀態、更新 %(updated)d 個的資料、指定 %(adopted)d 個的使用人、建立 "
                "%(offboarded)d 項帳號移除工作。"
            )
            % counts,
        )
        return redirect(imp.get_absolute_url())


class ImportDiscardView(ImportDetailView):
    action = "change"

    def get(self, request, pk):
        return redirect("identity:accountimport_detail", pk=pk)

    def post(self, request, pk):
        imp = self.get_import(write=True)
        if reconcile.discard(imp, actor=request.user):
            messages.info(request, _("已放棄此清單，登記簿未變更。"))
        return redirect("identity:reconcile")


nav_link(NAV, gettext_lazy("帳號清單比對"), "identity:reconcile", RECONCILE_ACCESS)
