"""The generic pages every register gets: list, detail, add, edit, void, delete, history, export.

Each view checks the register's access matrix for its action, and looks records up
through ``access.restrict`` so that a record outside the person's scope is a 404.
"""

import csv
import datetime as dt
import io

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from isms.audit import trail
from isms.audit.models import AuditEntry

from . import roc, services
from .access import can, restrict
from .forms import VoidForm, add_service_errors


class ProtectedView(View):
    """Base of every signed-in page: anonymous → sign-in, role not allowed → 403."""

    access = None
    action = "view"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if self.access is None or not can(request.user, self.action, self.access):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class RegisterView(ProtectedView):
    register = None

    @property
    def access(self):
        return self.register.access

    def scoped(self, action=None):
        return restrict(
            self.register.base_queryset(), self.request.user, action or self.action, self.access
        )

    def get_object(self, action=None):
        try:
            return self.scoped(action).get(pk=self.kwargs["pk"])
        except (self.register.model.DoesNotExist, ValueError, TypeError) as exc:
            raise Http404 from exc

    def context(self, **extra):
        reg = self.register
        user = self.request.user
        ctx = {
            "register": reg,
            "opts": reg.model._meta,
            "clause": reg.clause,
            "can_add": reg.form_class is not None
            and reg.has_page("add")
            and can(user, "add", reg.access),
            "can_change": reg.form_class is not None
            and reg.has_page("edit")
            and can(user, "change", reg.access),
            "can_void": reg.voidable() and reg.has_page("void") and can(user, "void", reg.access),
            "can_delete": reg.deletable and can(user, "delete", reg.access),
            "can_export": can(user, "export", reg.access),
            "url": {v: reg.url_name(v) for v in VIEW_NAMES},
        }
        ctx.update(extra)
        return ctx


def filtered(view):
    """The register's queryset narrowed by scope, filters and the chosen sort."""
    reg = view.register
    qs = view.scoped("view" if view.action == "export" else None)
    filterset = None
    if reg.filterset_class is not None:
        filterset = reg.filterset_class(view.request.GET, queryset=qs, request=view.request)
        qs = filterset.qs if filterset.is_valid() else qs.none()
    sort = view.request.GET.get("sort", "")
    keys = reg.sort_keys()
    if sort.lstrip("-") in keys:
        field = keys[sort.lstrip("-")]
        qs = qs.order_by(("-" if sort.startswith("-") else "") + field, "-pk")
    else:
        sort = ""
    if reg.voidable() and not view.request.GET.get("voided"):
        qs = qs.filter(voided_at__isnull=True)
    return qs, filterset, sort


class CappedPaginator(Paginator):
    """Counts at most ``cap`` rows (``SELECT COUNT(*) FROM (… LIMIT cap + 1)``): a long
    log's page does not scan every row for a total nobody reads."""

    def __init__(self, object_list, per_page, cap: int | None = None):
        super().__init__(object_list, per_page)
        self.cap = cap
        self.capped = False

    @cached_property
    def count(self):
        if self.cap is None:
            return super().count
        total = self.object_list.order_by()[: self.cap + 1].count()
        if total > self.cap:
            self.capped = True
            return self.cap
        return total


class ListPage(RegisterView):
    template_name = "generic/list.html"

    def extra_context(self) -> dict:
        """What a register's own list page adds around the table (not for htmx refreshes)."""
        return {}

    def get(self, request):
        reg = self.register
        qs, filterset, sort = filtered(self)
        paginator = CappedPaginator(qs, reg.paginate_by, reg.count_cap)
        try:
            page = paginator.page(request.GET.get("page") or 1)
        except (EmptyPage, PageNotAnInteger):
            page = paginator.page(paginator.num_pages if request.GET.get("page") else 1)
        rows = reg.render_rows(page.object_list, lambda o: o.get_absolute_url())
        params = request.GET.copy()
        params.pop("page", None)
        sort_params = params.copy()
        sort_params.pop("sort", None)
        ctx = self.context(
            filter=filterset,
            page_obj=page,
            rows=rows,
            columns=[(c, reg.sort_keys().get(c.name)) for c in reg.page_columns()],
            sort=sort,
            query=params.urlencode(),
            sort_query=sort_params.urlencode(),
        )
        if request.htmx and request.htmx.target == "register-table":
            return render(request, "generic/list.html#table", ctx)
        ctx.update(self.extra_context())
        return render(request, self.template_name, ctx)


