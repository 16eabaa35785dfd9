"""The time-sync register (校時紀錄, clause 2.5.2): list with filters, record page, entry by
hand for system administrators, correction, export, and ``/api/time-syncs/``.

Every write goes through ``timesync.save`` (the rules are there); a check's measurement
cannot be changed, only its note. ``isms check-time`` records checks (see ``timesync``).
"""

import django_filters as df
from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from isms.assets.models import Asset
from isms.core.access import Access
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm, add_service_errors
from isms.core.generic import AddPage, DetailPage, EditPage
from isms.core.registers import Column, Register, as_text
from isms.core.restapi import ModelSerializer, service_errors
from isms.core.roles import MANAGERS, SYSADMIN

from . import timesync
from .models import TimeSync
from .nav import NAV

Source = TimeSync.Source
READERS = MANAGERS | {SYSADMIN}
TIMESYNC_ACCESS = Access(
    view=READERS,
    add=frozenset({SYSADMIN}),
    change=frozenset({SYSADMIN}),  # a check's measurement stays; only its note changes
    export=READERS,
)


# Filters ----------------------------------------------------------------------------------------
class TimeSyncFilterSet(FilterSet):
    search_fields = ("server__property_number", "server__name", "host", "reference", "note")
    server = df.ModelChoiceFilter(
        label=gettext_lazy("主機"),
        queryset=Asset.objects.filter(kind=Asset.Kind.SERVER).order_by("property_number", "id"),
    )
    ok = df.BooleanFilter(label=gettext_lazy("誤差在容許範圍內"))
    checked_from = ROCDateFilter(
        label=gettext_lazy("校時日期起"), field_name="checked_at", lookup_expr="date__gte"
    )
    checked_to = ROCDateFilter(
        label=gettext_lazy("校時日期迄"), field_name="checked_at", lookup_expr="date__lte"
    )

    class Meta:
        model = TimeSync
        fields = ["server", "ok", "source", "checked_from", "checked_to"]


# Columns ----------------------------------------------------------------------------------------
def _result(sync) -> str:
    if sync.ok:
        return _("正常")
    if sync.offset_ms is None:
        return _("檢查失敗")
    return _("異常")


def _recorder(sync) -> str:
    return sync.recorded_by.display_name if sync.recorded_by_id else ""


COLUMNS = [
    Column("checked_at", gettext_lazy("校時時間"), link=True),
    Column(
        "property_number",
        gettext_lazy("財產編號"),
        accessor="server.property_number",
        sort="server__property_number",
    ),
    Column("server", gettext_lazy("主機"), accessor="server.name", sort="server__name"),
    Column("host", gettext_lazy("主機位址")),
    Column(
        "offset_ms",
        gettext_lazy("時間誤差（毫秒）"),
        accessor=lambda s: timesync.format_ms(s.offset_ms),
        sort="offset_ms",
    ),
    Column("ok", gettext_lazy("結果"), accessor=_result, sort="ok"),
    Column("error", gettext_lazy("說明"), accessor="error", sort=None),
    Column("reference", gettext_lazy("校時來源")),
    Column("source", gettext_lazy("來源")),
    Column("recorded_by", gettext_lazy("登錄者"), accessor=_recorder, sort=None, page=False),
    Column("note", gettext_lazy("備註"), page=False),
]


