"""Incident print-outs and statistics (clause 2.10, form A-6).

* the facts of one incident laid out in the order the 教育機構資安通報平台 asks for them,
  each with a copy button (2.10.6–2.10.8);
* the same as the paper 資安事件通報單 on A4, with its timeline and signature boxes;
* the A-6 procedure sheet (資安事件通報程序): the steps of 2.10.3–2.10.9 and whom to call;
* the yearly statistics: incidents per month by level and category, and how the report and
  close deadlines (2.10.9) were kept. Everything is counted in the database, so the number
  of queries does not grow with the number of incidents.
"""

import dataclasses
import datetime as dt
import math

from django import forms
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.compliance.models import PolicyRevision
from isms.core import roc
from isms.core.access import SIGNED_IN, restrict
from isms.core.fields import ROCDateField
from isms.core.generic import ProtectedView
from isms.core.models import ContactEntry, SchoolProfile
from isms.core.registers import nav_link

from . import levels
from .models import Incident
from .views import INCIDENT_ACCESS, NAV

PROCEDURE_ACCESS = SIGNED_IN  # a teacher must be able to see whom to call (2.10.3)
Status = Incident.Status


# One incident: the facts the platform asks for ---------------------------------------------
@dataclasses.dataclass
class Fact:
    """One value to copy into the platform: its label, the text and an alternative form."""

    label: str
    value: str = ""
    # The same moment with a Western year (2026-11-30 07:40), for a form that wants one.
    western: str = ""
    multiline: bool = False


def _moment(value) -> tuple[str, str]:
    if value is None:
        return "", ""
    local = timezone.localtime(value)
    return roc.format_roc_datetime(local), local.strftime("%Y-%m-%d %H:%M")


def _moment_fact(label, value) -> Fact:
    shown, western = _moment(value)
    return Fact(label, shown, western=western)


def _yes_no(value: bool) -> str:
    return _("是") if value else _("否")


def reporter_and_contact(incident, officer: ContactEntry | None) -> dict:
    """Who reports on the platform, and how the platform reaches the school.

    The reporter is the person who made the platform report, else the security officer
    of the A-6 table. The phone and e-mail are those of the A-6 security-officer entry
    (the school's contact for incidents); where that entry has none, the reporter's own.
    """
    user = incident.platform_reporter
    person = None
    if user is not None:
        name, person = user.display_name, user.person
    elif officer is not None and officer.display_name:
        name, person = officer.display_name, officer.person
    else:
        name = ""
    phone = officer.phone if officer is not None else ""
    email = officer.email if officer is not None else ""
    if person is not None:
        phone = phone or person.phone or person.extension
        email = email or person.email
    return {"name": name, "phone": phone, "email": email}


def level_facts(incident) -> list[Fact]:
    """The level assessment in the clause's words (2.10.2)."""
    facts = []
    if incident.unconfirmed_case:
        facts.append(Fact(_("0 級情形"), str(incident.get_unconfirmed_case_display())))
    for name, label in (
        ("confidentiality_impact", _("機密性衝擊")),
        ("integrity_impact", _("完整性衝擊")),
        ("availability_impact", _("可用性衝擊")),
    ):
        value = getattr(incident, name)
        text = str(getattr(incident, f"get_{name}_display")()) if value is not None else ""
        facts.append(Fact(label, text))
    facts.append(
        Fact(_("事件等級"), str(incident.get_level_display()) if incident.level is not None else "")
    )
    if incident.level_override is not None:
        computed = incident.level_computed
        facts.append(
            Fact(
                _("等級調整"),
                _("研判 %(computed)s 級，調整為 %(level)d 級")
                % {
                    "computed": "—" if computed is None else computed,
                    "level": incident.level_override,
                },
            )
        )
        facts.append(Fact(_("調整等級理由"), incident.level_override_reason, multiline=True))
    return facts


