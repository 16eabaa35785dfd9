"""Coverage over a range (the binder's "state over the range"), with frozen time."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from isms.compliance import coverage, registry
from isms.compliance.models import ObligationSetting
from isms.compliance.registry import Obligation
from isms.compliance.rhythms import Rhythm, day_start
from isms.core import services
from isms.core.models import PasswordHistory, SchoolProfile
from isms.core.roles import SECURITY_OFFICER

NOW = dt.datetime(2026, 11, 26, 4, 0, tzinfo=dt.UTC)  # Thursday, 12:00 in Taipei


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return day_start(day) + dt.timedelta(hours=hour)


def duty(rhythm, moments, *, key="test.duty", subject_start=""):
    """A duty of the school with the given evidence moments."""
    return Obligation(
        key=key,
        clause="2.4.1",
        title="測試義務",
        subjects=lambda: SchoolProfile.objects.filter(pk=1),
        evidence=lambda subjects: {},
        history=lambda subjects, since, until: [(1, m) for m in moments if since <= m <= until],
        rhythm=rhythm,
        responsible_role=SECURITY_OFFICER,
        subject_start=subject_start,
    )


@pytest.fixture
def school(db):
    return SchoolProfile.load()


@pytest.mark.django_db
class TestPeriods:
    def test_each_week_is_kept_or_missed(self, school):
        # Four whole weeks: Mon 2026-10-26 … Sun 2026-11-22; evidence in weeks 1 and 3.
        moments = [at(dt.date(2026, 10, 28)), at(dt.date(2026, 11, 12))]
        result = coverage.coverage(
            duty(Rhythm(period="weekly"), moments),
            dt.date(2026, 10, 26),
            dt.date(2026, 11, 22),
            now=NOW,
        )
        (row,) = result.subjects
        assert (row.periods, row.kept) == (4, 2)
        assert [(g.start, g.end) for g in row.missed] == [
            (day_start(dt.date(2026, 11, 2)), day_start(dt.date(2026, 11, 9))),
            (day_start(dt.date(2026, 11, 16)), day_start(dt.date(2026, 11, 23))),
        ]
        assert not row.kept_all and result.kept_count == 0
        assert len(row.evidence) == 2

    def test_a_period_partly_in_the_range_counts_whole(self, school):
        # The range starts on a Wednesday; evidence on that week's Monday keeps the week.
        moments = [at(dt.date(2026, 11, 2))]
        result = coverage.coverage(
            duty(Rhythm(period="weekly"), moments),
            dt.date(2026, 11, 4),
            dt.date(2026, 11, 8),
            now=NOW,
        )
        (row,) = result.subjects
        assert (row.periods, row.kept, row.gaps) == (1, 1, [])
        assert row.evidence == []  # before the range: it keeps the week, but is not listed

    def test_the_current_period_without_evidence_is_open_not_missed(self, school):
        result = coverage.coverage(
            duty(Rhythm(period="weekly"), []),
            dt.date(2026, 11, 23),
            dt.date(2026, 11, 26),
            now=NOW,
        )
        (row,) = result.subjects
        assert row.periods == 1 and row.missed == [] and row.kept_all
        assert [g.open for g in row.gaps] == [True]

    def test_periods_before_the_duty_applied_are_not_counted(self, school):
        school.created_marker = at(dt.date(2026, 11, 10))
        ob = duty(Rhythm(period="weekly"), [], subject_start="created_marker")
        ob = Obligation(**{**ob.__dict__, "subjects": lambda: [school]})
        result = coverage.coverage(ob, dt.date(2026, 10, 26), dt.date(2026, 11, 22), now=NOW)
        (row,) = result.subjects
        # Weeks starting 10/26, 11/2, 11/9 began before 11/10; only 11/16 counts.
        assert row.periods == 1 and len(row.missed) == 1

    def test_semesters_follow_the_school_calendar(self, school):
        school.first_semester_start_month, school.first_semester_start_day = 8, 1
        school.second_semester_start_month, school.second_semester_start_day = 2, 1
        school.save()
        moments = [at(dt.date(2025, 10, 1))]
        result = coverage.coverage(
            duty(Rhythm(period="semester"), moments),
            dt.date(2025, 8, 1),
            dt.date(2026, 7, 31),
            now=NOW,
        )
        (row,) = result.subjects
        assert (row.periods, row.kept) == (2, 1)
        assert row.missed[0].start == day_start(dt.date(2026, 2, 1))

    def test_a_school_setting_changes_the_periods(self, school):
        ob = duty(Rhythm(period="monthly"), [at(dt.date(2026, 10, 5))], key="test.set")
        ObligationSetting.objects.create(key="test.set", rhythm="weekly", due_soon_days=1)
        result = coverage.coverage(ob, dt.date(2026, 10, 5), dt.date(2026, 10, 18), now=NOW)
        (row,) = result.subjects
        assert str(result.rhythm) == "weekly" and (row.periods, row.kept) == (2, 1)


@pytest.mark.django_db
class TestRolling:
    def test_days_past_the_limit_are_a_gap(self, school):
        first = at(dt.date(2026, 1, 5))
        second = first + dt.timedelta(days=100)
        result = coverage.coverage(
            duty(Rhythm(days=90), [first, second]),
            dt.date(2026, 1, 5),
            dt.date(2026, 6, 30),
            now=NOW,
        )
        (row,) = result.subjects
        # Before the first evidence (10:00 on the range's first day) nothing was valid; then
        # from the 90th day after it until the next.
        before, late = row.missed
        assert (before.start, before.end) == (day_start(dt.date(2026, 1, 5)), first)
        assert late.start == first + dt.timedelta(days=90) and late.end == second
        assert round(row.gap_days, 3) == round(10 + 10 / 24, 3)

    def test_evidence_before_the_range_still_counts(self, school):
        before = at(dt.date(2025, 12, 1))
        result = coverage.coverage(
            duty(Rhythm(days=90), [before]),
            dt.date(2026, 1, 1),
            dt.date(2026, 2, 1),
            now=NOW,
        )
        assert result.subjects[0].gaps == []
        assert result.subjects[0].evidence == []

    def test_without_any_evidence_the_whole_range_is_a_gap(self, school):
        result = coverage.coverage(
            duty(Rhythm(days=30), []), dt.date(2026, 3, 1), dt.date(2026, 3, 10), now=NOW
        )
        (gap,) = result.subjects[0].gaps
        assert gap.start == day_start(dt.date(2026, 3, 1))
        assert gap.end == day_start(dt.date(2026, 3, 11))

    def test_the_range_stops_at_now(self, school):
        result = coverage.coverage(
            duty(Rhythm(days=30), []), dt.date(2026, 11, 20), dt.date(2026, 11, 30), now=NOW
        )
        assert result.subjects[0].gaps[0].end == NOW

    def test_the_clock_starts_when_the_duty_applied(self, school):
        school.created_marker = at(dt.date(2026, 3, 5))
        ob = duty(Rhythm(days=30), [], subject_start="created_marker")
        ob = Obligation(**{**ob.__dict__, "subjects": lambda: [school]})
        result = coverage.coverage(ob, dt.date(2026, 3, 1), dt.date(2026, 4, 30), now=NOW)
        (gap,) = result.subjects[0].gaps
        assert gap.start == school.created_marker + dt.timedelta(days=30)


@pytest.mark.django_db
class TestPasswordAge:
    """The foundation's A-5 duty, from the record of password changes."""

    def test_every_change_is_kept_but_only_the_last_hashes(self, make_user, settings):
        settings.ISMS_PASSWORD_HISTORY = 3
        user = make_user("lin")
        for n in range(5):
            services.password_change(user, new_password=f"Qz8#m{n}vLp2w")
        rows = list(PasswordHistory.objects.filter(user=user))
        assert len(rows) == 5
        assert [bool(r.password) for r in rows] == [True, True, True, False, False]
        with pytest.raises(Exception, match="不可重複"):
            services.password_change(user, new_password="Qz8#m3vLp2w")

    def test_coverage_reads_the_changes(self, make_user):
        with time_machine.travel(dt.datetime(2026, 1, 2, 2, tzinfo=dt.UTC), tick=False):
            user = make_user("lin")
            services.password_change(user, new_password="Qz8#m1vLp2w")
        with time_machine.travel(dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC), tick=False):
            services.password_change(user, new_password="Qz8#m2vLp2w")
        ob = registry.REGISTRY["core.password_age"]
        result = coverage.coverage(ob, dt.date(2026, 1, 1), dt.date(2026, 6, 30), now=NOW)
        row = next(r for r in result.subjects if r.subject_id == str(user.pk))
        assert len(row.evidence) == 2
        (gap,) = row.missed
        assert gap.start == dt.datetime(2026, 4, 2, 2, tzinfo=dt.UTC)
        assert gap.end == dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)

    def test_queries_do_not_grow_with_subjects(self, make_user):
        ob = registry.REGISTRY["core.password_age"]
        make_user("a0")
        with CaptureQueriesContext(connection) as few:
            coverage.coverage(ob, dt.date(2026, 1, 1), dt.date(2026, 6, 30), now=NOW)
        for n in range(30):
            services.password_change(make_user(f"b{n}"), new_password="Qz8#m1vLp2w")
        with CaptureQueriesContext(connection) as many:
            coverage.coverage(ob, dt.date(2026, 1, 1), dt.date(2026, 6, 30), now=NOW)
        assert len(many) == len(few)