# Form -------------------------------------------------------------------------------------------
class TimeSyncForm(ModelForm):
    """A time sync recorded by hand; for a check's record only the note can be changed."""

    checked_at = ROCDateTimeField(label=gettext_lazy("校時時間"))

    class Meta(ModelForm.Meta):
        model = TimeSync
        fields = ["server", "checked_at", "offset_ms", "host", "reference", "note"]
        help_texts = {
            "host": gettext_lazy("主機名稱或 IP 位址（選填）。"),
            "reference": gettext_lazy("校時所依據的 NTP 伺服器，例如 time.stdtime.gov.tw。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        instance = self.instance
        queryset = timesync.servers()
        if instance.pk is not None and instance.server_id:
            # A record of a server retired since keeps its server when corrected.
            queryset = (queryset | Asset.objects.filter(pk=instance.server_id)).order_by(
                "property_number", "name", "id"
            )
        fields["server"].queryset = queryset
        fields["checked_at"].widget.attrs.setdefault("class", "form-control")
        fields["offset_ms"].required = True
        fields["offset_ms"].help_text = _(
            "校時後量得的時間誤差，正值表示主機時鐘較快；超過 ±%(limit)s 毫秒視為異常，"
            "不計為每季校時（條文 2.5.2）。"
        ) % {"limit": timesync.format_limit()}
        if instance.pk is not None and instance.source == Source.CHECK:
            for name in timesync.MEASURED_FIELDS:
                if name in fields:
                    fields[name].disabled = True
                    fields[name].required = False  # a failed check has no offset
                    fields[name].help_text = _("由校時檢查指令量測，不能修改。")

    def clean(self):
        data = super().clean()
        # A field with its own error is left out of the probe; its error is the one shown.
        names = [n for n in self._meta.fields if n in data]
        probe = TimeSync(pk=self.instance.pk, **{n: data[n] for n in names})
        if self.instance.pk is not None:
            probe.source = self.instance.source
        stored = self.instance if self.instance.pk is not None else None
        for name, message in timesync.errors_of(probe, stored).items():
            field = name if name in self.fields else None
            if field is None or field not in self.errors:
                self.add_error(field, message)
        return data

    def save(self, commit=True):
        return timesync.save(super().save(commit=False), actor=self.request.user)


# API --------------------------------------------------------------------------------------------
class TimeSyncSerializer(ModelSerializer):
    """A time sync; ``ok`` and ``error`` are computed (``ISMS_TIME_OFFSET_MS``), never sent."""

    id = serializers.IntegerField(read_only=True)
    offset_ms = serializers.FloatField(
        label=gettext_lazy("時間誤差（毫秒）"),
        allow_null=True,
        help_text=gettext_lazy("校時後量得的時間誤差（毫秒），正值表示主機時鐘較快。"),
    )

    class Meta:
        model = TimeSync
        fields = [
            "id",
            "server",
            "host",
            "checked_at",
            "offset_ms",
            "reference",
            "ok",
            "error",
            "source",
            "recorded_by",
            "note",
            "created_at",
        ]
        read_only_fields = ["ok", "error", "source", "recorded_by", "created_at"]
        extra_kwargs = {"server": {"queryset": Asset.objects.all()}}

    def _save(self, sync):
        try:
            return timesync.save(sync, actor=self.context["request"].user)
        except DjangoValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(TimeSync(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


# The register -----------------------------------------------------------------------------------
class TimeSyncRegister(Register):
    model = TimeSync
    clause = "2.5.2"
    access = TIMESYNC_ACCESS
    columns = COLUMNS
    filterset_class = TimeSyncFilterSet
    form_class = TimeSyncForm
    serializer_class = TimeSyncSerializer
    select_related = ("server", "recorded_by__person")
    api_select_related = ()
    ordering = ("-checked_at", "-id")
    route = "time-syncs"
    nav_group = NAV
    nav_label = gettext_lazy("校時紀錄")
    detail_template = "operations/timesync/detail.html"

    @classmethod
    def detail_rows(cls, obj) -> list[tuple[str, str]]:
        field = TimeSync._meta.get_field
        return [
            (str(field("server").verbose_name), str(obj.server)),
            (str(field("host").verbose_name), obj.host),
            (str(field("checked_at").verbose_name), as_text(obj.checked_at)),
            (str(field("offset_ms").verbose_name), timesync.format_ms(obj.offset_ms)),
            (str(_("結果")), _result(obj)),
            (str(_("說明")), obj.error),
            (str(field("reference").verbose_name), obj.reference),
            (str(field("source").verbose_name), obj.get_source_display()),
            (str(field("recorded_by").verbose_name), _recorder(obj)),
            (str(field("note").verbose_name), obj.note),
            (str(field("created_at").verbose_name), as_text(obj.created_at)),
        ]


class TimeSyncDetail(DetailPage):
    register = TimeSyncRegister

    def get(self, request, pk, *, status=200, **extra):
        sync = self.get_object("view")
        extra.setdefault("sync", sync)
        extra.setdefault("server_url", sync.server.get_absolute_url())
        extra.setdefault("threshold", timesync.format_limit())
        return super().get(request, pk, status=status, **extra)


class TimeSyncFormMixin:
    """Add and correct through the service; a rule broken meanwhile is shown (400), not a 500."""

    def make_form(self, instance, data=None, files=None):
        form = super().make_form(instance, data, files)
        if instance is None and data is None:
            form.initial.setdefault("checked_at", _now_minute())
            server = self.request.GET.get("server", "")
            if server.isdigit() and timesync.servers().filter(pk=int(server)).exists():
                form.initial["server"] = int(server)
        return form

    def post(self, request, pk=None):
        form = self.make_form(self.get_instance(), request.POST, request.FILES)
        if form.is_valid():
            try:
                sync = form.save()
            except DjangoValidationError as error:
                add_service_errors(form, error)
            else:
                if sync.ok:
                    messages.success(request, _("已儲存「%(obj)s」。") % {"obj": sync})
                else:
                    messages.warning(
                        request,
                        _("已儲存「%(obj)s」，但%(error)s此筆不計為每季校時。")
                        % {"obj": sync, "error": sync.error},
                    )
                return redirect(sync.get_absolute_url())
        ctx = self.context(form=form, object=form.instance)
        return render(request, self.template_name, ctx, status=400)


def _now_minute():
    return timezone.localtime().replace(second=0, microsecond=0)


class TimeSyncAdd(TimeSyncFormMixin, AddPage):
    pass


class TimeSyncEdit(TimeSyncFormMixin, EditPage):
    pass


TimeSyncRegister.detail_view = TimeSyncDetail
TimeSyncRegister.add_view = TimeSyncAdd
TimeSyncRegister.edit_view = TimeSyncEdit

urlpatterns = [*TimeSyncRegister.urls()]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(TimeSyncRegister, "time-syncs")]
