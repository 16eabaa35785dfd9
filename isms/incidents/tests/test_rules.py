"""The rules of clause 2.10 in the incident services: levels, deadlines, escalation, closing.

Each test would fail if its rule broke. Time is frozen at NOW (Monday 115/11/30 08:00 in
Taipei); the database is real.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from isms.incidents import levels, services
from isms.incidents.models import EscalationStep, Incident, TimelineEntry
from isms.notifications.models import Notification

from .conftest import (
    CLOSING,
    HOUR,
    MINUTE,
    NOW,
    classified,
    closable,
    details,
    impacts,
    minutes_ago,
    new_incident,
    platform_report,
)

pytestmark = pytest.mark.usefixtures("clock")
Kind = TimelineEntry.Kind
Step = EscalationStep.Kind


def fields_of(excinfo) -> set:
    return set(excinfo.value.message_dict)


def messages_of(excinfo, field="__all__") -> str:
    return " ".join(excinfo.value.message_dict.get(field, []))


def row(incident) -> dict:
    """Every stored column of the incident, read afresh from the database."""
    fresh = Incident.objects.get(pk=incident.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


def kinds(incident) -> list:
    return list(incident.timeline.values_list("kind", flat=True))


# 2.10.2 Levels ------------------------------------------------------------------------------
@pytest.mark.django_db
class TestLevels:
    @pytest.mark.parametrize("case", [c for c, _label in levels.UNCONFIRMED_CHOICES])
    def test_each_unconfirmed_case_is_level_0_whatever_the_impacts(self, officer, case):
        incident = new_incident(
            officer,
            category="intrusion",
            unconfirmed_case=case,
            confidentiality_impact=4,
            integrity_impact=4,
            availability_impact=4,
        )
        assert incident.level_computed == 0
        assert incident.level == 0
        assert not incident.steps.exists()  # level 0: no escalation although impacts are 4

    @pytest.mark.parametrize(
        ("c", "i", "a", "level"),
        [
            (0, 0, 0, 0),
            (1, 0, 0, 1),
            (0, 2, 1, 2),
            (1, 0, 3, 3),
            (4, 1, 2, 4),
            (2, 4, 4, 4),
            (None, None, 2, 2),
            (None, None, None, None),
        ],
    )
    def test_otherwise_the_level_is_the_highest_impact(self, officer, c, i, a, level):
        incident = new_incident(
            officer, confidentiality_impact=c, integrity_impact=i, availability_impact=a
        )
        assert incident.level_computed == level
        assert incident.level == level
        assert Incident.objects.get(pk=incident.pk).level == level

    def test_an_update_of_one_impact_recomputes_the_level(self, officer):
        incident = classified(officer, level=1)
        incident = services.update(incident, actor=officer, availability_impact=2)
        assert incident.level == 2
        incident = services.update(incident, actor=officer, availability_impact=0)
        assert incident.level == 1

    @pytest.mark.parametrize(("computed", "override"), [(1, 3), (4, 2), (2, 0)])
    def test_an_override_with_a_reason_wins_both_ways(self, officer, computed, override):
        incident = classified(
            officer, level=computed, level_override=override, level_override_reason="主管指示"
        )
        assert incident.level_computed == computed
        assert incident.level == override
        assert incident.level_override_reason == "主管指示"

    def test_an_override_wins_over_an_unconfirmed_case(self, officer):
        incident = new_incident(
            officer,
            unconfirmed_case="mailbox_notice",
            level_override=2,
            level_override_reason="經查證確有資料外洩",
        )
        assert incident.level_computed == 0 and incident.level == 2

    def test_removing_the_override_returns_to_the_computed_level_and_drops_the_reason(
        self, officer
    ):
        incident = classified(officer, level=1, level_override=2, level_override_reason="理由")
        incident = services.update(incident, actor=officer, level_override=None)
        assert incident.level == 1
        assert Incident.objects.get(pk=incident.pk).level_override_reason == ""

    @pytest.mark.parametrize("reason", ["", "   ", None])
    def test_an_override_without_a_reason_is_refused(self, officer, reason):
        assert "level_override_reason" in services.validate(
            details(level_override=3, level_override_reason=reason)
        )
        with pytest.raises(ValidationError) as excinfo:
            classified(officer, level=1, level_override=3, level_override_reason=reason)
        assert fields_of(excinfo) == {"level_override_reason"}
        assert not Incident.objects.exists()

        incident = classified(officer, level=1)
        before = row(incident)
        with pytest.raises(ValidationError) as excinfo:
            services.update(incident, actor=officer, level_override=3, level_override_reason=reason)
        assert "level_override_reason" in fields_of(excinfo)
        assert row(incident) == before

    @pytest.mark.parametrize("field", services.IMPACTS)
    @pytest.mark.parametrize("value", [-1, 5, 99])
    def test_an_impact_outside_0_to_4_is_refused(self, officer, field, value):
        assert field in services.validate(details(**{field: value}))
        with pytest.raises(ValidationError) as excinfo:
            new_incident(officer, **{field: value})
        assert field in fields_of(excinfo)
        assert not Incident.objects.exists()

        incident = classified(officer, level=1)
        before, entries = row(incident), incident.timeline.count()
        with pytest.raises(ValidationError) as excinfo:
            services.update(incident, actor=officer, **{field: value})
        assert fields_of(excinfo) == {field}
        assert row(incident) == before
        assert incident.timeline.count() == entries

    @pytest.mark.parametrize("value", [0, 4])
    def test_the_bounds_0_and_4_are_accepted(self, officer, value):
        for field in services.IMPACTS:
            assert field not in services.validate(details(**{field: value}))

    @pytest.mark.parametrize("value", [-1, 5])
    def test_an_override_outside_0_to_4_is_refused(self, officer, value):
        errors = services.validate(details(level_override=value, level_override_reason="理由"))
        assert "level_override" in errors

    def test_category_other_needs_its_text(self, officer):
        assert "category_other" in services.validate(details(category="other"))
        assert "category_other" in services.validate(details(category="other", category_other="  "))
        with pytest.raises(ValidationError) as excinfo:
            new_incident(officer, category="other", **impacts(1))
        assert fields_of(excinfo) == {"category_other"}
        incident = new_incident(officer, category="other", category_other="勒索信", **impacts(1))
        assert incident.category_label == "其他（勒索信）"
        assert incident.status == Incident.Status.OPEN

    def test_a_classified_incident_keeps_its_level_and_type(self, officer):
        incident = closable(officer, level=3)
        before, entries = row(incident), incident.timeline.count()
        blank = dict.fromkeys(services.IMPACTS)
        with pytest.raises(ValidationError) as excinfo:
            services.update(incident, actor=officer, **blank)
        assert fields_of(excinfo) == {"__all__"}
        with pytest.raises(ValidationError) as excinfo:
            services.update(incident, actor=officer, category="")
        assert fields_of(excinfo) == {"category"}
        assert row(incident) == before
        assert incident.timeline.count() == entries
        # Still closable only after the 2.10.4 steps, within 36 hours.
        with pytest.raises(ValidationError):
            services.close(incident, actor=officer, **CLOSING)
        # An override or an unconfirmed case is a level too.
        incident = services.update(
            incident, actor=officer, level_override=2, level_override_reason="再評估", **blank
        )
        assert incident.level == 2
        incident = services.update(
            incident, actor=officer, level_override=None, unconfirmed_case="mailbox_notice"
        )
        assert incident.level == 0

    def test_an_unclassified_incident_may_still_lose_its_rating(self, officer):
        incident = new_incident(officer, **impacts(2))
        assert incident.status == Incident.Status.REPORTED
        incident = services.update(incident, actor=officer, **dict.fromkeys(services.IMPACTS))
        assert incident.level is None

    def test_an_unknown_category_or_source_is_refused(self, officer):
        assert "category" in services.validate(details(category="ufo"))
        assert "source" in services.validate(details(source="rumour"))


# 2.10.9 Deadlines ---------------------------------------------------------------------------
LEVEL_CASES = [
    (None, {}, 72),
    (0, {"unconfirmed_case": "unconfirmed_ticket"}, 72),
    (1, impacts(1), 72),
    (2, impacts(2), 72),
    (3, impacts(3), 36),
    (4, impacts(4), 36),
]


@pytest.mark.django_db
class TestDeadlines:
    @pytest.mark.parametrize(("level", "values", "hours"), LEVEL_CASES)
    def test_report_in_1_hour_close_in_72_or_36_hours_from_discovery(
        self, officer, level, values, hours
    ):
        discovered = minutes_ago(20)
        incident = new_incident(
            officer, discovered_at=discovered, occurred_at=discovered - 5 * HOUR, **values
        )
        assert incident.level == level
        assert incident.report_due_at == discovered + HOUR
        assert incident.close_due_at == discovered + dt.timedelta(hours=hours)
        stored = Incident.objects.get(pk=incident.pk)
        assert (stored.report_due_at, stored.close_due_at) == (
            incident.report_due_at,
            incident.close_due_at,
        )

    def test_report_hours_follow_the_setting(self, officer, settings):
        settings.ISMS_INCIDENT_REPORT_HOURS = 2
        incident = new_incident(officer)
        assert incident.report_due_at == minutes_ago(20) + 2 * HOUR

    @pytest.mark.parametrize(("level", "values", "hours"), LEVEL_CASES)
    def test_with_the_occurred_anchor_the_clocks_run_from_the_occurrence(
        self, officer, settings, level, values, hours
    ):
        settings.ISMS_INCIDENT_DEADLINE_ANCHOR = "occurred"
        occurred = minutes_ago(300)
        incident = new_incident(
            officer, occurred_at=occurred, discovered_at=minutes_ago(20), **values
        )
        assert incident.report_due_at == occurred + HOUR
        assert incident.close_due_at == occurred + dt.timedelta(hours=hours)

    def test_with_the_occurred_anchor_and_no_occurrence_the_discovery_counts(
        self, officer, settings
    ):
        settings.ISMS_INCIDENT_DEADLINE_ANCHOR = "occurred"
        incident = classified(officer, level=3, discovered_at=minutes_ago(20))
        assert incident.report_due_at == minutes_ago(20) + HOUR
        assert incident.close_due_at == minutes_ago(20) + 36 * HOUR
        # Learning the occurrence later moves the clocks back to it.
        incident = services.update(incident, actor=officer, occurred_at=minutes_ago(200))
        assert incident.report_due_at == minutes_ago(200) + HOUR
        assert incident.close_due_at == minutes_ago(200) + 36 * HOUR

    def test_correcting_the_discovery_moves_the_deadlines(self, officer):
        incident = classified(officer, level=1)
        incident = services.update(incident, actor=officer, discovered_at=minutes_ago(50))
        assert incident.report_due_at == minutes_ago(50) + HOUR
        assert incident.close_due_at == minutes_ago(50) + 72 * HOUR

    def test_a_level_change_across_3_moves_the_close_deadline_both_ways(self, officer):
        discovered = minutes_ago(20)
        incident = classified(officer, level=2)
        assert incident.close_due_at == discovered + 72 * HOUR
        incident = services.update(incident, actor=officer, **impacts(3))
        assert incident.close_due_at == discovered + 36 * HOUR
        incident = services.update(incident, actor=officer, **impacts(4))
        assert incident.close_due_at == discovered + 36 * HOUR
        incident = services.update(incident, actor=officer, **impacts(1))
        assert incident.close_due_at == discovered + 72 * HOUR
        incident = services.update(
            incident, actor=officer, level_override=3, level_override_reason="影響擴大"
        )
        assert incident.close_due_at == discovered + 36 * HOUR
        assert Incident.objects.get(pk=incident.pk).close_due_at == discovered + 36 * HOUR

    def test_a_level_change_after_the_platform_report_must_be_reported_within_1_hour(
        self, officer, clock
    ):
        incident = closable(officer, level=2)
        changed = NOW + 25 * MINUTE
        clock.move_to(changed)
        incident = services.update(incident, actor=officer, **impacts(3))
        assert incident.change_report_due_at == changed + HOUR
        assert incident.change_reported_at is None
        entry = incident.timeline.get(kind=Kind.LEVEL_CHANGED)
        assert entry.at == changed
        assert "2 級 → 3 級" in entry.text and "平台通報等級變更" in entry.text

        clock.move_to(changed + 30 * MINUTE)
        incident = services.record_change_report(incident, actor=officer, at=changed + 20 * MINUTE)
        assert incident.change_reported_at == changed + 20 * MINUTE
        assert Kind.CHANGE_REPORTED in kinds(incident)

        # A second change opens the duty again, due 1 hour after that change.
        again = changed + 2 * HOUR
        clock.move_to(again)
        incident = services.update(incident, actor=officer, **impacts(1))
        assert incident.change_report_due_at == again + HOUR
        assert incident.change_reported_at is None

    def test_an_override_after_the_platform_report_is_a_level_change_too(self, officer):
        incident = closable(officer, level=1)
        incident = services.update(
            incident, actor=officer, level_override=2, level_override_reason="再評估"
        )
        assert incident.change_report_due_at == NOW + HOUR

    def test_a_level_change_before_the_platform_report_needs_no_change_report(self, officer):
        incident = classified(officer, level=1)
        incident = services.update(incident, actor=officer, **impacts(3))
        assert incident.level == 3
        assert incident.change_report_due_at is None
        entry = incident.timeline.get(kind=Kind.LEVEL_CHANGED)
        assert "平台通報等級變更" not in entry.text
        # ... and reporting the platform afterwards does not open one either.
        incident = platform_report(incident, officer)
        assert Incident.objects.get(pk=incident.pk).change_report_due_at is None

    def test_an_edit_that_keeps_the_level_after_the_report_needs_no_change_report(self, officer):
        incident = closable(officer, level=2)
        incident = services.update(incident, actor=officer, title="可疑登入（已確認帳號）")
        incident = services.update(incident, actor=officer, integrity_impact=2)  # still 2
        assert incident.change_report_due_at is None
        assert Kind.LEVEL_CHANGED not in kinds(incident)

    def test_a_level_change_when_classifying_after_the_platform_report_is_reported(self, officer):
        # Rated 1 but not yet typed (still 待研判), reported on the platform, then
        # classified at 3: the level the platform knows changed, so the change is due.
        incident = new_incident(officer, **impacts(1))
        assert incident.status == Incident.Status.REPORTED and incident.level == 1
        incident = platform_report(incident, officer)
        incident = services.update(incident, actor=officer, category="intrusion", **impacts(3))
        assert incident.status == Incident.Status.OPEN
        assert incident.change_report_due_at == NOW + HOUR
        assert Kind.LEVEL_CHANGED in kinds(incident)

    def test_a_change_report_without_a_pending_change_is_refused(self, officer):
        incident = closable(officer, level=2)
        with pytest.raises(ValidationError):
            services.record_change_report(incident, actor=officer, at=NOW)

    def test_a_change_report_in_the_future_is_refused(self, officer):
        incident = closable(officer, level=2)
        incident = services.update(incident, actor=officer, **impacts(3))
        with pytest.raises(ValidationError) as excinfo:
            services.record_change_report(incident, actor=officer, at=NOW + 10 * MINUTE)
        assert fields_of(excinfo) == {"at"}
        assert Incident.objects.get(pk=incident.pk).change_reported_at is None

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"occurred_at": minutes_ago(10), "discovered_at": minutes_ago(30)}, "discovered_at"),
            ({"discovered_at": NOW + services.SKEW + MINUTE}, "discovered_at"),
            ({"occurred_at": NOW + services.SKEW + MINUTE}, "occurred_at"),
            (
                {"occurred_at": NOW + 3 * HOUR, "discovered_at": NOW + 4 * HOUR},
                "occurred_at",
            ),
        ],
    )
    def test_impossible_moments_are_refused_and_nothing_is_saved(self, officer, values, field):
        with pytest.raises(ValidationError) as excinfo:
            new_incident(officer, **values)
        assert field in fields_of(excinfo)
        assert not Incident.objects.exists()
        assert not TimelineEntry.objects.exists()

        incident = classified(officer, level=2, occurred_at=minutes_ago(60))
        before, entries = row(incident), TimelineEntry.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            services.update(incident, actor=officer, **values)
        assert field in fields_of(excinfo)
        assert row(incident) == before
        assert TimelineEntry.objects.count() == entries

    def test_discovery_before_a_later_corrected_occurrence_is_refused(self, officer):
        incident = classified(officer, level=2, occurred_at=minutes_ago(60))
        before = row(incident)
        with pytest.raises(ValidationError) as excinfo:
            services.update(incident, actor=officer, occurred_at=minutes_ago(5))
        assert fields_of(excinfo) == {"discovered_at"}
        assert row(incident) == before

    def test_a_clock_slightly_ahead_is_still_now(self, officer):
        incident = new_incident(officer, discovered_at=NOW + services.SKEW)
        assert incident.discovered_at == NOW + services.SKEW

    def test_a_missing_discovery_is_refused(self, officer):
        with pytest.raises(ValidationError) as excinfo:
            new_incident(officer, discovered_at=None)
        assert "discovered_at" in fields_of(excinfo)


# 2.10.4 / 2.10.5 Escalation -------------------------------------------------------------
def escalation_mail():
    return Notification.objects.filter(dedup_key__contains=":escalate:")


@pytest.mark.django_db
class TestEscalation:
    def test_rising_to_3_creates_the_steps_and_tells_supervisors_and_principal(self, people, clock):
        incident = classified(people.officer, level=2)
        assert not incident.steps.exists() and not escalation_mail().exists()

        incident = services.update(incident, actor=people.officer, **impacts(3))
        steps = list(incident.steps.all())
        assert {s.kind for s in steps} == {Step.PHONE_BUREAU, Step.PRINCIPAL_MEETING}
        assert all(s.required and s.done_at is None for s in steps)

        mail = escalation_mail()
        assert {n.recipient for n in mail} == {
            people.supervisor,
            people.supervisor2,
            people.principal,
        }
        assert mail.count() == 3  # one each; not the officers, the staff or the retired
        assert all(n.urgent for n in mail)
        assert all(incident.number in n.subject and "3 級" in n.subject for n in mail)
        entry = incident.timeline.get(kind=Kind.ESCALATED)
        for person in (people.supervisor, people.supervisor2, people.principal):
            assert person.display_name in entry.text

    def test_an_incident_entered_at_level_4_escalates_at_once(self, people):
        incident = classified(people.officer, level=4)
        assert incident.steps.filter(required=True).count() == 2
        assert escalation_mail().count() == 3
        assert all("4 級" in n.subject for n in escalation_mail())

    def test_an_unconfirmed_case_with_high_impacts_does_not_escalate(self, people):
        new_incident(
            people.officer,
            category="intrusion",
            unconfirmed_case="unconfirmed_ticket",
            **impacts(4),
        )
        assert not EscalationStep.objects.exists() and not escalation_mail().exists()

    def test_saving_again_at_a_higher_level_does_not_escalate_twice(self, people, clock):
        incident = classified(people.officer, level=3)
        clock.move_to(NOW + 10 * MINUTE)
        incident = services.update(incident, actor=people.officer, **impacts(4))
        clock.move_to(NOW + 20 * MINUTE)
        incident = services.update(incident, actor=people.officer, title="網站遭入侵")
        assert incident.steps.count() == 2
        assert escalation_mail().count() == 3
        assert kinds(incident).count(Kind.ESCALATED) == 1

    def test_a_drop_and_a_new_rise_escalates_again(self, people, clock):
        incident = classified(people.officer, level=3)
        clock.move_to(NOW + 10 * MINUTE)
        incident = services.update(incident, actor=people.officer, **impacts(2))
        assert escalation_mail().count() == 3
        clock.move_to(NOW + 20 * MINUTE)
        incident = services.update(
            incident, actor=people.officer, level_override=3, level_override_reason="再度擴大"
        )
        assert escalation_mail().count() == 6
        assert escalation_mail().filter(recipient=people.principal).count() == 2
        assert kinds(incident).count(Kind.ESCALATED) == 2
        assert incident.steps.count() == 2  # the same two steps, not duplicated

    def test_close_is_refused_while_a_required_step_is_open(self, officer):
        incident = closable(officer, level=3)
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        text = messages_of(excinfo)
        assert "以電話聯絡教育局(處)資訊安全管理單位" in text
        assert "校長召集會議研商處理方式" in text

        services.complete_step(
            incident.steps.get(kind=Step.PHONE_BUREAU), actor=officer, note="已電話聯絡縣網中心"
        )
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        text = messages_of(excinfo)
        assert "以電話聯絡教育局" not in text and "校長召集會議研商處理方式" in text
        assert Incident.objects.get(pk=incident.pk).status == Incident.Status.OPEN

        services.complete_step(incident.steps.get(kind=Step.PRINCIPAL_MEETING), actor=officer)
        incident = services.close(incident, actor=officer, **CLOSING)
        assert incident.status == Incident.Status.CLOSED
        assert kinds(incident).count(Kind.STEP_DONE) == 2

    def test_a_step_is_completed_once_and_not_in_the_future(self, officer):
        incident = classified(officer, level=3)
        step = incident.steps.get(kind=Step.PHONE_BUREAU)
        with pytest.raises(ValidationError):
            services.complete_step(step, actor=officer, at=NOW + HOUR)
        step = services.complete_step(step, actor=officer)
        assert step.done_at == NOW and step.done_by == officer
        with pytest.raises(ValidationError):
            services.complete_step(step, actor=officer)

    def test_a_level_lowered_below_3_no_longer_waits_for_the_steps(self, officer):
        incident = closable(officer, level=3)
        incident = services.update(incident, actor=officer, **impacts(2))
        # The change after the platform report must itself be reported before closing.
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        assert "等級變更尚未至平台通報" in messages_of(excinfo)
        with pytest.raises(ValidationError):  # not before the change itself
            services.record_change_report(
                incident, actor=officer, at=timezone.now() - dt.timedelta(minutes=5)
            )
        services.record_change_report(incident, actor=officer, at=timezone.now())
        incident = services.close(incident, actor=officer, **CLOSING)
        assert incident.status == Incident.Status.CLOSED

    @pytest.mark.parametrize("level", [0, 1, 2, 3])
    def test_a_help_request_blocks_closing_at_any_level(self, officer, level):
        incident = closable(officer, level=level)
        step = services.request_help(incident, actor=officer, note="無法自行處理勒索軟體")
        assert step.kind == Step.REQUEST_HELP and step.required
        assert services.request_help(incident, actor=officer).pk == step.pk  # once
        assert Kind.HELP_REQUESTED in kinds(incident)
        for other in incident.steps.exclude(pk=step.pk):
            services.complete_step(other, actor=officer)
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        assert "通報教育局(處)資訊安全管理單位協助處理" in messages_of(excinfo)
        services.complete_step(step, actor=officer)
        assert services.close(incident, actor=officer, **CLOSING).status == "closed"

    def test_help_cannot_be_requested_for_a_closed_incident(self, officer):
        incident = services.close(closable(officer, level=1), actor=officer, **CLOSING)
        with pytest.raises(ValidationError):
            services.request_help(incident, actor=officer)


# Closing, dismissing, early warnings --------------------------------------------------------
@pytest.mark.django_db
class TestClosing:
    @pytest.mark.parametrize("missing", list(CLOSING))
    @pytest.mark.parametrize("blank", ["", "  \n"])
    def test_each_of_the_four_texts_is_required(self, officer, missing, blank):
        incident = closable(officer)
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **{**CLOSING, missing: blank})
        assert fields_of(excinfo) == {missing}
        assert Incident.objects.get(pk=incident.pk).status == Incident.Status.OPEN

    def test_closing_without_the_platform_report_is_refused(self, officer):
        incident = classified(officer)
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        assert "尚未記錄教育機構資安通報平台的通報" in messages_of(excinfo)
        assert Incident.objects.get(pk=incident.pk).status == Incident.Status.OPEN

    def test_an_unclassified_incident_cannot_be_closed(self, officer):
        incident = platform_report(new_incident(officer), officer)
        assert incident.status == Incident.Status.REPORTED
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        assert "只有處理中的事件可以結案" in messages_of(excinfo)

    def test_a_dismissed_incident_cannot_be_closed(self, officer):
        incident = services.dismiss(new_incident(officer), actor=officer, reason="同仁誤點")
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        assert "只有處理中的事件可以結案" in messages_of(excinfo)
        assert Incident.objects.get(pk=incident.pk).status == Incident.Status.DISMISSED

    def test_a_closed_incident_cannot_be_closed_again(self, officer, clock):
        incident = services.close(closable(officer), actor=officer, **CLOSING)
        clock.move_to(NOW + HOUR)
        with pytest.raises(ValidationError):
            services.close(incident, actor=officer, **CLOSING)
        assert Incident.objects.get(pk=incident.pk).closed_at == NOW
        assert kinds(incident).count(Kind.CLOSED) == 1

    def test_a_closing_moment_in_the_future_or_before_discovery_is_refused(self, officer):
        incident = closable(officer)
        for moment in (NOW + services.SKEW + MINUTE, incident.discovered_at - MINUTE):
            with pytest.raises(ValidationError) as excinfo:
                services.close(incident, actor=officer, closed_at=moment, **CLOSING)
            assert fields_of(excinfo) == {"closed_at"}
        assert Incident.objects.get(pk=incident.pk).status == Incident.Status.OPEN
        assert Kind.CLOSED not in kinds(incident)

    def test_closing_records_the_response_and_the_timeline(self, officer):
        incident = closable(officer, level=2)
        closed_at = NOW - 5 * MINUTE
        incident = services.close(incident, actor=officer, closed_at=closed_at, **CLOSING)
        stored = Incident.objects.get(pk=incident.pk)
        assert stored.status == Incident.Status.CLOSED
        assert stored.closed_at == closed_at and stored.closed_by == officer
        assert {f: getattr(stored, f) for f in CLOSING} == CLOSING
        assert stored.improvement_required is False and stored.improvement_due_at is None
        entry = stored.timeline.get(kind=Kind.CLOSED)
        assert entry.at == closed_at and entry.actor == officer
        assert "逾期" not in entry.text

    def test_a_required_improvement_report_is_due_after_the_set_days(self, officer, settings):
        settings.ISMS_INCIDENT_IMPROVEMENT_DAYS = 14
        incident = services.close(
            closable(officer), actor=officer, improvement_required=True, **CLOSING
        )
        assert incident.improvement_required is True
        assert incident.improvement_due_at == NOW + dt.timedelta(days=14)
        assert Incident.objects.get(pk=incident.pk).improvement_due_at == NOW + dt.timedelta(
            days=14
        )
        incident = services.record_improvement(incident, actor=officer, summary="已完成改善")
        assert incident.improvement_done_at == NOW

    def test_a_late_close_is_marked_late(self, officer, clock):
        incident = closable(officer, level=3)
        for step in incident.steps.all():
            services.complete_step(step, actor=officer)
        clock.move_to(NOW + 40 * HOUR)
        incident = services.close(incident, actor=officer, **CLOSING)
        assert "逾期" in incident.timeline.get(kind=Kind.CLOSED).text

    def test_a_closed_incident_is_not_changed_any_more(self, officer):
        incident = services.close(closable(officer), actor=officer, **CLOSING)
        with pytest.raises(ValidationError):
            services.update(incident, actor=officer, **impacts(4))
        assert Incident.objects.get(pk=incident.pk).level == 2

    def test_dismiss_needs_a_reason(self, officer):
        incident = new_incident(officer)
        for reason in ("", "   "):
            with pytest.raises(ValidationError) as excinfo:
                services.dismiss(incident, actor=officer, reason=reason)
            assert fields_of(excinfo) == {"dismiss_reason"}
        incident = services.dismiss(incident, actor=officer, reason=" 測試郵件，非攻擊 ")
        assert incident.status == Incident.Status.DISMISSED
        assert incident.dismiss_reason == "測試郵件，非攻擊"
        assert incident.closed_at == NOW and incident.closed_by == officer
        assert Kind.DISMISSED in kinds(incident)

    def test_dismiss_only_from_reported(self, officer):
        open_one = classified(officer)
        closed_one = services.close(closable(officer), actor=officer, **CLOSING)
        dismissed = services.dismiss(new_incident(officer), actor=officer, reason="誤報")
        for incident in (open_one, closed_one, dismissed):
            status = incident.status
            with pytest.raises(ValidationError) as excinfo:
                services.dismiss(incident, actor=officer, reason="非資安事件")
            assert "__all__" in fields_of(excinfo)
            assert Incident.objects.get(pk=incident.pk).status == status


@pytest.mark.django_db
class TestWarningAnswer:
    def warning(self, officer):
        return new_incident(officer, source="warning", title="預警：疑似中繼站")

    def test_only_an_early_warning_is_answered(self, officer):
        for source in ("self", "notified"):
            incident = new_incident(officer, source=source)
            with pytest.raises(ValidationError) as excinfo:
                services.answer_warning(
                    incident, actor=officer, answer="false_positive", reason="誤判"
                )
            assert "__all__" in fields_of(excinfo)
            assert Incident.objects.get(pk=incident.pk).warning_answer == ""

    def test_a_confirmed_warning_names_the_self_report(self, officer):
        incident = self.warning(officer)
        with pytest.raises(ValidationError) as excinfo:
            services.answer_warning(incident, actor=officer, answer="confirmed", reason="確有此事")
        assert fields_of(excinfo) == {"warning_linked_ticket"}
        incident = services.answer_warning(
            incident, actor=officer, answer="confirmed", linked_ticket=" TACERT-2026-0001 "
        )
        assert incident.warning_answer == "confirmed"
        assert incident.warning_linked_ticket == "TACERT-2026-0001"
        assert incident.warning_answered_at == NOW
        assert Kind.WARNING_ANSWERED in kinds(incident)

    @pytest.mark.parametrize("answer", ["false_positive", "undetermined"])
    def test_false_positive_or_undetermined_needs_a_reason(self, officer, answer):
        incident = self.warning(officer)
        with pytest.raises(ValidationError) as excinfo:
            services.answer_warning(
                incident, actor=officer, answer=answer, reason=" ", linked_ticket="X-1"
            )
        assert fields_of(excinfo) == {"warning_reason"}
        incident = services.answer_warning(
            incident, actor=officer, answer=answer, reason="該 IP 為校內 DNS 伺服器"
        )
        assert incident.warning_answer == answer
        assert incident.warning_reason == "該 IP 為校內 DNS 伺服器"

    def test_an_early_warning_is_answered_before_closing(self, officer):
        incident = closable(officer, level=1, source="warning")
        with pytest.raises(ValidationError) as excinfo:
            services.close(incident, actor=officer, **CLOSING)
        assert "預警事件單尚未回覆" in messages_of(excinfo)
        services.answer_warning(incident, actor=officer, answer="confirmed", linked_ticket="T-1")
        assert services.close(incident, actor=officer, **CLOSING).status == "closed"

    def test_an_unknown_answer_or_a_future_moment_is_refused(self, officer):
        incident = self.warning(officer)
        with pytest.raises(ValidationError) as excinfo:
            services.answer_warning(incident, actor=officer, answer="maybe", reason="?")
        assert fields_of(excinfo) == {"warning_answer"}
        with pytest.raises(ValidationError) as excinfo:
            services.answer_warning(
                incident, actor=officer, answer="false_positive", reason="誤判", at=NOW + HOUR
            )
        assert fields_of(excinfo) == {"warning_answered_at"}
        assert Incident.objects.get(pk=incident.pk).warning_answered_at is None


# 2.10.3 Anyone reports ----------------------------------------------------------------------
@pytest.mark.django_db
class TestReportSuspected:
    def report(self, actor, **kw):
        kw.setdefault("description", "收到冒充校長的郵件，要求購買禮物卡")
        kw.setdefault("seen_at", minutes_ago(5))
        return services.report_suspected(actor=actor, **kw)

    def test_anyone_signed_in_reports_and_it_waits_for_classification(self, make_user, people):
        nobody = make_user("student-helper")  # no role at all
        incident = self.report(nobody, location="教務處", contact="分機 123")
        assert incident.status == Incident.Status.REPORTED
        assert incident.number == "115-001"
        assert incident.reporter == nobody and incident.reporter_contact == "分機 123"
        assert incident.source == Incident.Source.SELF
        assert incident.discovered_at == minutes_ago(5)
        assert incident.report_due_at == minutes_ago(5) + HOUR
        assert incident.level is None
        assert incident.title == "收到冒充校長的郵件，要求購買禮物卡"
        assert kinds(incident) == [Kind.REPORTED]

    def test_numbers_run_within_the_roc_year(self, people):
        first = self.report(people.staff)
        second = self.report(people.staff, description="電腦出現勒索畫面")
        third = new_incident(people.officer)  # the officer's entries share the sequence
        assert [first.number, second.number, third.number] == ["115-001", "115-002", "115-003"]

    def test_the_number_rolls_over_at_new_year_in_taipei(self, people, clock):
        # 2026-12-31 23:59 in Taipei (15:59 UTC): still ROC 115.
        last_of_year = dt.datetime(2026, 12, 31, 15, 59, tzinfo=dt.UTC)
        clock.move_to(last_of_year)
        assert self.report(people.staff, seen_at=last_of_year).number == "115-001"
        assert self.report(people.staff, seen_at=last_of_year).number == "115-002"
        # 2027-01-01 00:30 in Taipei, still 2026-12-31 in UTC: ROC 116 starts at 001.
        new_year = dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC)
        clock.move_to(new_year)
        assert self.report(people.staff, seen_at=new_year).number == "116-001"
        assert self.report(people.staff, seen_at=new_year).number == "116-002"

    def test_every_active_security_officer_hears_urgently(self, people):
        incident = self.report(people.staff)
        mail = Notification.objects.all()
        assert {n.recipient for n in mail} == {people.officer, people.officer2}
        assert mail.count() == 2
        for n in mail:
            assert n.urgent
            assert incident.number in n.subject
            assert "收到冒充校長的郵件" in n.body
            assert people.staff.display_name in n.body

    @pytest.mark.parametrize("description", ["", "   \n "])
    def test_an_empty_description_is_refused(self, people, description):
        with pytest.raises(ValidationError) as excinfo:
            self.report(people.staff, description=description)
        assert fields_of(excinfo) == {"description"}
        assert not Incident.objects.exists() and not Notification.objects.exists()

    def test_a_moment_in_the_future_is_refused(self, people):
        with pytest.raises(ValidationError) as excinfo:
            self.report(people.staff, seen_at=NOW + services.SKEW + MINUTE)
        assert fields_of(excinfo) == {"seen_at"}
        with pytest.raises(ValidationError) as excinfo:
            self.report(people.staff, seen_at=None)
        assert fields_of(excinfo) == {"seen_at"}
        assert not Incident.objects.exists() and not Notification.objects.exists()


def test_levels_compute_level_unit():
    """The pure rule, without the database."""
    assert levels.compute_level("told_unconfirmed", 4, 4, 4) == 0
    assert levels.compute_level("", 1, 3, 2) == 3
    assert levels.compute_level("", None, None, None) is None
    assert levels.effective_level(1, 0) == 0
    assert levels.effective_level(3, None) == 3
    assert levels.close_hours(None) == levels.close_hours(2) == 72
    assert levels.close_hours(3) == levels.close_hours(4) == 36
