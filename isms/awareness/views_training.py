"""Pages of security training (資訊安全教育訓練, clause 5.2).

- 教育訓練 (``/api/trainings/``): the sessions; on a session's page the officer ticks the
  people who attended (a searchable list of active people; hours the session's unless
  less) or imports the sign-in sheet (preview, then apply all or nothing).
- 出席紀錄 (``/api/training-attendances/``): one attendance with its certificates
  (attachments) and the hours counted.
- 教育訓練時數要求 (``/api/training-requirements/``): hours a year per group.
- 教育訓練時數統計: each staff member's hours of a year by kind against each requirement,
  per unit how many fall short, CSV export.
- 我的教育訓練時數: one's own year, for anyone signed in with a person record.

The security officer writes; the managers (officer, supervisor, principal) read. The rules
are ``training``'s.
"""

import base64
import binascii

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc, tabular
from isms.core.access import SIGNED_IN, Access, can
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import DetailAction, DetailPage, ProtectedView, RegisterView, csv_response
from isms.core.models import Person, Unit
from isms.core.registers import Column, Register, as_text, nav_link
from isms.core.restapi import ModelSerializer, service_errors
from isms.core.roles import MANAGERS, ROLES

from . import training
from .models import Attendance, TrainingKind, TrainingRequirement, TrainingSession
from .nav import NAV

WRITERS = training.WRITERS
SESSION_ACCESS = Access(view=MANAGERS, add=WRITERS, change=WRITERS, void=WRITERS)
ATTENDANCE_ACCESS = Access(view=MANAGERS, add=WRITERS, change=WRITERS)
REQUIREMENT_ACCESS = Access(view=MANAGERS, add=WRITERS, change=WRITERS)
REPORT_ACCESS = Access(view=MANAGERS)
KIND_LABELS = dict(TrainingKind.choices)
# The largest sign-in sheet carried from the preview to the apply.
MAX_SHEET_BYTES = 2 * 1024 * 1024


def _hours(value) -> str:
    """Hours as the pages show them: 3, 1.5."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# Sessions ---------------------------------------------------------------------------------------
class SessionFilterSet(FilterSet):
    search_fields = ("title", "organizer", "location", "notes")
    held_from = ROCDateFilter(label=gettext_lazy("日期起"), field_name="held_on", lookup_expr="gte")
    held_to = ROCDateFilter(label=gettext_lazy("日期迄"), field_name="held_on", lookup_expr="lte")

    class Meta:
        model = TrainingSession
        fields = ["kind", "external"]


class SessionForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = TrainingSession
        fields = ["title", "held_on", "hours", "kind", "organizer", "location", "external", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "held_on": gettext_lazy("預定辦理的課程可先登錄；出席紀錄在辦理當天或之後登錄。"),
            "hours": gettext_lazy("0.5 到 40 小時。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = TrainingKind.choices

    def save(self, commit=True):
        return training.save_session(super().save(commit=False), actor=self.request.user)


class SessionSerializer(ModelSerializer):
    class Meta:
        model = TrainingSession
        fields = [
            "id",
            "title",
            "held_on",
            "hours",
            "kind",
            "organizer",
            "location",
            "external",
            "notes",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = ["created_at", "updated_at", "voided_at", "void_reason"]

    def _save(self, session):
        try:
            return training.save_session(session, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(TrainingSession(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class SessionRegister(Register):
    model = TrainingSession
    clause = training.CLAUSE
    access = SESSION_ACCESS
    columns = [
        Column("held_on", gettext_lazy("日期"), link=True),
        Column("title", gettext_lazy("課程名稱")),
        Column("kind", gettext_lazy("類別")),
        Column("hours", gettext_lazy("時數"), accessor=lambda s: _hours(s.hours)),
        Column("organizer", gettext_lazy("主辦單位")),
        Column("external", gettext_lazy("校外課程")),
        Column("location", gettext_lazy("地點"), page=False),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = SessionFilterSet
    form_class = SessionForm
    serializer_class = SessionSerializer
    serializer_reads_related = False
    ordering = ("-held_on", "-id")
    route = "trainings"
    nav_group = NAV
    nav_label = gettext_lazy("教育訓練")
    detail_template = "awareness/training/session_detail.html"

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return training.void_session(obj, actor=actor, reason=reason)


class PersonChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        unit = obj.unit.name if obj.unit_id else ""
        return f"{obj.name}（{unit}）" if unit else obj.name


class AttendForm(forms.Form):
    """Tick the people who attended; the hours are the session's unless less."""

    people = PersonChoices(
        label=gettext_lazy("出席人員"),
        queryset=Person.objects.none(),
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 12}),
        help_text=gettext_lazy("可輸入姓名篩選；按住 Ctrl 可複選。只列在職且尚未登錄的人員。"),
    )
    hours = forms.DecimalField(
        label=gettext_lazy("認列時數"),
        required=False,
        max_digits=4,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.1", "min": "0"}),
        help_text=gettext_lazy("留空為課程時數；提早離開者另行修改。"),
    )

    def __init__(self, *args, session, **kwargs):
        super().__init__(*args, **kwargs)
        taken = Attendance.objects.filter(session=session).values("person_id")
        self.fields["people"].queryset = (
            training.active_people()
            .exclude(pk__in=taken)
            .select_related("unit")
            .order_by("unit__name", "name", "pk")
        )


class SheetForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("簽到表"),
        help_text=gettext_lazy(
            "CSV（UTF-8 或 Big5）或 XLSX，第一列為標題：姓名，以及單位或電子郵件"
            "（同名時用來分辨）。"
        ),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": tabular.ACCEPT}),
    )


class SessionDetail(DetailPage):
    register = SessionRegister

    def get(self, request, pk, *, status=200, **extra):
        session = self.get_object("view")
        attendances = list(
            Attendance.objects.filter(session=session)
            .select_related("person__unit")
            .order_by("person__name", "id")
        )
        writer = training.may_write(request.user) and session.voided_at is None
        today = timezone.localdate()
        open_ = writer and session.held_on <= today
        if open_:
            extra.setdefault("attend_form", AttendForm(session=session))
            extra.setdefault("sheet_form", SheetForm())
        return super().get(
            request,
            pk,
            status=status,
            session=session,
            attendances=attendances,
            attendance_hours=_hours(sum((a.hours for a in attendances), training.ZERO)),
            can_attend=open_,
            planned=session.held_on > today,
            hours_text=_hours(session.hours),
            **extra,
        )


class AttendView(DetailAction, SessionDetail):
    """Record the people ticked; refused → the session's page with the reason (400)."""

    access = ATTENDANCE_ACCESS
    action = "add"
    form_context = "attend_form"

    def form_class(self, data):
        return AttendForm(data, session=self.get_object("view"))

    def perform(self, session, form, user):
        training.record_attendance(
            session,
            list(form.cleaned_data["people"]),
            hours=form.cleaned_data.get("hours"),
            actor=user,
        )

    def success_message(self, session):
        return _("已登錄「%(session)s」的出席人員。") % {"session": session}


