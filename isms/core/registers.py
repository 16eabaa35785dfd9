"""Registers: one declaration per model gives its list, detail, create, edit, void,
history and export pages, its API endpoint and its tests.

A module declares, for each model it keeps::

    class PersonRegister(Register):
        model = Person
        clause = "2.7"
        access = Access(view=..., add=..., change=..., void=...)
        columns = [Column("name", _("姓名"), link=True), ...]
        filterset_class = PersonFilterSet
        form_class = PersonForm
        serializer_class = PersonSerializer

and adds ``PersonRegister.urls()`` to its urlpatterns and ``PersonRegister`` to the API
router (``api.router.register_register``). See docs/adding-a-module.md.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from . import roc
from .access import Access

REGISTRY: dict[str, type["Register"]] = {}
# Register → the names of the pages it serves (``Register.has_page``).
_PAGES: dict = {}
# Menu entries of pages that are not registers: (group, label, url name, Access).
NAV_LINKS: list[tuple] = []


def nav_link(group, label, url_name: str, access) -> None:
    """Add a page to the menu; it is shown only to those its ``access`` lets view it."""
    if not any(entry[2] == url_name for entry in NAV_LINKS):
        NAV_LINKS.append((group, label, url_name, access))


def resolve(obj, path: str):
    """Follow a dotted path (``unit.name``) through an object; choices show their label."""
    parts = path.split(".")
    for i, part in enumerate(parts):
        if obj is None:
            return None
        if i == len(parts) - 1:
            display = getattr(obj, f"get_{part}_display", None)
            if display is not None:
                return display()
        obj = getattr(obj, part)
    return obj


def as_text(value) -> str:
    """A cell value as the forms show it: ROC dates, 是/否, empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_("是")) if value else str(_("否"))
    try:
        if isinstance(value, dt.datetime):
            return roc.format_roc_datetime(value)
        if isinstance(value, dt.date):
            return roc.format_roc(value)
    except ValueError:  # before 民國元年: no ROC form exists
        return value.isoformat()
    if isinstance(value, Decimal):
        # 2.0 hours reads 2, 1.50 reads 1.5: as people write them.
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


@dataclass
class Column:
    """One column of a register, declared once for the page, CSV and XLSX."""

    name: str
    label: str
    accessor: str | Callable | None = None
    sort: str | None = ""  # "" means: sort by ``name`` when it is a model field
    link: bool = False
    export: bool = True
    page: bool = True

    def value(self, obj):
        if callable(self.accessor):
            return self.accessor(obj)
        return resolve(obj, self.accessor or self.name)

    def text(self, obj) -> str:
        return as_text(self.value(obj))