class ExportView(RegisterView):
    action = "export"

    def get(self, request):
        reg = self.register
        fmt = request.GET.get("format", "csv")
        if fmt not in {"csv", "xlsx"}:
            return HttpResponse(_("不支援的匯出格式。"), status=400)
        qs, _filterset, _sort = filtered(self)
        cols = reg.export_columns()
        header = [str(c.label) for c in cols]
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        name = f"{reg.model._meta.model_name}-{stamp}.{fmt}"
        params = {k: v for k, v in request.GET.items() if k != "format"}
        trail.record(
            trail.Action.EXPORT,
            model_label=reg.model._meta.label_lower,
            object_repr=str(reg.model._meta.verbose_name_plural),
            changes={
                "format": [None, fmt],
                "filters": [None, params],
                "rows": [None, qs.count()],
            },
        )
        if fmt == "csv":
            return csv_response(
                name, header, ([c.text(o) for c in cols] for o in qs.iterator(chunk_size=2000))
            )
        return xlsx_response(
            name, header, ([c.text(o) for c in cols] for o in qs.iterator(chunk_size=2000))
        )


class _Echo:
    def write(self, value):
        return value


# A cell starting with one of these is run as a formula by spreadsheet programs (CSV
# injection): a person's note "=HYPERLINK(…)" must stay text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_next(request, fallback: str) -> str:
    """The form's ``next`` when it stays on this site, else ``fallback`` (no open redirect)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def csv_safe(row):
    """The row for a CSV file, each formula-like text cell prefixed with ' (kept as text)."""
    return [f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in row]


def xlsx_append(sheet, row):
    """Append a row to a write-only sheet; text that looks like a formula stays text."""
    if not any(isinstance(v, str) and v.startswith("=") for v in row):
        sheet.append(row)
        return
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"
        cells.append(cell)
    sheet.append(cells)


def csv_response(filename, header, rows):
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"  # so that Excel opens UTF-8 Chinese text correctly
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(csv_safe(row))

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(filename, header, rows):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        xlsx_append(sheet, row)
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class DetailPage(RegisterView):
    template_name = "generic/detail.html"

    def get(self, request, pk, *, status=200, **extra):
        """The record; a subclass's refused POST shows it again with ``extra`` and 400."""
        obj = self.get_object("view")
        reg = self.register
        ctx = self.context(
            object=obj,
            rows=reg.detail_rows(obj),
            history=history_for(obj)[:10] if can_see_history(request.user, reg) else None,
            attachments=services.attachments_for(obj) if reg.attachments else None,
            **extra,
        )
        template = getattr(reg, "detail_template", None) or self.template_name
        return render(request, [template, "generic/detail.html"], ctx, status=status)


class DetailAction:
    """A form posted from a record's page (a review, a resolution, an exit), put before the
    record's ``DetailPage`` in the bases: a valid form is handed to ``perform`` (the
    module's service); a refusal shows the record's page again with the form (as
    ``form_context``) and its errors, 400; success goes back to the record's page with
    ``success_message``. A plain GET goes to the record's page."""

    action = "change"
    form_class = None
    form_context = "action_form"

    def perform(self, obj, form, user) -> None:
        raise NotImplementedError

    def success_message(self, obj) -> str:
        raise NotImplementedError

    def get(self, request, pk, **kwargs):
        if kwargs:  # the record's page again, after a refusal
            return super().get(request, pk, **kwargs)
        return redirect(self.get_object("view").get_absolute_url())

    def post(self, request, pk):
        obj = self.get_object("view")
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.perform(obj, form, request.user)
            except ValidationError as error:
                add_service_errors(form, error)
        if form.errors:
            return self.get(request, pk, status=400, **{self.form_context: form})
        obj.refresh_from_db()
        messages.success(request, self.success_message(obj))
        return redirect(obj.get_absolute_url())


class FormPage(RegisterView):
    template_name = "generic/form.html"

    def get_instance(self):
        return self.get_object() if "pk" in self.kwargs else None

    def make_form(self, instance, data=None, files=None):
        form_class = self.register.form_class
        if instance is None:
            form_class = getattr(self.register, "add_form_class", None) or form_class
        return form_class(data=data, files=files, instance=instance, request=self.request)

    def get(self, request, pk=None):
        form = self.make_form(self.get_instance())
        return render(request, self.template_name, self.context(form=form, object=form.instance))

    def post(self, request, pk=None):
        form = self.make_form(self.get_instance(), request.POST, request.FILES)
        if form.is_valid():
            try:
                with transaction.atomic():
                    obj = form.save()
            except ValidationError as error:
                # A form saving through a service: a rule broken meanwhile, shown, not a 500.
                add_service_errors(form, error)
            else:
                messages.success(request, _("已儲存「%(obj)s」。") % {"obj": obj})
                return redirect(obj.get_absolute_url())
        # The page around the refused form names the record as stored: the posted values
        # may be incomplete (a __str__ reading an empty field must not fail).
        ctx = self.context(form=form, object=self.get_instance() or form.instance)
        return render(request, self.template_name, ctx, status=400)


