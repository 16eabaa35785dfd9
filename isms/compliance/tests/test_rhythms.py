"""Due dates and statuses of period and rolling rhythms, at their boundaries (Asia/Taipei)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from isms.compliance.rhythms import Rhythm, evaluate, period_of

TPE = ZoneInfo("Asia/Taipei")
STARTS = {"first_start": (8, 1), "second_start": (2, 1)}
SECOND = dt.timedelta(seconds=1)


def at(y, m, d, h=12, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=TPE)


class TestPeriods:
    @pytest.mark.parametrize(
        "period,day,expected",
        [
            ("weekly", dt.date(2026, 11, 29), (dt.date(2026, 11, 23), dt.date(2026, 11, 29))),
            ("weekly", dt.date(2026, 11, 30), (dt.date(2026, 11, 30), dt.date(2026, 12, 6))),
            ("monthly", dt.date(2028, 2, 10), (dt.date(2028, 2, 1), dt.date(2028, 2, 29))),
            ("quarterly", dt.date(2026, 12, 31), (dt.date(2026, 10, 1), dt.date(2026, 12, 31))),
            ("quarterly", dt.date(2027, 1, 1), (dt.date(2027, 1, 1), dt.date(2027, 3, 31))),
            ("semester", dt.date(2026, 7, 31), (dt.date(2026, 2, 1), dt.date(2026, 7, 31))),
            ("semester", dt.date(2026, 8, 1), (dt.date(2026, 8, 1), dt.date(2027, 1, 31))),
            ("yearly", dt.date(2027, 1, 15), (dt.date(2026, 8, 1), dt.date(2027, 7, 31))),
        ],
    )
    def test_period_bounds(self, period, day, expected):
        assert period_of(period, day, STARTS) == expected

    def test_semesters_follow_the_schools_configuration(self):
        starts = {"first_start": (9, 1), "second_start": (2, 15)}
        assert period_of("semester", dt.date(2026, 8, 31), starts) == (
            dt.date(2026, 2, 15),
            dt.date(2026, 8, 31),
        )


class TestWeekly:
    """2.4.1: a backup at least once in every calendar week."""

    rhythm = Rhythm(period="weekly")

    def test_done_this_week_is_ok_until_next_weeks_end(self):
        ev = evaluate(self.rhythm, at(2026, 11, 23, 9), at(2026, 11, 26), 2, STARTS)
        assert ev.status == "ok"
        assert ev.next_due_at == dt.datetime(2026, 12, 7, tzinfo=TPE) - SECOND

    def test_done_last_week_only_is_due_soon_in_the_last_days(self):
        last = at(2026, 11, 18)
        assert evaluate(self.rhythm, last, at(2026, 11, 26), 2, STARTS).status == "ok"
        ev = evaluate(self.rhythm, last, at(2026, 11, 28, 0, 0), 2, STARTS)
        assert ev.status == "due_soon"
        assert ev.next_due_at == dt.datetime(2026, 11, 30, tzinfo=TPE) - SECOND

    def test_a_missed_week_is_overdue(self):
        ev = evaluate(self.rhythm, at(2026, 11, 10), at(2026, 11, 24), 2, STARTS)
        assert ev.status == "overdue"
        assert ev.next_due_at == dt.datetime(2026, 11, 23, tzinfo=TPE) - SECOND

    def test_the_week_ends_at_midnight_taipei_time(self):
        last = at(2026, 11, 18)
        before = dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=TPE)
        after = dt.datetime(2026, 11, 30, 0, 0, 1, tzinfo=TPE)
        # Done in the week of 11/16; nothing in the week of 11/23 by its last second: still ok.
        assert evaluate(self.rhythm, last, before, 0, STARTS).status == "ok"
        # One second into the week of 11/30, the week of 11/23 has been missed.
        assert evaluate(self.rhythm, last, after, 0, STARTS).status == "overdue"
        assert evaluate(self.rhythm, at(2026, 11, 24), after, 0, STARTS).status == "ok"

    def test_never_done(self):
        ev = evaluate(self.rhythm, None, at(2026, 11, 26), 2, STARTS)
        assert ev.status == "never_done"
        assert ev.next_due_at == dt.datetime(2026, 11, 30, tzinfo=TPE) - SECOND

    def test_evidence_in_utc_late_sunday_counts_for_monday_in_taipei(self):
        # 2026-11-29 16:30 UTC is Monday 00:30 in Taipei: it belongs to the new week.
        last = dt.datetime(2026, 11, 29, 16, 30, tzinfo=dt.UTC)
        ev = evaluate(self.rhythm, last, at(2026, 11, 30, 8), 0, STARTS)
        assert (
            ev.status == "ok" and ev.next_due_at == dt.datetime(2026, 12, 14, tzinfo=TPE) - SECOND
        )


class TestQuarterlyAndSemester:
    def test_quarterly_time_sync(self):
        rhythm = Rhythm(period="quarterly")  # 2.5.2
        assert evaluate(rhythm, at(2026, 9, 30), at(2026, 12, 1), 14, STARTS).status == "ok"
        assert evaluate(rhythm, at(2026, 9, 30), at(2026, 12, 20), 14, STARTS).status == "due_soon"
        assert evaluate(rhythm, at(2026, 6, 30), at(2026, 12, 20), 14, STARTS).status == "overdue"

    def test_semester_review_follows_school_terms(self):
        rhythm = Rhythm(period="semester")
        ev = evaluate(rhythm, at(2026, 3, 1), at(2026, 8, 2), 30, STARTS)
        assert ev.status == "ok"  # done in the previous semester, new one just began
        assert ev.next_due_at == dt.datetime(2027, 2, 1, tzinfo=TPE) - SECOND
        assert evaluate(rhythm, at(2026, 1, 20), at(2026, 8, 2), 30, STARTS).status == "overdue"


class TestRolling:
    """A-5: the password changed at least every 90 days."""

    rhythm = Rhythm(days=90)

    def test_rolling_due_date_and_window(self):
        last = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        due = last + dt.timedelta(days=90)
        assert evaluate(self.rhythm, last, due - dt.timedelta(days=15), 14, STARTS).status == "ok"
        assert evaluate(self.rhythm, last, due - dt.timedelta(days=14), 14, STARTS).status == (
            "due_soon"
        )
        ev = evaluate(self.rhythm, last, due, 14, STARTS)
        assert ev.status == "overdue" and ev.next_due_at == due


class TestLimits:
    def test_a_school_may_be_stricter_never_looser(self):
        weekly = Rhythm(period="weekly")
        assert Rhythm(period="daily").within(weekly)
        assert Rhythm(period="weekly").within(weekly)
        assert not Rhythm(period="monthly").within(weekly)
        assert Rhythm(days=60).within(Rhythm(days=90))
        assert not Rhythm(days=120).within(Rhythm(days=90))
        assert Rhythm(days=5).within(weekly) and not Rhythm(days=8).within(weekly)

    @pytest.mark.parametrize("text", ["fortnightly", "every:x", "", "every:-3"])
    def test_bad_rhythms_are_refused(self, text):
        with pytest.raises(ValueError):
            Rhythm.parse(text)


class TestDeadlines:
    """Event duties: reminders at each point before the due moment, then overdue."""

    DUE = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
    REMINDERS = (dt.timedelta(hours=6), dt.timedelta(minutes=15))

    def at(self, delta):
        from isms.compliance.rhythms import deadline_evaluator

        return deadline_evaluator(self.DUE + delta, self.REMINDERS)

    def test_before_the_first_reminder_it_is_ok_and_looks_again_then(self):
        ev = self.at(-dt.timedelta(hours=7))(None, self.DUE)
        assert (ev.status, ev.next_check_at, ev.period_end) == (
            "ok",
            self.DUE - dt.timedelta(hours=6),
            None,
        )

    def test_each_reminder_point_is_its_own_cycle(self):
        six = self.at(-dt.timedelta(hours=5))(None, self.DUE)
        assert six.status == "due_soon" and six.period_end == self.DUE - dt.timedelta(hours=6)
        assert six.next_check_at == self.DUE - dt.timedelta(minutes=15)
        quarter = self.at(-dt.timedelta(minutes=10))(None, self.DUE)
        assert quarter.period_end == self.DUE - dt.timedelta(minutes=15)
        assert quarter.next_check_at == self.DUE

    def test_at_the_due_moment_it_is_overdue_once(self):
        ev = self.at(dt.timedelta(0))(None, self.DUE)
        assert (ev.status, ev.next_check_at, ev.period_end) == ("overdue", None, self.DUE)

    def test_done_or_without_a_due_moment_it_is_ok(self):
        assert self.at(dt.timedelta(hours=3))(self.DUE, self.DUE).status == "ok"
        assert self.at(dt.timedelta(0))(None, None).status == "ok"

    def test_event_rhythms_only_within_event_rhythms(self):
        from isms.compliance.rhythms import EVENT

        event = Rhythm(period=EVENT)
        assert event.within(event) and not event.within(Rhythm(period="weekly"))
        assert not Rhythm(days=1).within(event)