class Register:
    """Declaration of one kept record type; subclasses set the attributes below."""

    model: type[models.Model]
    clause: str = ""
    access: Access
    columns: list[Column] = []
    filterset_class = None
    form_class = None
    serializer_class = None
    detail_fields: list[str] | None = None
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ("-pk",)
    paginate_by = 50
    # A log that grows without end (readings every minute) counts its rows only up to this
    # many: the page says 「超過 N 筆」 and pages through the first N (filters narrow it).
    count_cap: int | None = None
    deletable = False
    attachments = True
    history = True
    url_prefix: str = ""
    nav_group: str = ""
    nav_label: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "model", None) is not None:
            REGISTRY[cls.model._meta.label_lower] = cls

    # names ---------------------------------------------------------------
    @classmethod
    def namespace(cls) -> str:
        return cls.model._meta.app_label

    @classmethod
    def prefix(cls) -> str:
        return cls.url_prefix or cls.model._meta.model_name

    @classmethod
    def url_name(cls, view: str) -> str:
        return f"{cls.namespace()}:{cls.prefix()}_{view}"

    @classmethod
    def verbose_name(cls) -> str:
        return str(cls.model._meta.verbose_name)

    @classmethod
    def voidable(cls) -> bool:
        return any(f.name == "voided_at" for f in cls.model._meta.concrete_fields)

    @classmethod
    def void_error(cls, obj) -> str | None:
        """Why this record cannot be voided now (a module's rule), or None."""
        return None

    @classmethod
    def void_record(cls, obj, *, actor, reason: str):
        """Void the record (the void page and ``POST …/void/`` call this). A module whose
        voiding does more (closes what depends on the record, refreshes a duty) overrides
        it with its service; a ``ValidationError`` is shown on the form or answered 400."""
        from .services import record_void

        return record_void(obj, actor=actor, reason=reason)

    # data ----------------------------------------------------------------
    @classmethod
    def base_queryset(cls):
        qs = cls.model._default_manager.all()
        if cls.select_related:
            qs = qs.select_related(*cls.select_related)
        if cls.prefetch_related:
            qs = qs.prefetch_related(*cls.prefetch_related)
        return qs.order_by(*cls.ordering)

    @classmethod
    def api_queryset(cls):
        """The API's rows: the register's, without joins the API does not read.

        API serializers give related records as ids, so ``select_related`` (needed by the
        pages' columns) only costs there; a register whose serializer reads a related
        record's fields keeps them with ``api_select_related``.
        """
        qs = cls.model._default_manager.all()
        related = getattr(cls, "api_select_related", None)
        if related is None:
            related = cls.select_related if cls.serializer_reads_related else ()
        if related:
            qs = qs.select_related(*related)
        if cls.prefetch_related and cls.serializer_reads_related:
            qs = qs.prefetch_related(*cls.prefetch_related)
        return qs.order_by(*cls.ordering)

    # Set True when the API serializer reads related records (not just their ids).
    serializer_reads_related = True

    @classmethod
    def sort_keys(cls) -> dict[str, str]:
        keys = {}
        field_names = {f.name for f in cls.model._meta.get_fields()}
        for col in cls.columns:
            if col.sort:
                keys[col.name] = col.sort
            elif col.sort == "" and col.name in field_names and not callable(col.accessor):
                keys[col.name] = col.name
        return keys

    @classmethod
    def page_columns(cls) -> list[Column]:
        return [c for c in cls.columns if c.page]

    @classmethod
    def export_columns(cls) -> list[Column]:
        return [c for c in cls.columns if c.export]

    # A list whose rows can be late (逾期): the row is red, and ``late_column``'s cell bold red.
    late_column: str | None = None

    @classmethod
    def rows_state(cls, now):
        """What ``row_late`` needs for every row of a page, read once (e.g. a setting)."""
        return None

    @classmethod
    def row_late(cls, obj, now, state=None) -> bool:
        """Whether a record in use is late at ``now`` (overridden by such registers)."""
        return False

    @classmethod
    def cell_attrs(cls, obj, name: str, now) -> str:
        """Extra attributes of a cell (e.g. `` data-status="overdue"``) for scripts and tests."""
        return ""

    @classmethod
    def cell_html(cls, obj, name: str, text: str, late: bool) -> str:
        """A cell's content, escaped ``text`` by default (a register may add a badge)."""
        return text

    @classmethod
    def render_rows(cls, objects, url_for: Callable) -> str:
        """The table body as HTML, built in Python: this is the hot path of every list page."""
        from django.utils import timezone

        cols = cls.page_columns()
        now = timezone.now()
        state = cls.rows_state(now)
        out = []
        for obj in objects:
            cells = []
            voided = getattr(obj, "voided_at", None) is not None
            late = not voided and cls.row_late(obj, now, state)
            for col in cols:
                text = conditional_escape(col.text(obj))
                if col.link:
                    cells.append(f'<td><a href="{url_for(obj)}">{text or "—"}</a></td>')
                    continue
                attrs = cls.cell_attrs(obj, col.name, now)
                if late and col.name == cls.late_column:
                    attrs += ' class="text-danger fw-bold"'
                cells.append(f"<td{attrs}>{cls.cell_html(obj, col.name, text, late)}</td>")
            if voided:
                row_attrs = ' class="voided"'
            elif late:
                row_attrs = ' class="table-danger" data-overdue'
            else:
                row_attrs = ""
            out.append(f"<tr{row_attrs}>{''.join(cells)}</tr>")
        return mark_safe("".join(out))

    @classmethod
    def detail_rows(cls, obj) -> list[tuple[str, str]]:
        names = cls.detail_fields
        if names is None:
            names = [
                f.name
                for f in cls.model._meta.concrete_fields
                if f.name not in {"id", "voided_at", "voided_by", "void_reason", "password"}
            ]
        rows = []
        for name in names:
            field = cls.model._meta.get_field(name)
            rows.append((str(field.verbose_name), as_text(resolve(obj, name))))
        return rows

    @classmethod
    def urls(cls, *, without=()):
        """The register's URL patterns; ``without`` leaves out views (e.g. ``("list",)``
        for a module that serves its own list page)."""
        from .generic import register_urls

        left_out = {f"{cls.prefix()}_{view}" for view in without}
        return [p for p in register_urls(cls) if p.name not in left_out]

    @classmethod
    def has_page(cls, view: str) -> bool:
        """Whether the register serves this page (a register may leave out its edit or
        add page: a reading is never edited)."""
        names = _PAGES.get(cls)
        if names is None:
            names = _PAGES[cls] = frozenset(p.name for p in cls.urls())
        return f"{cls.prefix()}_{view}" in names


def choice_label(choices):
    """A choice's label from a table made once per language (the list's hot path)."""
    tables = {}

    def label(value):
        language = get_language()
        table = tables.get(language)
        if table is None:
            table = tables[language] = {v: str(text) for v, text in choices}
        return table.get(value, value)

    return label
