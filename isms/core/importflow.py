"""The pages of a file import: upload → encoding and header line → columns → preview → apply.

A module that imports a file into its register (the account reconciliation, the
property-list import) keeps one row per uploaded file — status ``uploaded`` → ``read`` →
``applied`` or ``discarded``, and ``queued``/``applying`` when a large apply goes to the
worker — and a service module with the steps. The pages driving those steps are the same
for every import and live here:

- ``ImportFlowView``: the parameters (model, service, access, templates, URL names,
  messages) and the shared parts: who may do what, the list page and the upload, the column
  choice page, the result page's common context and the worker's progress.
- ``ListView``, ``UploadView``, ``DetailView``, ``ColumnsView``, ``ApplyView`` and
  ``DiscardView``: one page each. A module subclasses ``ImportFlowView`` once with its
  parameters, then each page as ``class ImportDetailView(MyImportView, DetailView)``.
- ``ColumnsForm``: one select per field of the import, each column used once.
- ``templates/core/importflow/columns.html``: the column choice page a module's template
  extends, filling in its blocks (title, head, its own options and texts).

The service module (``service``) gives ``FIELDS``, ``FIELD_LABELS``, ``GROUPS``,
``FileError``, ``Stale``, ``check_file(upload)``, ``save_upload(upload=, data=, kind=,
actor=, …)``, ``file_data(imp)``, ``reinspect(imp, encoding=, header_line=, actor=)``,
``run(imp, columns=, actor=, …)``, ``reopen(imp, actor=)``, ``discard(imp, actor=)`` and
``error_text(error)``; the apply, whose choices differ, is the view's ``apply``.

Rules kept for every import:

- An import a person may not read is a 404; one they may read but not change is a 403 on
  every step. A GET of a step's URL changes nothing: it goes back to the import's page.
- Another encoding or header line reads the header again before any column is chosen; the
  columns can be chosen again only while the import is uploaded or read, and not while the
  worker applies it.
- Nothing is applied from a preview that is no longer the one shown (``Stale``): it is made
  again and the person looks at it again. A refused apply shows the preview again with 400
  and every reason; an apply the worker takes is announced and its page polls the progress.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_htmx.http import HttpResponseClientRefresh

from . import progress, tabular
from .access import can
from .generic import ProtectedView


# The form of the column choice ----------------------------------------------------------------
def column_choices(header) -> list[tuple[str, str]]:
    """The choices of a column select: none, or a column of the header by its number."""
    blank = _("（空白）")
    return [("", _("—（不使用）"))] + [
        (str(i), f"{i + 1}. {name or blank}") for i, name in enumerate(header)
    ]


class ColumnsForm(forms.Form):
    """The person's choice of columns for an import's fields; a column serves one field.

    A subclass sets ``service`` (its ``FIELDS`` in the page's order and ``FIELD_LABELS``)
    and the ``required`` fields, declares its own further fields and gives their initial
    values from the import in ``initial_for``. The encoding is asked for a CSV only.
    """

    service = None
    required: tuple[str, ...] = ()

    header_line = forms.IntegerField(
        label=gettext_lazy("標題列在第幾行"),
        min_value=1,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, imp, **kwargs):
        mapping = imp.mapping
        initial = {
            "header_line": mapping.get("header_line") or 1,
            "encoding": tabular.encoding_choice(imp.encoding) or "utf-8",
            **self.initial_for(imp),
        }
        for field, index in (mapping.get("columns") or {}).items():
            initial[field] = "" if index is None else str(index)
        super().__init__(*args, initial=initial, **kwargs)
        if mapping.get("kind") == "csv":
            self.fields["encoding"] = forms.ChoiceField(
                label=gettext_lazy("檔案編碼"),
                choices=tabular.ENCODINGS,
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        choices = column_choices(mapping.get("header") or [])
        for field in self.service.FIELDS:
            label = self.service.FIELD_LABELS[field]
            self.fields[field] = forms.ChoiceField(
                label=label,
                choices=choices,
                required=field in self.required,
                error_messages={"required": self.required_message(label)},
                widget=forms.Select(attrs={"class": "form-select"}),
            )

    def initial_for(self, imp) -> dict:
        """The initial values of the subclass's own fields."""
        return {}

    def required_message(self, label) -> str:
        """What a required field left unchosen is told."""
        return _("請選擇「%(field)s」欄位。") % {"field": label}

    def column_fields(self):
        return [self[f] for f in self.service.FIELDS]

    def clean(self):
        data = super().clean()
        seen = {}
        for field in self.service.FIELDS:
            value = data.get(field)
            if value in (None, ""):
                continue
            if value in seen:
                self.add_error(
                    field,
                    _("此欄已對應為「%(other)s」。")
                    % {"other": self.service.FIELD_LABELS[seen[value]]},
                )
            seen[value] = field
        return data

    def columns(self) -> dict:
        """field → the chosen column's index (None for a field left out)."""
        return {
            f: (int(self.cleaned_data[f]) if self.cleaned_data.get(f) not in (None, "") else None)
            for f in self.service.FIELDS
        }


# The pages ------------------------------------------------------------------------------------
class ImportFlowView(ProtectedView):
    """What every page of an import shares; a module sets the parameters once.

    Access: the matrix (``access``) lets a person in; ``may_upload``, ``may_read``,
    ``may_write`` and ``readable`` narrow it per import (by default: ``add`` uploads,
    ``change`` writes, every import may be read). Messages that name the module's own
    things (a 清單, a 清冊; 套用, 匯入) are the module's, set below.
    """

    model = None  # the import row: Status, mapping, encoding, errors, get_absolute_url()
    service = None  # the module's import steps (see the module docstring)
    clause = ""
    related: tuple[str, ...] = ("uploaded_by__person", "applied_by__person")
    result_field = ""  # the JSON field holding the comparison: groups, counts, digest
    upload_form_class = None
    columns_form_class = None
    group_titles: dict = {}  # group name (of service.GROUPS) → its title
    show = 500  # entries shown per group (the counts are always complete)
    show_errors = 500  # unreadable rows listed
    # The folder of the pages list.html, columns.html (extending core/importflow/columns.html)
    # and detail.html (the comparison).
    template_dir = ""
    # The partial polled while the worker applies; set by a module whose applies may be
    # queued (its model then has ``applying`` and ``progress_key``, its ``apply`` may
    # return None).
    progress_template = None
    list_url = ""  # the URL name of the list; an import's steps are named by ``url_name``
    # The module's messages.
    closed_message = ""  # the columns of an applied or discarded import
    busy_message = ""  # the columns of an import the worker applies
    bad_rows_message = ""  # read, with %(bad)d of %(rows)d rows unreadable
    stale_message = ""
    not_applied_message = ""
    queued_message = ""
    applied_message = ""  # formatted with the counts the apply returns
    discarded_message = ""

    def url_name(self, step: str) -> str:
        """The URL name of an import's page or step (detail, columns, apply, discard).

        Named as a register names its pages: ``<app>:<model>_<step>``.
        """
        opts = self.model._meta
        return f"{opts.app_label}:{opts.model_name}_{step}"

    # Who may do what.
    def may_upload(self) -> bool:
        return can(self.request.user, "add", self.access)

    def may_read(self, imp) -> bool:
        return True

    def may_write(self, imp) -> bool:
        return can(self.request.user, "change", self.access)

    def readable(self, imports):
        """The imports of the list this person may read."""
        return imports

    def get_import(self, *, write=False):
        imp = self.model.objects.select_related(*self.related).filter(pk=self.kwargs["pk"]).first()
        if imp is None or not self.may_read(imp):
            raise Http404
        if write and not self.may_write(imp):
            raise PermissionDenied
        return imp

    # The list and the upload.
    def upload_form(self, *args):
        return self.upload_form_class(*args)

    def upload_options(self, form) -> dict:
        """What ``service.save_upload`` takes from the upload form beyond the file."""
        return {}

    def list_page(self, request, form=None, status=200):
        can_upload = self.may_upload()
        if can_upload and form is None:
            form = self.upload_form()
        imports = self.readable(
            self.model.objects.select_related(*self.related).defer(self.result_field, "mapping")
        )
        return render(
            request,
            f"{self.template_dir}/list.html",
            {
                "imports": list(imports[:100]),
                "form": form,
                "can_upload": can_upload,
                "clause": self.clause,
            },
            status=status,
        )

    def upload(self, request):
        """Store an uploaded file (checked) and go to its column choice."""
        if not self.may_upload():
            raise PermissionDenied
        form = self.upload_form(request.POST, request.FILES)
        if not form.is_valid():
            return self.list_page(request, form=form, status=400)
        upload = form.cleaned_data["file"]
        try:
            kind = self.service.check_file(upload)
            upload.seek(0)
            imp = self.service.save_upload(
                upload=upload,
                data=upload.read(),
                kind=kind,
                actor=request.user,
                **self.upload_options(form),
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("file", message)
            return self.list_page(request, form=form, status=400)
        except self.service.FileError as error:
            form.add_error("file", str(error))
            return self.list_page(request, form=form, status=400)
        if imp.mapping.get("header"):
            messages.success(request, _("已上傳，請確認各欄位的對應。"))
        else:
            messages.warning(request, _("無法判斷檔案的編碼，請選擇檔案編碼。"))
        return redirect(imp.get_absolute_url())

    # The column choice.
    def columns_context(self, imp) -> dict:
        """The module's own context of the column choice (a dictionary shown, say)."""
        return {}

    def columns_page(self, request, imp, form=None, status=200):
        mapping = imp.mapping
        needs_encoding = mapping.get("kind") == "csv" and not mapping.get("header")
        ctx = {
            "imp": imp,
            "columns_url": reverse(self.url_name("columns"), args=[imp.pk]),
            "discard_url": reverse(self.url_name("discard"), args=[imp.pk]),
            "can_write": self.may_write(imp),
            "needs_encoding": needs_encoding,
            "clause": self.clause,
        }
        if needs_encoding:
            ctx["previews"] = tabular.encoding_previews(self.service.file_data(imp))
            ctx["encodings"] = tabular.ENCODINGS
        else:
            columns = mapping.get("columns") or {}
            labels = self.service.FIELD_LABELS
            ctx.update(
                form=form or self.columns_form_class(imp=imp),
                header=mapping.get("header", []),
                sample=mapping.get("sample", []),
                no_guess=[
                    labels[f] for f in self.columns_form_class.required if columns.get(f) is None
                ],
                **self.columns_context(imp),
            )
            if mapping.get("kind") == "csv":
                ctx["delimiter"] = tabular.DELIMITER_NAMES.get(mapping.get("delimiter"), "")
                ctx["encoding_label"] = tabular.ENCODING_LABELS.get(imp.encoding, imp.encoding)
        return render(request, f"{self.template_dir}/columns.html", ctx, status=status)

    def run_options(self, form) -> dict:
        """What ``service.run`` takes from the column form beyond the columns."""
        return {}

    # The comparison and the apply.
    def label_entry(self, entry: dict) -> dict:
        """An entry of a group (a copy) with what the page shows of it: labels, links."""
        return entry

    def sections(self, result: dict) -> list[dict]:
        """The groups of a comparison, in the service's order, each cut to ``show`` entries."""
        groups = result.get("groups") or {}
        counts = result.get("counts") or {}
        return [
            {
                "name": name,
                "title": self.group_titles[name],
                "count": counts.get(name, 0),
                "entries": [self.label_entry(dict(e)) for e in groups.get(name, [])[: self.show]],
                "more": max(0, counts.get(name, 0) - self.show),
            }
            for name in self.service.GROUPS
        ]

    def result_context(self, request, imp, result: dict) -> dict:
        """The module's own context of the result page (its apply choices, say)."""
        return {}

    def result_page(self, request, imp, status=200):
        result = getattr(imp, self.result_field) or {}
        sections = self.sections(result)
        errors = imp.errors or []
        writable = self.may_write(imp)
        ctx = {
            "imp": imp,
            "sections": sections,
            "by_name": {s["name"]: s for s in sections},
            "errors": [
                {**e, "text": self.service.error_text(e)} for e in errors[: self.show_errors]
            ],
            "error_count": len(errors),
            "more_errors": max(0, len(errors) - self.show_errors),
            "mapped": result.get("mapped") or {},
            "applied": result.get("applied"),
            "can_apply": imp.status == self.model.Status.READ and writable,
            "can_write": writable,
            "clause": self.clause,
            **self.result_context(request, imp, result),
        }
        if self.applying(imp):
            ctx.update(self.progress_context(imp))
        return render(request, f"{self.template_dir}/detail.html", ctx, status=status)

    def apply(self, request, imp, *, digest_seen: str, skip_bad: bool) -> dict | None:
        """Apply the import: the counts, or None when the worker was asked to.

        Every import's choices are passed: the digest of the preview the person saw and
        whether the unreadable rows are left out; a module adds its own from the request.
        Raises what the service raises: ``Stale``, ``FileError`` or ``ValidationError``.
        """
        raise NotImplementedError

    # An apply in the worker.
    def applying(self, imp) -> bool:
        """Whether the worker holds the import (never where applies run in the request)."""
        return self.progress_template is not None and imp.applying

    def progress_context(self, imp) -> dict:
        """The progress partial's context: the worker's progress file, when it has one."""
        applying = imp.status == self.model.Status.APPLYING
        seen = progress.read(imp.progress_key) if applying else None
        return {
            "imp": imp,
            "percent": seen["percent"] if seen else 0,
            "step": seen["step"] if seen else "",
        }


class ListView(ImportFlowView):
    """The imports so far, and the upload form."""

    def get(self, request):
        return self.list_page(request)


class UploadView(ImportFlowView):
    """The upload form's target, beside the list."""

    action = "add"

    def get(self, request):
        return redirect(self.list_url)

    def post(self, request):
        return self.upload(request)


class DetailView(ImportFlowView):
    """The column choice (uploaded), or the comparison and the apply form (read and after)."""

    def get(self, request, pk):
        imp = self.get_import()
        if request.htmx and self.progress_template is not None:
            # The progress of an apply in the worker; once it is over, the whole page.
            if imp.applying:
                return render(request, self.progress_template, self.progress_context(imp))
            return HttpResponseClientRefresh()
        if imp.status == self.model.Status.UPLOADED:
            return self.columns_page(request, imp)
        return self.result_page(request, imp)


class StepView(DetailView):
    """A step posted from an import's page; a GET goes back to the page."""

    action = "change"

    def get(self, request, pk):
        return redirect(self.url_name("detail"), pk=pk)


class ColumnsView(StepView):
    """Choose the encoding and the columns; then every row is read and compared."""

    def post(self, request, pk):
        imp = self.get_import(write=True)
        if self.applying(imp):
            messages.error(request, self.busy_message)
            return redirect(imp.get_absolute_url())
        Status = self.model.Status
        if imp.status not in (Status.UPLOADED, Status.READ):
            messages.error(request, self.closed_message)
            return redirect(imp.get_absolute_url())
        if request.POST.get("reopen"):
            self.service.reopen(imp, actor=request.user)
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
                self.service.reinspect(
                    imp, encoding=encoding, header_line=header_line, actor=request.user
                )
            except self.service.FileError as error:
                messages.error(request, str(error))
                return redirect(imp.get_absolute_url())
            messages.info(request, _("已重新讀取標題列，請確認各欄位的對應。"))
            return redirect(imp.get_absolute_url())
        form = self.columns_form_class(request.POST, imp=imp)
        if not form.is_valid():
            return self.columns_page(request, imp, form=form, status=400)
        try:
            self.service.run(
                imp, columns=form.columns(), actor=request.user, **self.run_options(form)
            )
        except self.service.FileError as error:
            form.add_error(None, str(error))
            return self.columns_page(request, imp, form=form, status=400)
        if imp.errors:
            messages.warning(
                request, self.bad_rows_message % {"rows": imp.rows, "bad": len(imp.errors)}
            )
        else:
            messages.success(request, _("已讀取並比對 %(rows)d 筆。") % {"rows": imp.rows})
        return redirect(imp.get_absolute_url())


class ApplyView(StepView):
    """Apply the comparison in one step: all or nothing."""

    def post(self, request, pk):
        imp = self.get_import(write=True)
        try:
            counts = self.apply(
                request,
                imp,
                digest_seen=request.POST.get("digest", ""),
                skip_bad=request.POST.get("skip_bad") == "on",
            )
        except self.service.Stale:
            messages.warning(request, self.stale_message)
            return redirect(imp.get_absolute_url())
        except self.service.FileError as error:
            messages.error(request, str(error))
            return redirect(imp.get_absolute_url())
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            messages.error(request, self.not_applied_message)
            return self.result_page(request, imp, status=400)
        if counts is None:
            messages.info(request, self.queued_message)
        else:
            messages.success(request, self.applied_message % counts)
        return redirect(imp.get_absolute_url())


class DiscardView(StepView):
    """Give up an import; the register is not changed."""

    def post(self, request, pk):
        imp = self.get_import(write=True)
        if self.service.discard(imp, actor=request.user):
            messages.info(request, self.discarded_message)
        return redirect(self.list_url)