class SheetView(RegisterView):
    """The sign-in sheet: upload → preview (each row's person or reason) → apply, all or
    nothing; the file rides along with the preview (base64) and is read again to apply."""

    register = SessionRegister
    access = ATTENDANCE_ACCESS
    action = "add"

    def get(self, request, pk):
        return redirect(reverse("awareness:trainingsession_detail", args=[pk]))

    def page(self, session, *, status=200, **ctx):
        ctx.setdefault("sheet_form", SheetForm())
        return render(
            self.request,
            "awareness/training/sheet.html",
            self.context(object=session, session=session, **ctx),
            status=status,
        )

    def post(self, request, pk):
        session = self.get_object("view")
        if "sheet" in request.POST:
            return self.apply(session)
        form = SheetForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.page(session, sheet_form=form, status=400)
        upload = form.cleaned_data["file"]
        try:
            kind = training.check_sheet(upload)
            data = upload.read()
            if len(data) > MAX_SHEET_BYTES:
                raise tabular.FileError(_("簽到表不可超過 2 MB。"))
            rows, encoding = training.read_sheet(data, kind)
        except (tabular.FileError, ValidationError) as error:
            form.add_error("file", error.messages if hasattr(error, "messages") else str(error))
            return self.page(session, sheet_form=form, status=400)
        return self.preview(session, data, kind, encoding, rows)

    def preview(self, session, data, kind, encoding, rows=None, *, errors=(), status=200):
        if rows is None:
            rows, encoding = training.read_sheet(data, kind, encoding)
        preview = training.match_sheet(session, rows)
        for entry in preview["rows"]:
            entry["reason_text"] = training.reason_text(entry["reason"]) if entry["reason"] else ""
            entry["bad"] = entry["line"] in preview["bad"]
        return self.page(
            session,
            preview=preview,
            sheet=base64.b64encode(data).decode(),
            kind=kind,
            encoding=encoding,
            encoding_label=tabular.ENCODING_LABELS.get(encoding, encoding),
            errors=errors,
            status=status,
        )

    def apply(self, session):
        post = self.request.POST
        kind = post.get("kind") if post.get("kind") in tabular.KINDS else "csv"
        encoding = post.get("encoding", "")
        if encoding not in tabular.ENCODING_LABELS:
            encoding = ""
        try:
            data = base64.b64decode(post.get("sheet", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data or len(data) > MAX_SHEET_BYTES:
            form = SheetForm()
            return self.page(session, errors=[_("請重新上傳簽到表。")], sheet_form=form, status=400)
        skip = [line for line in post.getlist("skip") if line.isdigit()]
        try:
            created = training.apply_sheet(
                session,
                data=data,
                kind=kind,
                encoding=encoding,
                digest_seen=post.get("digest", ""),
                skip=skip,
                actor=self.request.user,
            )
        except tabular.FileError as error:
            return self.page(session, errors=[str(error)], status=400)
        except ValidationError as error:
            return self.preview(session, data, kind, encoding, errors=error.messages, status=400)
        messages.success(
            self.request,
            _("已由簽到表登錄 %(n)d 位出席人員。") % {"n": len(created)},
        )
        return redirect(session.get_absolute_url())


# Attendance ---------------------------------------------------------------------------------------
class AttendanceFilterSet(FilterSet):
    search_fields = ("person__name", "session__title")
    held_from = ROCDateFilter(
        label=gettext_lazy("日期起"), field_name="session__held_on", lookup_expr="gte"
    )
    held_to = ROCDateFilter(
        label=gettext_lazy("日期迄"), field_name="session__held_on", lookup_expr="lte"
    )

    class Meta:
        model = Attendance
        fields = []


class AttendanceForm(ModelForm):
    """One attendance: a new one names the session and the person; then only the hours."""

    class Meta(ModelForm.Meta):
        model = Attendance
        fields = ["session", "person", "hours"]
        help_texts = {"hours": gettext_lazy("不可多於課程時數。")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["session"].disabled = True
            self.fields["person"].disabled = True
        else:
            self.fields["session"].queryset = TrainingSession.objects.active().filter(
                held_on__lte=timezone.localdate()
            )
            self.fields["person"].queryset = training.active_people().order_by("name")
            self.fields["hours"].required = False

    def save(self, commit=True):
        user = self.request.user
        att = self.instance
        if att.pk is not None:
            return training.change_attendance(att, hours=self.cleaned_data["hours"], actor=user)
        rows = training.record_attendance(
            self.cleaned_data["session"],
            [self.cleaned_data["person"]],
            hours=self.cleaned_data.get("hours"),
            actor=user,
        )
        return rows[0]


class AttendanceSerializer(ModelSerializer):
    class Meta:
        model = Attendance
        fields = ["id", "session", "person", "hours", "recorded_by", "created_at"]
        read_only_fields = ["recorded_by", "created_at"]
        validators = []  # the service says "already recorded" in zh-TW
        extra_kwargs = {"hours": {"required": False}}

    def create(self, validated_data):
        try:
            return training.record_attendance(
                validated_data["session"],
                [validated_data["person"]],
                hours=validated_data.get("hours"),
                actor=self.context["request"].user,
            )[0]
        except ValidationError as error:
            raise service_errors(error) from None

    def update(self, instance, validated_data):
        if {"session", "person"} & validated_data.keys() and (
            validated_data.get("session", instance.session) != instance.session
            or validated_data.get("person", instance.person) != instance.person
        ):
            raise service_errors(
                ValidationError({"person": _("出席紀錄的課程與人員不能變更；請刪除後重新登錄。")})
            )
        try:
            return training.change_attendance(
                instance,
                hours=validated_data.get("hours", instance.hours),
                actor=self.context["request"].user,
            )
        except ValidationError as error:
            raise service_errors(error) from None


class AttendanceRegister(Register):
    model = Attendance
    clause = training.CLAUSE
    access = ATTENDANCE_ACCESS
    columns = [
        Column(
            "session",
            gettext_lazy("日期"),
            accessor="session.held_on",
            sort="session__held_on",
            link=True,
        ),
        Column("title", gettext_lazy("課程名稱"), accessor="session.title", sort="session__title"),
        Column("person", gettext_lazy("人員"), accessor="person.name", sort="person__name"),
        Column(
            "unit", gettext_lazy("單位"), accessor="person.unit.name", sort="person__unit__name"
        ),
        Column("kind", gettext_lazy("類別"), accessor="session.kind", sort="session__kind"),
        Column("hours", gettext_lazy("認列時數"), accessor=lambda a: _hours(a.hours)),
    ]
    filterset_class = AttendanceFilterSet
    form_class = AttendanceForm
    serializer_class = AttendanceSerializer
    serializer_reads_related = False
    select_related = ("session", "person__unit")
    ordering = ("-session__held_on", "person__name", "-id")
    route = "trainings/attendance"
    nav_group = ""
    detail_template = "awareness/training/attendance_detail.html"


class AttendanceDetail(DetailPage):
    register = AttendanceRegister

    def get(self, request, pk, *, status=200, **extra):
        att = self.get_object("view")
        return super().get(
            request,
            pk,
            status=status,
            attendance=att,
            can_remove=training.may_write(request.user) and att.session.voided_at is None,
            **extra,
        )


class RemoveAttendanceView(RegisterView):
    """Take back an attendance recorded in error; POST only."""

    register = AttendanceRegister
    action = "change"

    def get(self, request, pk):
        return redirect(reverse("awareness:attendance_detail", args=[pk]))

    def post(self, request, pk):
        att = self.get_object("change")
        session = att.session
        try:
            training.remove_attendance(att, actor=request.user)
        except ValidationError as error:
            view = AttendanceDetail()
            view.setup(request, pk=pk)
            return view.get(request, pk, status=400, remove_errors=error.messages)
        messages.success(request, _("已刪除「%(name)s」的出席紀錄。") % {"name": att.person.name})
        return redirect(session.get_absolute_url())


# Requirements -------------------------------------------------------------------------------------
def role_choices():
    return [("", _("全體教職員（有登入帳號的在職人員）"))] + [
        (code, str(label)) for code, (label, _desc) in ROLES.items()
    ]


class RequirementForm(ModelForm):
    role = forms.ChoiceField(label=gettext_lazy("適用角色"), required=False, choices=())
    kinds = forms.MultipleChoiceField(
        label=gettext_lazy("認列類別"),
        choices=TrainingKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta(ModelForm.Meta):
        model = TrainingRequirement
        fields = ["role", "kinds", "hours", "notes"]
        help_texts = {
            "hours": gettext_lazy("每年（1 月 1 日至 12 月 31 日）至少的時數，0.5 到 200。")
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices()
        self.fields["role"].widget.attrs["class"] = "form-select"

    def validate_unique(self):
        """The service says "this role already has one" in zh-TW."""

    def save(self, commit=True):
        req = super().save(commit=False)
        req.kinds = list(self.cleaned_data.get("kinds") or [])
        return training.save_requirement(req, actor=self.request.user)


class RequirementSerializer(ModelSerializer):
    class Meta:
        model = TrainingRequirement
        fields = ["id", "role", "kinds", "hours", "notes", "updated_at"]
        read_only_fields = ["updated_at"]
        validators = []
        extra_kwargs = {"role": {"required": False, "allow_blank": True}}

    def _save(self, req):
        try:
            return training.save_requirement(req, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(TrainingRequirement(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class RequirementRegister(Register):
    model = TrainingRequirement
    clause = training.CLAUSE
    access = REQUIREMENT_ACCESS
    columns = [
        Column(
            "role",
            gettext_lazy("適用角色"),
            accessor=lambda r: training.role_label(r.role),
            link=True,
        ),
        Column("hours", gettext_lazy("每年時數"), accessor=lambda r: _hours(r.hours)),
        Column(
            "kinds",
            gettext_lazy("認列類別"),
            accessor=lambda r: training.kind_labels(r.kinds),
            sort=None,
        ),
        Column("notes", gettext_lazy("說明")),
        Column("updated_at", gettext_lazy("更新時間")),
    ]
    form_class = RequirementForm
    serializer_class = RequirementSerializer
    serializer_reads_related = False
    ordering = ("role", "id")
    route = "trainings/requirements"
    attachments = False
    nav_group = NAV
    nav_label = gettext_lazy("教育訓練時數要求")
    url_prefix = "trainingrequirement"

    @classmethod
    def detail_rows(cls, obj):
        return [
            (_("適用角色"), training.role_label(obj.role)),
            (_("每年時數"), _hours(obj.hours)),
            (_("認列類別"), training.kind_labels(obj.kinds)),
            (_("說明"), obj.notes),
            (_("更新時間"), as_text(obj.updated_at)),
        ]


# Hours per person per year ------------------------------------------------------------------------
def year_param(params) -> tuple[int, str | None]:
    """(Western year, error) from ``year`` (ROC 115 or Western 2026); this year by default."""
    text = (params.get("year") or "").strip()
    this_year = timezone.localdate().year
    if not text:
        return this_year, None
    if not text.isdigit():
        return this_year, _("年度請填民國年，例如 115。")
    year = int(text)
    if year <= roc.MAX_ROC_YEAR:
        year += roc.ROC_OFFSET
    if not (roc.MIN_DATE.year <= year <= this_year + 1):
        return this_year, _("年度請填民國年，例如 115。")
    return year, None


class HoursFilterForm(forms.Form):
    year = forms.CharField(
        label=gettext_lazy("年度（民國）"),
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "size": 4}),
    )
    unit = forms.ModelChoiceField(
        label=gettext_lazy("單位"),
        queryset=Unit.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("全部"),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    short = forms.BooleanField(
        label=gettext_lazy("只列未達要求"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class HoursReportView(ProtectedView):
    """教育訓練時數統計: each active staff member's hours of a calendar year."""

    access = REPORT_ACCESS

    def get(self, request):
        form = HoursFilterForm(request.GET)
        form.is_valid()
        year, error = year_param(request.GET)
        unit = form.cleaned_data.get("unit") if not form.errors.get("unit") else None
        short_only = bool(form.cleaned_data.get("short"))
        report = training.hours_report(year, unit=unit, short_only=short_only)
        if request.GET.get("format") == "csv":
            return self.export(request, report)
        params = request.GET.copy()
        params["format"] = "csv"
        return render(
            request,
            "awareness/training/hours.html",
            {
                "form": form,
                "report": report,
                "roc_year": year - roc.ROC_OFFSET,
                "kinds": [KIND_LABELS[k] for k in training.KINDS],
                "people_rows": self.rows_html(report["rows"]),
                "error": error,
                "export_url": f"{request.path}?{params.urlencode()}",
                "clause": training.CLAUSE,
                "can_export": can(request.user, "export", REPORT_ACCESS),
            },
            status=400 if error else 200,
        )

    @staticmethod
    def rows_html(rows) -> str:
        """The people table's body, built in Python as ``Register.render_rows`` builds a
        list's (every value escaped): a school's 300 staff through the template's nested
        loops and ``blocktranslate`` took about 35 ms; here about 5 ms."""
        met_badge = f'<span class="badge text-bg-success">{escape(_("已達成"))}</span>'
        labels = {}
        out = []
        for r in rows:
            person = r["person"]
            unit = person.unit.name if person.unit_id else "—"
            cells = "".join(f'<td class="text-end">{_hours(h)}</td>' for h in r["by_kind"])
            lines = []
            for s in r["standing"]:
                role = s["requirement"].role
                label = labels.get(role)
                if label is None:
                    label = labels[role] = escape(training.role_label(role))
                badge = (
                    met_badge
                    if s["met"]
                    else '<span class="badge text-bg-danger">'
                    f"{escape(_('差 %(h)s 小時') % {'h': _hours(s['short'])})}</span>"
                )
                lines.append(
                    f'<div data-requirement="{escape(role or "all")}" '
                    f'data-met="{1 if s["met"] else 0}">{label} {_hours(s["counted"])}/'
                    f"{_hours(s['requirement'].hours)} {badge}</div>"
                )
            warning = "" if r["met"] else ' class="table-warning"'
            out.append(
                f'<tr data-person="{person.pk}"{warning}><td>{escape(person.name)}</td>'
                f"<td>{escape(unit)}</td>{cells}"
                f'<td class="text-end">{_hours(r["total"])}</td>'
                f"<td>{''.join(lines) or '—'}</td></tr>"
            )
        return mark_safe("".join(out))

    def export(self, request, report):
        header = [
            _("姓名"),
            _("單位"),
            *[str(KIND_LABELS[k]) for k in training.KINDS],
            _("合計"),
            _("時數要求"),
            _("未達要求"),
        ]
        rows = []
        for r in report["rows"]:
            person = r["person"]
            rows.append(
                [
                    person.name,
                    person.unit.name if person.unit_id else "",
                    *[_hours(h) for h in r["by_kind"]],
                    _hours(r["total"]),
                    "；".join(
                        f"{training.role_label(s['requirement'].role)} "
                        f"{_hours(s['counted'])}/{_hours(s['requirement'].hours)}"
                        for s in r["standing"]
                    ),
                    "；".join(
                        f"{training.role_label(s['requirement'].role)} {_hours(s['short'])}"
                        for s in r["standing"]
                        if not s["met"]
                    ),
                ]
            )
        trail.record(
            "export",
            model_label="awareness.attendance",
            message=_("匯出 %(year)s 年教育訓練時數統計（%(n)d 筆）")
            % {"year": report["year"] - roc.ROC_OFFSET, "n": len(rows)},
            actor=request.user,
        )
        name = _("教育訓練時數統計") + f"-{report['year'] - roc.ROC_OFFSET}.csv"
        return csv_response(name, header, rows)


class MyHoursView(ProtectedView):
    """我的教育訓練時數: anyone signed in with a person record sees their own year."""

    access = SIGNED_IN

    def get(self, request):
        year, error = year_param(request.GET)
        person = getattr(request.user, "person", None)
        ctx = {
            "roc_year": year - roc.ROC_OFFSET,
            "error": error,
            "person": person,
            "clause": training.CLAUSE,
        }
        if person is not None:
            mine = training.person_hours(person, year)
            ctx.update(
                mine=mine,
                total=_hours(mine["total"]),
                by_kind=[(label, _hours(h)) for label, h in mine["by_kind"]],
                standing=[
                    {
                        **s,
                        "label": training.role_label(s["requirement"].role),
                        "kinds": training.kind_labels(s["requirement"].kinds),
                        "needed": _hours(s["requirement"].hours),
                        "counted": _hours(s["counted"]),
                        "short": _hours(s["short"]),
                    }
                    for s in mine["standing"]
                ],
                attended=[{"attendance": a, "hours": _hours(a.hours)} for a in mine["attended"]],
            )
        return render(
            request, "awareness/training/my_hours.html", ctx, status=400 if error else 200
        )


nav_link(NAV, gettext_lazy("教育訓練時數統計"), "awareness:training_hours", REPORT_ACCESS)
nav_link(NAV, gettext_lazy("我的教育訓練時數"), "awareness:training_mine", SIGNED_IN)

SessionRegister.detail_view = SessionDetail
AttendanceRegister.detail_view = AttendanceDetail


urlpatterns = [
    path("trainings/hours/", HoursReportView.as_view(), name="training_hours"),
    path("trainings/mine/", MyHoursView.as_view(), name="training_mine"),
    path("trainings/<int:pk>/attend/", AttendView.as_view(), name="trainingsession_attend"),
    path("trainings/<int:pk>/sheet/", SheetView.as_view(), name="trainingsession_sheet"),
    path(
        "trainings/attendance/<int:pk>/remove/",
        RemoveAttendanceView.as_view(),
        name="attendance_remove",
    ),
    *RequirementRegister.urls(),
    *AttendanceRegister.urls(),
    *SessionRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [
    (SessionRegister, "trainings"),
    (AttendanceRegister, "training-attendances"),
    (RequirementRegister, "training-requirements"),
]
