"""Periodic jobs of the modules: with the full refresh, or on their own interval."""

import datetime as dt

import pytest
from django.core.cache import cache

from isms.compliance import engine, registry

NOW = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def calls():
    seen = []
    registry.register_job("test.frequent", lambda now: seen.append(("frequent", now)), every=60)
    registry.register_job("test.plain", lambda now: seen.append(("plain", now)))
    yield seen
    for name in ("test.frequent", "test.plain"):
        registry.JOBS.pop(name, None)
        registry.JOB_INTERVALS.pop(name, None)


def test_a_job_with_an_interval_runs_once_per_interval(calls):
    cache.clear()
    engine.run_frequent_jobs(NOW)
    engine.run_frequent_jobs(NOW + dt.timedelta(seconds=15))
    assert calls == [("frequent", NOW)]
    cache.delete("isms:job:test.frequent")  # the interval has passed
    engine.run_frequent_jobs(NOW + dt.timedelta(seconds=61))
    assert [c[0] for c in calls] == ["frequent", "frequent"]


def test_every_job_runs_with_the_full_refresh(calls):
    engine.run_jobs(NOW)
    assert sorted(c[0] for c in calls if c[1] == NOW) == ["frequent", "plain"]


def test_a_failing_job_does_not_stop_the_others(calls):
    registry.register_job("test.broken", lambda now: 1 / 0, every=60)
    try:
        cache.clear()
        engine.run_frequent_jobs(NOW)
    finally:
        registry.JOBS.pop("test.broken")
        registry.JOB_INTERVALS.pop("test.broken")
    assert calls == [("frequent", NOW)]


def test_an_interval_must_be_positive():
    with pytest.raises(ValueError):
        registry.register_job("test.zero", lambda now: None, every=0)
    assert "test.zero" not in registry.JOBS