class AddPage(FormPage):
    action = "add"


class EditPage(FormPage):
    """A record's edit page; a voided record is never edited (void it, record it anew)."""

    action = "change"

    def get_instance(self):
        obj = self.get_object()
        if getattr(obj, "voided_at", None) is not None:
            raise PermissionDenied
        return obj


class VoidPage(RegisterView):
    action = "void"
    template_name = "generic/void.html"

    def get(self, request, pk):
        obj = self.get_object()
        return render(request, self.template_name, self.context(object=obj, form=VoidForm()))

    def post(self, request, pk):
        obj = self.get_object()
        form = VoidForm(request.POST)
        if obj.voided_at is not None:
            form.add_error(None, _("此筆資料已作廢。"))
        elif error := self.register.void_error(obj):
            form.add_error(None, error)
        if form.is_valid() and obj.voided_at is None:
            try:
                self.register.void_record(
                    obj, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("已作廢「%(obj)s」。") % {"obj": obj})
                return redirect(obj.get_absolute_url())
        ctx = self.context(object=obj, form=form)
        return render(request, self.template_name, ctx, status=400)


class DeletePage(RegisterView):
    action = "delete"
    template_name = "generic/delete.html"

    def get(self, request, pk):
        return render(request, self.template_name, self.context(object=self.get_object()))

    def post(self, request, pk):
        obj = self.get_object()
        try:
            with transaction.atomic():
                obj.delete()
        except Exception as exc:  # ProtectedError, RestrictedError
            if exc.__class__.__name__ not in {"ProtectedError", "RestrictedError"}:
                raise
            messages.error(request, _("此筆資料仍被其他資料使用，無法刪除。"))
            return redirect(obj.get_absolute_url())
        messages.success(request, _("已刪除「%(obj)s」。") % {"obj": obj})
        return redirect(reverse(self.register.url_name("list")))


def can_see_history(user, reg) -> bool:
    from .access import user_roles
    from .roles import MANAGERS

    return user.is_superuser or can(user, "change", reg.access) or bool(user_roles(user) & MANAGERS)


def history_for(obj):
    return AuditEntry.objects.filter(
        model_label=obj._meta.label_lower, object_id=str(obj.pk)
    ).select_related("actor")


class HistoryPage(RegisterView):
    def get(self, request, pk):
        obj = self.get_object()
        if not can_see_history(request.user, self.register):
            raise PermissionDenied
        paginator = Paginator(history_for(obj), 50)
        try:
            page = paginator.page(request.GET.get("page") or 1)
        except (EmptyPage, PageNotAnInteger):
            page = paginator.page(1)
        return render(request, "generic/history.html", self.context(object=obj, page_obj=page))


VIEW_NAMES = ("list", "detail", "add", "edit", "void", "delete", "history", "export")


def register_urls(reg):
    """The URL patterns of a register, named ``<model>_<view>`` in the app's namespace."""
    name = reg.prefix()
    route = getattr(reg, "route", None) or name

    def view(cls, action=None):
        attrs = {"register": reg}
        if action:
            attrs["action"] = action
        return type(f"{reg.__name__}{cls.__name__}", (cls,), attrs).as_view()

    patterns = [
        path(f"{route}/", view(ListPage), name=f"{name}_list"),
        path(f"{route}/export/", view(ExportView), name=f"{name}_export"),
        path(
            f"{route}/<int:pk>/",
            view(getattr(reg, "detail_view", None) or DetailPage),
            name=f"{name}_detail",
        ),
    ]
    if reg.history:
        patterns.append(
            path(f"{route}/<int:pk>/history/", view(HistoryPage), name=f"{name}_history")
        )
    if reg.form_class is not None:
        patterns += [
            path(
                f"{route}/add/",
                view(getattr(reg, "add_view", None) or AddPage),
                name=f"{name}_add",
            ),
            path(
                f"{route}/<int:pk>/edit/",
                view(getattr(reg, "edit_view", None) or EditPage),
                name=f"{name}_edit",
            ),
        ]
    if reg.voidable():
        patterns.append(path(f"{route}/<int:pk>/void/", view(VoidPage), name=f"{name}_void"))
    if reg.deletable:
        patterns.append(path(f"{route}/<int:pk>/delete/", view(DeletePage), name=f"{name}_delete"))
    return patterns


