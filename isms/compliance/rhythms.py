"""Rhythms of the policy's recurring duties, and the periods they cut time into.

A *period* rhythm (weekly, monthly, quarterly, per semester, per school year) asks for
evidence in every period: "每週至少一次" is read as at least once in each calendar week
(Monday to Sunday, Asia/Taipei). A *rolling* rhythm (every N days) asks for evidence no
older than N days, as "至少每三個月改一次通行碼".
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from isms.core import roc

# Period rhythms from the shortest to the longest: a school may choose a rhythm earlier in
# this list than the policy's (back up daily, not monthly), never a later one.
PERIODS = ("daily", "weekly", "monthly", "quarterly", "semester", "yearly")
# A duty with a deadline per event (report an incident within 1 hour of learning of it):
# its due moment comes from the module, not from a calendar period.
EVENT = "event"
LABELS = {
    EVENT: _("依事件期限"),
    "daily": _("每日"),
    "weekly": _("每週"),
    "monthly": _("每月"),
    "quarterly": _("每季"),
    "semester": _("每學期"),
    "yearly": _("每學年"),
}


@dataclass(frozen=True)
class Rhythm:
    """Either a period rhythm (``period`` set) or a rolling one (``days`` set)."""

    period: str = ""
    days: int = 0

    def __post_init__(self):
        if bool(self.period) == bool(self.days):
            raise ValueError("a rhythm is either a period or a number of days")
        if self.period and self.period not in PERIODS and self.period != EVENT:
            raise ValueError(f"unknown period {self.period}")
        if self.days < 0:
            raise ValueError("days must be positive")

    @classmethod
    def parse(cls, text: str) -> "Rhythm":
        """``weekly`` … ``yearly``, or ``every:90`` (days)."""
        if text.startswith("every:"):
            return cls(days=int(text.split(":", 1)[1]))
        return cls(period=text)

    def __str__(self):
        return f"every:{self.days}" if self.days else self.period

    @property
    def label(self) -> str:
        return str(LABELS[self.period]) if self.period else str(_("每 %(n)d 天") % {"n": self.days})

    @property
    def is_event(self) -> bool:
        return self.period == EVENT

    def within(self, limit: "Rhythm") -> bool:
        """True when this rhythm is at least as frequent as ``limit`` (the policy's)."""
        if self.is_event or limit.is_event:
            return self.is_event and limit.is_event
        if self.days and limit.days:
            return self.days <= limit.days
        if self.period and limit.period:
            return PERIODS.index(self.period) <= PERIODS.index(limit.period)
        return self.approx_days <= limit.approx_days

    @property
    def approx_days(self) -> int:
        """The longest a period can be, in days (a rolling rhythm: its days)."""
        approx = {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "semester": 183}
        return self.days or approx.get(self.period, 366)


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in Asia/Taipei, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def period_of(period: str, day: dt.date, starts: dict) -> tuple[dt.date, dt.date]:
    """The (first, last) local day of the period of ``period`` kind containing ``day``."""
    if period == "daily":
        return day, day
    if period == "weekly":
        first = day - dt.timedelta(days=day.weekday())
        return first, first + dt.timedelta(days=6)
    if period == "monthly":
        first = day.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    if period == "quarterly":
        month = 3 * ((day.month - 1) // 3) + 1
        first = day.replace(month=month, day=1)
        nxt = (first + dt.timedelta(days=95)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    term = roc.school_term(day, **starts)
    if period == "semester":
        return term.start, term.end
    return roc.school_year_range(term.school_year, **starts)


def shift(period: str, bounds: tuple[dt.date, dt.date], k: int, starts: dict):
    """The period ``k`` periods after (k > 0) or before (k < 0) the one given."""
    first, last = bounds
    for _step in range(abs(k)):
        if k > 0:
            first, last = period_of(period, last + dt.timedelta(days=1), starts)
        else:
            first, last = period_of(period, first - dt.timedelta(days=1), starts)
    return first, last


# A period's duty is due by the last second of its last day (shown as 23:59 that day).
LAST_SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class Evaluation:
    status: str  # ok / due_soon / overdue / never_done
    next_due_at: dt.datetime | None
    next_check_at: dt.datetime | None
    period_end: dt.datetime | None  # identifies the reminder cycle


def evaluate(
    rhythm: Rhythm, last: dt.datetime | None, now: dt.datetime, window_days: int, starts: dict
) -> Evaluation:
    """Status of one subject of one duty (see ``evaluator`` for the rules)."""
    return evaluator(rhythm, now, window_days, starts)(last)


def evaluator(rhythm: Rhythm, now: dt.datetime, window_days: int, starts: dict):
    """A function from the last evidence to the status, for every subject of one duty.

    The periods around ``now`` are the same for all subjects, so they are worked out once.

    Period rhythms (P = the period containing now, in Asia/Taipei); due dates are the last
    second of a period's last day:
    1. Evidence inside P: ok; due again by the end of P+1; look again at end(P+1) − window.
    2. No evidence ever: never done; due by the end of P; look again at the end of P.
    3. Evidence neither in P nor in P−1: overdue (P−1 was missed); it was due at the end of
       P−1; look again at the end of P (a new reminder cycle).
    4. Evidence in P−1 but not yet in P: due by the end of P — due soon from
       end(P) − window, else ok; look again at whichever of the two comes next.

    Rolling rhythms (every N days): due at last + N days; due soon from due − window;
    overdue after due; never done without evidence (due now).
    """
    window = dt.timedelta(days=window_days)
    if rhythm.days:
        period = dt.timedelta(days=rhythm.days)

        def rolling(last):
            if last is None:
                return Evaluation("never_done", now, now + dt.timedelta(days=1), None)
            due = last + period
            if now >= due:
                return Evaluation("overdue", due, now + dt.timedelta(days=1), due)
            if now >= due - window:
                return Evaluation("due_soon", due, due, due)
            return Evaluation("ok", due, due - window, due)

        return rolling
    current = period_of(rhythm.period, local_date(now), starts)
    start_p, end_p = day_start(current[0]), day_start(current[1] + dt.timedelta(days=1))
    start_prev = day_start(shift(rhythm.period, current, -1, starts)[0])
    end_next = day_start(shift(rhythm.period, current, 1, starts)[1] + dt.timedelta(days=1))
    done_now = Evaluation("ok", end_next - LAST_SECOND, max(end_next - window, end_p), end_next)
    never = Evaluation("never_done", end_p - LAST_SECOND, end_p, end_p)
    missed = Evaluation("overdue", start_p - LAST_SECOND, end_p, end_p)
    if now >= end_p - window:
        pending = Evaluation("due_soon", end_p - LAST_SECOND, end_p, end_p)
    else:
        pending = Evaluation("ok", end_p - LAST_SECOND, end_p - window, end_p)

    def periodic(last):
        if last is None:
            return never
        if last >= start_p:
            return done_now
        if last < start_prev:
            return missed
        return pending

    return periodic


def deadline_evaluator(now: dt.datetime, reminders=()):
    """A function from (evidence, due moment) to the status of one event's deadline.

    1. Evidence recorded: ok; nothing more to look at.
    2. No due moment (the event is not there yet): ok.
    3. Past the due moment: overdue; the reminder cycle is the due moment itself (one
       reminder when it passes; the dashboard shows it in red from then on).
    4. Past a reminder point (due − each of ``reminders``): due soon; the cycle is the
       latest point passed, so each point sends its own reminder; look again at the next.
    5. Otherwise ok; look again at the first reminder point.
    """
    offsets = sorted({r for r in reminders if r > dt.timedelta(0)}, reverse=True)

    def deadline(last, due):
        if last is not None or due is None:
            return Evaluation("ok", due, None, None)
        points = [due - r for r in offsets] + [due]
        if now >= due:
            return Evaluation("overdue", due, None, due)
        passed = [p for p in points if p <= now]
        upcoming = min(p for p in points if p > now)
        if passed:
            return Evaluation("due_soon", due, upcoming, max(passed))
        return Evaluation("ok", due, upcoming, None)

    return deadline
