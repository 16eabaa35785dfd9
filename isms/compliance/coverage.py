"""How well a duty was kept over a span of days: the evidence binder's "state over the range".

The due engine answers "what is the state now"; an auditor asks "was it kept all year".
For one obligation and a range of local days [first, last] this module lists, per subject,
the evidence inside the range and where it was missing, by the same rules as the engine
(``rhythms.evaluator``):

* A *period* rhythm (weekly … yearly) asks for evidence in every period. Each period that
  overlaps the range is *kept* (evidence on one of its days), *missed* (it ended with no
  evidence), or *open* (it has not ended yet at the time of the report, and has no evidence
  so far). A period that began before the duty applied to the subject (``subject_start``:
  a system added mid-week) is not counted.
* A *rolling* rhythm (every N days) asks that the last evidence be younger than N days.
  The report lists the spans inside the range during which it was not — from the moment
  the last evidence became N days old (or from the start, with none) until the next
  evidence — and their total length. The duty's clock starts when it applied to the
  subject: a login created on day D is not late before D + N days.

All evidence comes from the obligation's ``history`` with one query for every subject.
"""

import datetime as dt
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from django.utils import timezone

from . import engine
from .rhythms import day_start, period_of, shift


@dataclass
class Gap:
    """A stretch without the evidence the duty asks for."""

    start: dt.datetime
    end: dt.datetime
    open: bool = False  # the period had not ended when the report was made

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


@dataclass
class SubjectCoverage:
    subject_id: str
    label: str
    evidence: list[dt.datetime] = field(default_factory=list)  # inside the range
    periods: int = 0  # period rhythms: periods counted
    kept: int = 0  # … of which had evidence
    gaps: list[Gap] = field(default_factory=list)

    @property
    def missed(self) -> list[Gap]:
        return [g for g in self.gaps if not g.open]

    @property
    def gap_days(self) -> float:
        return sum(g.days for g in self.missed)

    @property
    def kept_all(self) -> bool:
        return not self.missed


@dataclass
class Coverage:
    obligation: object
    rhythm: object
    window: int
    first: dt.date
    last: dt.date
    subjects: list[SubjectCoverage]
    has_history: bool

    @property
    def kept_count(self) -> int:
        return sum(1 for s in self.subjects if s.kept_all)


def _bounds(first: dt.date, last: dt.date, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = day_start(first)
    end = min(day_start(last + dt.timedelta(days=1)), now)
    return start, max(end, start)


def periods_in(period: str, first: dt.date, last: dt.date, starts: dict):
    """The (first day, last day) of every period of kind ``period`` overlapping the days."""
    out = []
    bounds = period_of(period, first, starts)
    while bounds[0] <= last:
        out.append(bounds)
        bounds = shift(period, bounds, 1, starts)
    return out


def coverage(
    obligation,
    first: dt.date,
    last: dt.date,
    *,
    now: dt.datetime | None = None,
    starts: dict | None = None,
    overrides: dict | None = None,
) -> Coverage:
    """The coverage of one obligation over the local days [first, last] (see module doc).

    Queries: the subjects (1) and, when the obligation has a ``history``, its evidence (1).
    """
    now = now or timezone.now()
    starts = starts if starts is not None else engine.term_starts()
    rhythm, window = engine.effective(obligation, overrides)
    every = obligation.all_subjects or obligation.subjects
    subjects = list(every())
    start, end = _bounds(first, last, now)
    if obligation.deadline is not None:
        return _deadlines(obligation, every, rhythm, window, first, last, subjects, start, end, now)
    if rhythm.days:
        since = start - dt.timedelta(days=rhythm.days)
        periods = []
    else:
        periods = periods_in(rhythm.period, first, last, starts)
        since = day_start(periods[0][0]) if periods else start
    moments: dict[str, list[dt.datetime]] = {}
    if obligation.history is not None:
        for pk, moment in obligation.history(every(), since, end):
            if moment is None:
                continue
            if isinstance(moment, dt.date) and not isinstance(moment, dt.datetime):
                moment = day_start(moment)
            moments.setdefault(str(pk), []).append(moment)
    bounds = [(day_start(a), day_start(b + dt.timedelta(days=1))) for a, b in periods]
    out = []
    for subject in subjects:
        sid = str(subject.pk)
        times = sorted(moments.get(sid, ()))
        applies_from = _applies_from(obligation, subject)
        row = SubjectCoverage(sid, str(subject)[:200])
        row.evidence = [t for t in times if start <= t < end]
        if rhythm.days:
            row.gaps = _rolling_gaps(times, rhythm.days, start, end, applies_from)
        else:
            _periodic(row, times, bounds, now, applies_from)
        out.append(row)
    return Coverage(
        obligation, rhythm, window, first, last, out, has_history=obligation.history is not None
    )


def _applies_from(obligation, subject) -> dt.datetime | None:
    if not obligation.subject_start:
        return None
    value = getattr(subject, obligation.subject_start, None)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = day_start(value)
    return value


def _periodic(row, times, bounds, now, applies_from):
    for p_start, p_end in bounds:
        if applies_from is not None and p_start < applies_from:
            continue  # the duty did not apply for the whole period
        if p_start > now:
            continue  # a period still to come
        row.periods += 1
        i = bisect_left(times, p_start)
        if i < len(times) and times[i] < p_end:
            row.kept += 1
        else:
            row.gaps.append(Gap(p_start, p_end, open=p_end > now))


def _rolling_gaps(times, days, start, end, applies_from=None) -> list[Gap]:
    """Spans in [start, end) when the latest evidence was missing or ``days`` old or more.

    Before ``applies_from`` nothing is due; from then on it counts as fresh evidence.
    """
    if applies_from is not None:
        start = max(start, applies_from)
    if end <= start:
        return []
    span = dt.timedelta(days=days)
    gaps = []
    i = bisect_right(times, start)
    last = times[i - 1] if i else None
    if applies_from is not None and (last is None or last < applies_from):
        last = applies_from
    cursor = start
    for moment in [*times[i:], None]:
        upto = end if moment is None or moment > end else moment
        due = cursor if last is None else max(cursor, last + span)
        if due < upto:
            gaps.append(Gap(due, upto))
        if moment is None or moment >= end:
            break
        last, cursor = moment, moment
    return gaps


def _deadlines(obligation, every, rhythm, window, first, last, subjects, start, end, now):
    """Event duties: each subject whose due moment falls in the range counts once — kept
    when done by then; otherwise the gap runs from the due moment to when it was done (or
    to now). Subjects due outside the range are left out. Queries: 2 (due, done)."""
    dues = obligation.deadline(every())
    done = obligation.evidence(every())
    rows = []
    for subject in subjects:
        due = dues.get(subject.pk)
        if due is None or not (start <= due < end):
            continue
        row = SubjectCoverage(str(subject.pk), str(subject)[:200], periods=1)
        finished = done.get(subject.pk)
        if finished is not None:
            row.evidence = [finished]
        if finished is not None and finished <= due:
            row.kept = 1
        elif finished is not None:
            row.gaps = [Gap(due, finished)]
        elif due <= now:
            row.gaps = [Gap(due, now)]
        else:
            row.gaps = [Gap(now, due, open=True)]
        rows.append(row)
    return Coverage(obligation, rhythm, window, first, last, rows, has_history=True)