def platform_sections(incident, school, officer) -> list[tuple[str, list[Fact]]]:
    """The facts in the platform's order: unit, times, equipment, category, level, handling."""
    who = reporter_and_contact(incident, officer)
    return [
        (
            _("通報單位"),
            [
                Fact(_("學校名稱"), school.name),
                Fact(_("學校 OID"), school.oid),
                Fact(_("通報人"), who["name"]),
                Fact(_("聯絡電話"), who["phone"]),
                Fact(_("電子郵件"), who["email"]),
            ],
        ),
        (
            _("事件時間"),
            [
                _moment_fact(_("發生時間"), incident.occurred_at),
                _moment_fact(_("知悉時間"), incident.discovered_at),
            ],
        ),
        (
            _("設備資料"),
            [
                Fact(_("設備 IP"), incident.equipment_ip),
                Fact(_("網址 URL"), incident.equipment_url),
                Fact(_("廠牌型號"), incident.equipment_model),
                Fact(_("作業系統"), incident.equipment_os),
                Fact(_("受影響軟體"), incident.affected_software),
                Fact(_("已安裝之防護"), incident.protection),
            ],
        ),
        (
            _("事件分類（條文 2.10.1）"),
            [
                Fact(_("事件類型"), incident.category_label),
                Fact(_("事件摘要"), incident.title),
                Fact(_("事件說明"), incident.description, multiline=True),
            ],
        ),
        (_("事件等級評估（條文 2.10.2）"), level_facts(incident)),
        (
            _("處理情形"),
            [
                Fact(_("已採取之措施"), incident.measures_taken, multiline=True),
                Fact(_("需要外部支援"), _yes_no(incident.needs_support)),
            ],
        ),
    ]


def incident_or_404(request, pk) -> Incident:
    qs = restrict(Incident.objects.all(), request.user, "view", INCIDENT_ACCESS)
    incident = (
        qs.select_related("platform_reporter__person", "reporter__person", "closed_by__person")
        .filter(pk=pk)
        .first()
    )
    if incident is None:
        raise Http404
    return incident


def security_officer_entry() -> ContactEntry | None:
    return (
        ContactEntry.objects.select_related("person")
        .filter(role=ContactEntry.Role.SECURITY_OFFICER)
        .first()
    )


class PlatformCopyView(ProtectedView):
    """Copy for the platform: each value the 教育機構資安通報平台 asks, with a copy button."""

    access = INCIDENT_ACCESS

    def get(self, request, pk):
        incident = incident_or_404(request, pk)
        school = SchoolProfile.load()
        return render(
            request,
            "incidents/reports/platform_copy.html",
            {
                "incident": incident,
                "school": school,
                "school_profile": school,  # the layout's, so that it is read once
                "sections": platform_sections(incident, school, security_officer_entry()),
                "now": timezone.now(),
            },
        )


class IncidentPrintView(ProtectedView):
    """The paper 資安事件通報單 (A4): the platform's facts, the timeline and signatures."""

    access = INCIDENT_ACCESS

    def get(self, request, pk):
        incident = incident_or_404(request, pk)
        school = SchoolProfile.load()
        closing = []
        if incident.status == Status.CLOSED:
            closing = [
                Fact(_("損害控制"), incident.containment, multiline=True),
                Fact(_("復原作業"), incident.recovery, multiline=True),
                Fact(_("事件原因"), incident.root_cause, multiline=True),
                Fact(_("改善及預防措施"), incident.prevention, multiline=True),
            ]
        hours = levels.close_hours(incident.level)
        return render(
            request,
            "incidents/reports/incident_print.html",
            {
                "incident": incident,
                "school": school,
                "school_profile": school,  # the layout's, so that it is read once
                "sections": platform_sections(incident, school, security_officer_entry()),
                "deadlines": [
                    (
                        _("平台通報（%(h)d 小時內）") % {"h": settings.ISMS_INCIDENT_REPORT_HOURS},
                        incident.report_due_at,
                        incident.reported_at,
                    ),
                    (
                        _("處理完成並結案（%(h)d 小時內）") % {"h": hours},
                        incident.close_due_at,
                        incident.closed_at,
                    ),
                ],
                "closing": closing,
                "steps": incident.steps.select_related("done_by__person"),
                "timeline": incident.timeline.all(),
                "policy_version": PolicyRevision.current(),
                "now": timezone.now(),
            },
        )


# The A-6 procedure sheet -----------------------------------------------------------------
class ProcedureView(ProtectedView):
    """資安事件通報程序 (A-6): what to do, in order, and whom to call."""

    access = PROCEDURE_ACCESS

    def get(self, request):
        contacts = list(ContactEntry.objects.select_related("person"))
        school = SchoolProfile.load()
        return render(
            request,
            "incidents/reports/procedure.html",
            {
                "school": school,
                "school_profile": school,  # the layout's, so that it is read once
                "contacts": contacts,
                "officer": next(
                    (c for c in contacts if c.role == ContactEntry.Role.SECURITY_OFFICER), None
                ),
                "report_hours": settings.ISMS_INCIDENT_REPORT_HOURS,
                # The clocks' anchor as this school configured it (see docs/incidents.md).
                "from_discovery": settings.ISMS_INCIDENT_DEADLINE_ANCHOR == "discovered",
                "minor_hours": levels.close_hours(0),
                "major_hours": levels.close_hours(levels.ESCALATION_LEVEL),
                "escalation_level": levels.ESCALATION_LEVEL,
                "policy_version": PolicyRevision.current(),
                "now": timezone.now(),
            },
        )


