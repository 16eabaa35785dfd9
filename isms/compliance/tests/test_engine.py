"""The due engine: states from records, constant queries, reminders queued once, claims."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from isms.compliance import engine, registry
from isms.compliance.models import ContactReview, ObligationState
from isms.compliance.registry import Obligation
from isms.compliance.rhythms import Rhythm
from isms.core.models import SchoolProfile
from isms.core.roles import SECURITY_OFFICER
from isms.notifications.models import Notification

NOW = dt.datetime(2026, 11, 26, 4, 0, tzinfo=dt.UTC)


def state(key, subject_id="1"):
    return ObligationState.objects.get(key=key, subject_id=str(subject_id))


@pytest.mark.django_db
class TestRefresh:
    def test_foundation_duties_get_a_state_for_every_subject(self, make_user):
        with time_machine.travel(NOW - dt.timedelta(days=10), tick=False):
            user = make_user("teacher")
        engine.refresh(now=NOW)
        s = state("core.password_age", user.pk)
        assert s.status == "ok" and s.clause == "2.9.3"
        assert s.next_due_at == user.password_changed_at + dt.timedelta(days=90)
        assert state("compliance.contacts_review").status == "never_done"
        assert state("compliance.policy_review").status == "never_done"

    def test_query_count_does_not_grow_with_subjects(self, make_user):
        for i in range(3):
            make_user(f"a{i}")
        engine.refresh(now=NOW)
        with CaptureQueriesContext(connection) as few:
            engine.refresh(now=NOW + dt.timedelta(days=1))
        for i in range(40):
            make_user(f"b{i}")
        engine.refresh(now=NOW + dt.timedelta(days=2))  # their states are created
        with CaptureQueriesContext(connection) as many:
            engine.refresh(now=NOW + dt.timedelta(days=3))
        assert len(many) == len(few)

    def test_a_pending_reminder_survives_a_refresh(self, make_user):
        engine.refresh(now=NOW)
        pending = state("compliance.policy_review").next_check_at
        assert pending == NOW
        engine.refresh(now=NOW + dt.timedelta(minutes=5))
        assert state("compliance.policy_review").next_check_at == pending

    def test_evidence_turns_the_state_ok(self, make_user):
        officer = make_user("officer", SECURITY_OFFICER)
        engine.refresh(now=NOW)
        ContactReview.objects.create(reviewed_by=officer, reviewed_at=NOW)
        engine.refresh("compliance.contacts_review", now=NOW)
        s = state("compliance.contacts_review")
        assert s.status == "ok" and s.last_done_at == NOW
        # 115 學年度第 1 學期 ends 2027-01-31; the next review is due by the end of the next.
        assert timezone.localtime(s.next_due_at) == dt.datetime(
            2027, 7, 31, 23, 59, 59, tzinfo=timezone.get_current_timezone()
        )

    def test_a_removed_subject_loses_its_state(self, make_user):
        user = make_user("teacher")
        engine.refresh(now=NOW)
        user.is_active = False
        user.save()
        engine.refresh(now=NOW)
        assert not ObligationState.objects.filter(
            key="core.password_age", subject_id=str(user.pk)
        ).exists()

    def test_a_broken_obligation_does_not_stop_the_others(self, make_user):
        def broken(subjects):
            raise RuntimeError("boom")

        registry.register(
            Obligation(
                key="test.broken",
                clause="2.4.1",
                title="broken",
                subjects=lambda: SchoolProfile.objects.all(),
                evidence=broken,
                rhythm=Rhythm(period="weekly"),
                responsible_role=SECURITY_OFFICER,
            )
        )
        try:
            engine.refresh(now=NOW)
        finally:
            registry.unregister("test.broken")
        assert ObligationState.objects.filter(key="compliance.policy_review").exists()
        assert not ObligationState.objects.filter(key="test.broken").exists()


@pytest.mark.django_db
class TestRunDue:
    def test_reminders_are_queued_once_for_the_responsible_role(self, make_user):
        officer = make_user("officer", SECURITY_OFFICER, email="officer@example.edu.tw")
        make_user("teacher", email="t@example.edu.tw")
        engine.refresh(now=NOW)
        handled = engine.run_due(now=NOW)
        assert handled >= 2
        # The school's duties never done: the semester's legal-awareness talk, contacts
        # review, policy review, incident drill (people's training hours are due soon in
        # the last weeks of the year: another status).
        never_done = ObligationState.objects.filter(
            status="never_done", responsible_role=SECURITY_OFFICER
        )
        assert sorted(never_done.values_list("key", flat=True)) == [
            "awareness.legal_talk",
            "compliance.contacts_review",
            "compliance.policy_review",
            "incidents.drill",
        ]
        sent = Notification.objects.filter(recipient=officer, dedup_key__contains=":never_done:")
        assert sent.count() == never_done.count()
        assert any("2.10.4" in n.subject for n in sent)
        total = Notification.objects.filter(recipient=officer).count()
        assert engine.run_due(now=NOW) == 0
        engine.refresh(now=NOW + dt.timedelta(hours=1))
        engine.run_due(now=NOW + dt.timedelta(hours=1))
        assert Notification.objects.filter(recipient=officer).count() == total

    def test_a_password_reminder_goes_to_its_owner_only(self, make_user):
        officer = make_user("officer", SECURITY_OFFICER, email="o@example.edu.tw")
        with time_machine.travel(NOW - dt.timedelta(days=80), tick=False):
            teacher = make_user("teacher", email="t@example.edu.tw")
        engine.refresh(now=NOW)
        engine.run_due(now=NOW)
        mine = Notification.objects.filter(recipient=teacher, dedup_key__startswith="obl:core.")
        assert mine.count() == 1 and "2.9.3" in mine.get().subject
        assert not Notification.objects.filter(recipient=officer, subject__contains="2.9.3")

    def test_time_passing_changes_status_without_new_evidence(self, make_user):
        with time_machine.travel(NOW, tick=False):
            user = make_user("teacher", email="t@example.edu.tw")
        engine.refresh(now=NOW)
        s = state("core.password_age", user.pk)
        assert s.status == "ok"
        later = NOW + dt.timedelta(days=80)
        assert s.next_check_at <= later
        engine.run_due(now=later)
        assert state("core.password_age", user.pk).status == "due_soon"
        engine.run_due(now=NOW + dt.timedelta(days=91))
        assert state("core.password_age", user.pk).status == "overdue"

    def test_a_state_is_claimed_by_one_worker_only(self, make_user):
        make_user("officer", SECURITY_OFFICER, email="o@example.edu.tw")
        engine.refresh(now=NOW)
        s = state("compliance.policy_review")
        first = ObligationState.objects.filter(pk=s.pk, next_check_at=s.next_check_at).update(
            next_check_at=NOW + dt.timedelta(minutes=1)
        )
        second = ObligationState.objects.filter(pk=s.pk, next_check_at=s.next_check_at).update(
            next_check_at=NOW + dt.timedelta(minutes=1)
        )
        assert (first, second) == (1, 0)

    def test_a_state_of_an_unknown_obligation_is_looked_at_again_later(self):
        ObligationState.objects.create(
            key="gone.duty",
            clause="1",
            subject_type="core.schoolprofile",
            subject_id="1",
            subject_label="x",
            responsible_role=SECURITY_OFFICER,
            status="ok",
            next_check_at=NOW - dt.timedelta(minutes=5),
        )
        engine.run_due(now=NOW)
        s = ObligationState.objects.get(key="gone.duty")
        assert s.next_check_at == NOW + engine.RETRY_BROKEN