def url_or_none(name: str, *args, query: str = "") -> str | None:
    """A page of another module or slice, when it is there (a link left out otherwise)."""
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return None
    return f"{url}?{query}" if query else url


# A month's paper sheet (an A4 log printed per month) -------------------------------------------
def month_param(day) -> str:
    """A month as the print views take it: ``115-11``."""
    return f"{roc.roc_year(day)}-{day.month:02d}"


def parse_month(params, *, with_year: bool = False) -> tuple[int, int]:
    """(Western year, month) from ``month=115-11`` (also 115/11, 11511), with ``with_year``
    also ``year=115&month=11``; the current month when none is given. ValueError with a
    zh-TW message otherwise."""
    text = (params.get("month") or "").strip()
    year_text = (params.get("year") or "").strip() if with_year else ""
    today = timezone.localdate()
    if not text and not year_text:
        return today.year, today.month
    try:
        if year_text:
            year, month = int(year_text), int(text or today.month)
        else:
            cleaned = text.replace("/", "-").replace(".", "-")
            if "-" in cleaned:
                first, second = cleaned.split("-", 1)
                year, month = int(first), int(second)
            elif cleaned.isdigit() and len(cleaned) in (4, 5):
                year, month = int(cleaned[:-2]), int(cleaned[-2:])
            else:
                raise ValueError
    except ValueError:
        raise ValueError(_("月份請以民國年-月填寫，例如 115-11。")) from None
    if year > roc.MAX_ROC_YEAR:  # a Western year
        year -= roc.ROC_OFFSET
    if not (roc.MIN_ROC_YEAR <= year <= roc.MAX_ROC_YEAR) or not (1 <= month <= 12):
        raise ValueError(_("月份請以民國年-月填寫，例如 115-11。"))
    return year + roc.ROC_OFFSET, month


def month_span(year: int, month: int):
    """The month's first moment and the next month's first moment (local time)."""
    first = dt.date(year, month, 1)
    after = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (
        timezone.make_aware(dt.datetime.combine(first, dt.time.min)),
        timezone.make_aware(dt.datetime.combine(after, dt.time.min)),
    )


def sheet_pages(lines: list, per_page: int) -> list[list]:
    """The sheet's pages of ``per_page`` lines, the last filled with empty lines (None);
    one empty page when there are no lines."""
    count = max(1, -(-len(lines) // per_page))
    padded = lines + [None] * (count * per_page - len(lines))
    return [padded[i : i + per_page] for i in range(0, len(padded), per_page)]


class MonthSheetView(RegisterView):
    """The paper sheet of one month, filled from the records the person may read (by
    ``date_field``; voided ones left out), empty lines to fill the last page; a bad month
    (or what ``sheet_errors`` finds) → the page with the reason (400)."""

    template_name = None
    date_field = None
    per_page = 10
    month_with_year = False
    count_name = "line_count"

    def sheet_errors(self) -> list[str]:
        """Refusals found before the month is read (e.g. an unknown room)."""
        return []

    def sheet_filter(self, rows):
        return rows

    def sheet_line(self, record) -> dict:
        raise NotImplementedError

    def sheet_context(self) -> dict:
        return {}

    def get(self, request):
        from isms.compliance.models import PolicyRevision

        from .models import SchoolProfile

        errors = list(self.sheet_errors())
        try:
            year, month = parse_month(request.GET, with_year=self.month_with_year)
        except ValueError as error:
            errors.append(str(error))
            year, month = timezone.localdate().year, timezone.localdate().month
        lines = []
        if not errors:
            start, end = month_span(year, month)
            field = self.date_field
            found = (
                self.sheet_filter(self.scoped("view"))
                .filter(**{f"{field}__gte": start, f"{field}__lt": end})
                .filter(voided_at__isnull=True)
                .order_by(field, "id")
            )
            lines = [self.sheet_line(record) for record in found]
        school = SchoolProfile.load()
        return render(
            request,
            self.template_name,
            {
                "pages": sheet_pages(lines, self.per_page),
                self.count_name: len(lines),
                "roc_year": year - roc.ROC_OFFSET,
                "month": month,
                "month_value": f"{year - roc.ROC_OFFSET}-{month:02d}",
                "errors": errors,
                "school": school,
                "school_profile": school,
                "policy_version": PolicyRevision.current(),
                "now": timezone.now(),
                "back": reverse(self.register.url_name("list")),
                **self.sheet_context(),
            },
            status=400 if errors else 200,
        )