# Statistics ------------------------------------------------------------------------------
MAX_SPAN = dt.timedelta(days=3 * 366)
LEVEL_KEYS = [0, 1, 2, 3, 4, None]  # None: not classified yet
LEVEL_COLOURS = {
    0: "#adb5bd",
    1: "#0dcaf0",
    2: "#ffc107",
    3: "#fd7e14",
    4: "#dc3545",
    None: "#e9ecef",
}
CATEGORY_COLOUR = "#0d6efd"


class StatisticsForm(forms.Form):
    """A school year (學年度), or a date range that takes precedence when given."""

    year = forms.TypedChoiceField(label=gettext_lazy("學年度"), coerce=int, required=False)
    start = ROCDateField(label=gettext_lazy("起"), required=False)
    end = ROCDateField(label=gettext_lazy("迄"), required=False)

    def __init__(self, *args, years=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [(y, _("%(year)d 學年度") % {"year": y}) for y in years]
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "form-select" if name == "year" else "form-control"

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if bool(start) != bool(end) and not self.errors:
            raise forms.ValidationError(_("自訂期間請同時填寫起日與迄日。"))
        if start and end:
            if end < start:
                self.add_error("end", _("迄日不可早於起日。"))
            elif end - start > MAX_SPAN:
                self.add_error("end", _("期間最長 3 年。"))
        return data


@dataclasses.dataclass
class Period:
    start: dt.date
    end: dt.date  # inclusive
    label: str
    school_year: int | None = None

    def bounds(self):
        """Aware datetimes [from, to) in the current time zone (Asia/Taipei)."""
        tz = timezone.get_current_timezone()
        begin = dt.datetime.combine(self.start, dt.time(), tzinfo=tz)
        stop = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        return begin, stop

    def months(self) -> list[tuple[int, int]]:
        months, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            months.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


def school_year_period(year: int, profile) -> Period:
    start, end = roc.school_year_range(year, **roc.profile_term_starts(profile))
    return Period(start, end, _("%(year)d 學年度") % {"year": year}, school_year=year)


def year_choices(profile, current: int) -> list[int]:
    """The school years that hold incidents, and at least the last five, newest first."""
    first = Incident.objects.aggregate(first=Min("discovered_at"))["first"]
    oldest = current - 4
    if first is not None:
        oldest = min(oldest, roc.school_term(first, **roc.profile_term_starts(profile)).school_year)
    return list(range(current, oldest - 1, -1))


def _anchor():
    """The moment the clocks run from, as in levels.anchor (in the database)."""
    if settings.ISMS_INCIDENT_DEADLINE_ANCHOR == "occurred":
        return Coalesce("occurred_at", "discovered_at")
    return F("discovered_at")


def _since_anchor(field):
    return ExpressionWrapper(F(field) - _anchor(), output_field=DurationField())


def _hours(value: dt.timedelta | None) -> str:
    """Hours with one decimal, as text (the template must not localise it): ``1.5``."""
    return "" if value is None else f"{value.total_seconds() / 3600:.1f}"


def _median(queryset, done_field, n: int) -> dt.timedelta | None:
    """The median time from the anchor to ``done_field``: the middle one or two rows only."""
    if not n:
        return None
    ordered = (
        queryset.filter(**{f"{done_field}__isnull": False})
        .annotate(took=_since_anchor(done_field))
        .order_by("took", "pk")
        .values_list("took", flat=True)
    )
    middle = list(ordered[(n - 1) // 2 : n // 2 + 1])
    return sum(middle, dt.timedelta()) / len(middle)


# What the statistics count: neither voided nor dismissed as no security incident.
COUNTED = Q(voided_at__isnull=True) & ~Q(status=Status.DISMISSED)


def statistics(period: Period, now=None) -> dict:
    """Everything the statistics page shows for a period, in a fixed number of queries."""
    now = now or timezone.now()
    begin, stop = period.bounds()
    in_period = Incident.objects.filter(discovered_at__gte=begin, discovered_at__lt=stop)
    included = COUNTED
    base = in_period.filter(included)
    closed = Q(status=Status.CLOSED)
    totals = in_period.aggregate(
        total=Count("id", filter=included),
        dismissed=Count("id", filter=Q(voided_at__isnull=True, status=Status.DISMISSED)),
        voided=Count("id", filter=Q(voided_at__isnull=False)),
        reported=Count("id", filter=included & Q(reported_at__isnull=False)),
        reported_on_time=Count("id", filter=included & Q(reported_at__lte=F("report_due_at"))),
        reported_late=Count("id", filter=included & Q(reported_at__gt=F("report_due_at"))),
        report_overdue=Count(
            "id", filter=included & Q(reported_at__isnull=True, report_due_at__lt=now)
        ),
        report_pending=Count(
            "id", filter=included & Q(reported_at__isnull=True, report_due_at__gte=now)
        ),
        report_longest=Max(_since_anchor("reported_at"), filter=included),
        closed=Count("id", filter=included & closed),
        closed_on_time=Count("id", filter=included & closed & Q(closed_at__lte=F("close_due_at"))),
        closed_late=Count("id", filter=included & closed & Q(closed_at__gt=F("close_due_at"))),
        close_overdue=Count("id", filter=included & ~closed & Q(close_due_at__lt=now)),
        close_pending=Count("id", filter=included & ~closed & Q(close_due_at__gte=now)),
        close_longest=Max(_since_anchor("closed_at"), filter=included & closed),
    )
    months = period.months()
    month_index = {m: i for i, m in enumerate(months)}

    def grouped(field):
        rows = (
            base.annotate(month=TruncMonth("discovered_at"))
            .values("month", field)
            .annotate(n=Count("id"))
            .order_by()
        )
        found = {}
        for row in rows:
            key = (row["month"].year, row["month"].month)
            if key in month_index:
                found[(month_index[key], row[field])] = row["n"]
        return found

    by_level = grouped("level")
    level_rows = []
    for i, (year, month) in enumerate(months):
        cells = [by_level.get((i, key), 0) for key in LEVEL_KEYS]
        level_rows.append({"month": _month_label(year, month), "cells": cells, "total": sum(cells)})
    level_totals = [sum(r["cells"][j] for r in level_rows) for j in range(len(LEVEL_KEYS))]

    by_category = grouped("category")
    category_rows = []
    for value, label in [*Incident.Category.choices, ("", _("尚未分類"))]:
        cells = [by_category.get((i, value), 0) for i in range(len(months))]
        total = sum(cells)
        if total or value not in (Incident.Category.OTHER, ""):
            category_rows.append({"label": str(label), "cells": cells, "total": total})
    month_totals = [r["total"] for r in level_rows]

    report_median = _median(base, "reported_at", totals["reported"])
    closed_base = base.filter(status=Status.CLOSED)
    close_median = _median(closed_base, "closed_at", totals["closed"])
    level_labels = [_level_label(k) for k in LEVEL_KEYS]
    return {
        "totals": totals,
        "months": [
            {"label": _month_label(y, m), "year": y - roc.ROC_OFFSET, "month": f"{m:02d}"}
            for y, m in months
        ],
        "level_labels": level_labels,
        "level_rows": level_rows,
        "level_totals": level_totals,
        "category_rows": category_rows,
        "month_totals": month_totals,
        "timings": [
            {
                "label": _("平台通報"),
                "deadline": _("%(h)d 小時內") % {"h": settings.ISMS_INCIDENT_REPORT_HOURS},
                "done": totals["reported"],
                "on_time": totals["reported_on_time"],
                "late": totals["reported_late"],
                "overdue": totals["report_overdue"],
                "pending": totals["report_pending"],
                "median": _hours(report_median),
                "longest": _hours(totals["report_longest"]),
            },
            {
                "label": _("處理完成並結案"),
                "deadline": _("0–2 級 %(minor)d 小時內；3–4 級 %(major)d 小時內")
                % {
                    "minor": levels.close_hours(0),
                    "major": levels.close_hours(levels.ESCALATION_LEVEL),
                },
                "done": totals["closed"],
                "on_time": totals["closed_on_time"],
                "late": totals["closed_late"],
                "overdue": totals["close_overdue"],
                "pending": totals["close_pending"],
                "median": _hours(close_median),
                "longest": _hours(totals["close_longest"]),
            },
        ],
        "level_chart": level_chart(level_rows, level_labels),
        "category_chart": category_chart(category_rows),
        "legend": [
            {"label": label, "colour": LEVEL_COLOURS[k]}
            for k, label in zip(LEVEL_KEYS, level_labels, strict=True)
        ],
    }


def _month_label(year: int, month: int) -> str:
    return f"{roc.roc_year(dt.date(year, month, 1))}/{month:02d}"


def _level_label(key) -> str:
    if key is None:
        return _("尚未研判")
    return str(dict(levels.LEVELS)[key])


# Charts: plain SVG drawn here, no JavaScript --------------------------------------------------
def _n(value: float) -> str:
    """An SVG coordinate as text, whatever the page's number format: ``12.5``, ``40``."""
    return f"{value:.1f}".removesuffix(".0")


def _scale(top: int) -> tuple[int, int]:
    """A round axis maximum and step for counts up to ``top`` (at most about 5 ticks)."""
    top = max(top, 1)
    step = max(1, math.ceil(top / 5))
    return step * math.ceil(top / step), step


def level_chart(rows, labels) -> dict:
    """Stacked bars: one per month, a segment per level."""
    width, height = 720, 240
    left, right, top, bottom = 36, 8, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    axis_max, step = _scale(max((r["total"] for r in rows), default=0))
    slot = plot_w / max(len(rows), 1)
    bar_w = max(2.0, slot * 0.6)
    bars, xlabels = [], []
    every = max(1, math.ceil(len(rows) / 18))  # keep month labels readable on long ranges
    for i, row in enumerate(rows):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for key, label, n in zip(LEVEL_KEYS, labels, row["cells"], strict=True):
            if not n:
                continue
            h = plot_h * n / axis_max
            y -= h
            bars.append(
                {
                    "x": _n(x),
                    "y": _n(y),
                    "w": _n(bar_w),
                    "h": _n(h),
                    "fill": LEVEL_COLOURS[key],
                    "title": f"{row['month']} {label}: {n}",
                }
            )
        if i % every == 0:
            xlabels.append({"x": _n(left + i * slot + slot / 2), "text": row["month"]})
    ticks = [
        {"y": _n(top + plot_h - plot_h * v / axis_max), "text": v}
        for v in range(0, axis_max + 1, step)
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "tick_x": left - 4,
        "right": width - right,
        "baseline": top + plot_h,
        "label_y": height - 8,
        "bars": bars,
        "xlabels": xlabels,
        "ticks": ticks,
    }


def category_chart(rows) -> dict:
    """Horizontal bars: the period's total per category (those with incidents)."""
    shown = [r for r in rows if r["total"]]
    label_w, width, bar_h, gap = 190, 720, 16, 6
    plot_w = width - label_w - 40
    axis_max, _step = _scale(max((r["total"] for r in shown), default=0))
    bars = []
    for i, row in enumerate(shown):
        y = 4 + i * (bar_h + gap)
        w = plot_w * row["total"] / axis_max
        bars.append(
            {
                "label": row["label"],
                "label_x": label_w - 6,
                "x": label_w,
                "y": y,
                "w": _n(w),
                "h": bar_h,
                "text_y": y + bar_h - 4,
                "value_x": _n(label_w + w + 4),
                "total": row["total"],
            }
        )
    return {
        "width": width,
        "height": 8 + len(shown) * (bar_h + gap),
        "bars": bars,
        "fill": CATEGORY_COLOUR,
    }


class StatisticsView(ProtectedView):
    """Incident statistics for the yearly review (a school year or a date range)."""

    access = INCIDENT_ACCESS

    def get(self, request):
        profile = SchoolProfile.load()
        current = roc.term_for_school(profile=profile).school_year
        form = StatisticsForm(
            request.GET or None, years=year_choices(profile, current), initial={"year": current}
        )
        period, status = None, 200
        if not request.GET:
            period = school_year_period(current, profile)
        elif form.is_valid():
            data = form.cleaned_data
            if data.get("start") and data.get("end"):
                period = Period(
                    data["start"],
                    data["end"],
                    _("%(start)s 至 %(end)s")
                    % {"start": roc.format_roc(data["start"]), "end": roc.format_roc(data["end"])},
                )
            else:
                period = school_year_period(data.get("year") or current, profile)
        else:
            status = 400
        ctx = {
            "form": form,
            "period": period,
            "school": profile,
            "school_profile": profile,  # the layout's, so that it is read once
            "anchor_occurred": settings.ISMS_INCIDENT_DEADLINE_ANCHOR == "occurred",
            "policy_version": PolicyRevision.current(),
            "now": timezone.now(),
        }
        if period is not None:
            ctx["stats"] = statistics(period)
        return render(request, "incidents/reports/statistics.html", ctx, status=status)


nav_link(NAV, gettext_lazy("統計"), "incidents:statistics", INCIDENT_ACCESS)
nav_link(NAV, gettext_lazy("通報程序（A-6）"), "incidents:procedure", PROCEDURE_ACCESS)
