"""The calendar feed: my tasks as iCalendar behind a secret key; on, renew, off; audited."""

import datetime as dt
import hashlib
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from isms.audit.models import AuditEntry
from isms.compliance import engine
from isms.compliance.calendar import DENIED_MESSAGE, feed_create, feed_revoke
from isms.compliance.models import CalendarFeed, ObligationState
from isms.core.roles import SECURITY_OFFICER, STAFF

PAGE = "/compliance/calendar/"
KEY_IN_PAGE = re.compile(r"http://testserver/compliance/calendar/([A-Za-z0-9_-]+)\.ics")


def feed_url(key):
    return reverse("compliance:calendar_feed", args=[key])


def turn_on(c, action="enable"):
    """POST the page's button; return the key shown once in the response."""
    response = c.post(PAGE, {"action": action})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return KEY_IN_PAGE.search(response.content.decode()).group(1)


def fetch(key):
    """The feed as a calendar program reads it: no session, no cookies."""
    return Client().get(feed_url(key))


def events(response):
    assert response.status_code == 200
    cal = Calendar.from_ical(response.content)
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


def denied_entries():
    return AuditEntry.objects.filter(
        action=AuditEntry.Action.ACCESS_DENIED, model_label="compliance.calendarfeed"
    )


def make_state(user_or_role, n, **fields):
    """``n`` obligation states of one duty, for a role (str) or a person's own password."""
    now = timezone.now()
    own = not isinstance(user_or_role, str)
    key = "core.password_age" if own else "compliance.contacts_review"
    made = []
    for i in range(n):
        values = {
            "key": key,
            "clause": "2.9.3" if own else "2.10.4",
            "subject_type": "core.user" if own else f"test.subject{i}",
            "subject_id": str(user_or_role.pk) if own else str(1000 + i),
            "subject_label": f"對象{i}",
            "responsible_role": SECURITY_OFFICER if own else user_or_role,
            "status": "due_soon",
            "next_due_at": now + dt.timedelta(days=3 + i),
        }
        values.update(fields)
        made.append(ObligationState.objects.create(**values))
    return made


@pytest.mark.django_db
class TestFeedContent:
    def test_my_tasks_as_icalendar(self, client_for, make_user):
        c = client_for(SECURITY_OFFICER)
        other = make_user("someone_else")
        engine.refresh()
        key = turn_on(c)
        response = fetch(key)
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        assert response["Content-Disposition"] == 'inline; filename="isms.ics"'
        cal = Calendar.from_ical(response.content)
        assert str(cal["version"]) == "2.0" and "Campus ISMS" in str(cal["prodid"])
        assert str(cal["x-wr-calname"]) == "校園資安管理平台：我的待辦"
        assert str(cal["x-wr-timezone"]) == "Asia/Taipei"

        # The security officer's duties: the school's, and every person's yearly training
        # hours (5.2: the officer follows them up).
        school_duties = [
            "awareness.legal_talk",
            "awareness.training_hours",
            "compliance.contacts_review",
            "compliance.policy_review",
            "incidents.drill",
        ]
        mine = ObligationState.objects.filter(
            key__in=school_duties
        ) | ObligationState.objects.filter(key="core.password_age", subject_id=str(c.user.pk))
        found = events(response)
        assert set(found) == {f"obligation-{s.pk}@campus-isms" for s in mine}
        assert len(found) == mine.count() >= 4
        for state in mine:
            event = found[f"obligation-{state.pk}@campus-isms"]
            summary, description = str(event["summary"]), str(event["description"])
            assert f"（條文 {state.clause}）" in summary
            assert summary.startswith(f"[{state.get_status_display()}]")
            assert f"條文：{state.clause}" in description
            assert f"對象：{state.subject_label}" in description
            assert f"狀態：{state.get_status_display()}" in description
            # An all-day event on the due date (Asia/Taipei).
            assert event.decoded("dtstart") == timezone.localdate(state.next_due_at)
            assert event.decoded("dtend") == event.decoded("dtstart") + dt.timedelta(days=1)
            assert event.get("categories").cats == [f"條文 {state.clause}"]
            assert str(event["transp"]) == "TRANSPARENT"
            assert "dtstamp" in event
            alarms = event.walk("VALARM")
            if state.status == "ok":
                assert alarms == []
            else:
                assert alarms[0].decoded("trigger") == -dt.timedelta(hours=15)

        # Another person's password duty is theirs, not the officer's.
        theirs = ObligationState.objects.get(key="core.password_age", subject_id=str(other.pk))
        assert f"obligation-{theirs.pk}@campus-isms" not in found

        # Links: the state page for a duty of mine, the password page for my own password.
        review = ObligationState.objects.get(key="compliance.policy_review")
        event = found[f"obligation-{review.pk}@campus-isms"]
        expected = "http://testserver" + reverse(
            "compliance:obligationstate_detail", args=[review.pk]
        )
        assert str(event["url"]) == expected and expected in str(event["description"])
        own = ObligationState.objects.get(key="core.password_age", subject_id=str(c.user.pk))
        assert str(found[f"obligation-{own.pk}@campus-isms"]["url"]) == (
            "http://testserver/password/"
        )

    def test_ok_duties_with_a_due_date_are_included_and_those_without_are_not(self, client_for):
        c = client_for(SECURITY_OFFICER)
        ok = make_state(SECURITY_OFFICER, 1, status="ok")[0]
        nodate = make_state(SECURITY_OFFICER, 1, status="ok", subject_id="9", next_due_at=None)[0]
        found = events(fetch(turn_on(c)))
        assert f"obligation-{ok.pk}@campus-isms" in found
        assert f"obligation-{nodate.pk}@campus-isms" not in found

    def test_a_person_without_roles_sees_only_their_own_password(self, client_for, make_user):
        c = client_for()
        officer = make_user("officer", SECURITY_OFFICER)
        engine.refresh()
        found = events(fetch(turn_on(c)))
        own = ObligationState.objects.get(key="core.password_age", subject_id=str(c.user.pk))
        theirs = ObligationState.objects.get(key="core.password_age", subject_id=str(officer.pk))
        assert list(found) == [f"obligation-{own.pk}@campus-isms"]
        assert f"obligation-{theirs.pk}@campus-isms" not in found
        # The officer's feed has the school's duties and their own password, not this one.
        officer_key = feed_create(user=officer, actor=officer)[1]
        assert f"obligation-{own.pk}@campus-isms" not in events(fetch(officer_key))

    def test_a_role_that_cannot_open_state_pages_gets_the_evidence_form(self, client_for):
        c = client_for(STAFF)
        state = make_state(STAFF, 1)[0]
        event = events(fetch(turn_on(c)))[f"obligation-{state.pk}@campus-isms"]
        assert str(event["url"]) == "http://testserver" + reverse("core:contacts")

    def test_the_same_duty_for_several_subjects_names_the_subject(self, client_for):
        c = client_for(SECURITY_OFFICER)
        first, second = make_state(SECURITY_OFFICER, 2)
        found = events(fetch(turn_on(c)))
        assert str(found[f"obligation-{first.pk}@campus-isms"]["summary"]).endswith("：對象0")
        assert str(found[f"obligation-{second.pk}@campus-isms"]["summary"]).endswith("：對象1")

    def test_the_feed_is_in_the_schools_language_whatever_the_cookie(self, client_for):
        c = client_for(SECURITY_OFFICER)
        key = turn_on(c)
        client = Client()
        client.cookies["django_language"] = "en"
        cal = Calendar.from_ical(client.get(feed_url(key)).content)
        assert str(cal["x-wr-calname"]) == "校園資安管理平台：我的待辦"

    def test_queries_do_not_grow_with_the_number_of_events(self, client_for):
        c = client_for(SECURITY_OFFICER)
        make_state(SECURITY_OFFICER, 5)
        key = turn_on(c)
        fetch(key)  # the first read notes last_used_at
        with CaptureQueriesContext(connection) as few:
            assert len(events(fetch(key))) == 5
        ObligationState.objects.all().delete()
        make_state(SECURITY_OFFICER, 49)
        make_state(c.user, 1)
        with CaptureQueriesContext(connection) as many:
            assert len(events(fetch(key))) == 50
        assert len(many) == len(few)

    def test_last_used_is_written_at_most_every_five_minutes(self, client_for):
        c = client_for()
        key = turn_on(c)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            fetch(key)
            first = CalendarFeed.objects.get().last_used_at
            assert first == start
        with time_machine.travel(start + dt.timedelta(minutes=4), tick=False):
            with CaptureQueriesContext(connection) as reads:
                fetch(key)
            assert not any(q["sql"].startswith("UPDATE") for q in reads.captured_queries)
            assert CalendarFeed.objects.get().last_used_at == first
        later = start + dt.timedelta(minutes=6)
        with time_machine.travel(later, tick=False):
            fetch(key)
            assert CalendarFeed.objects.get().last_used_at == later


@pytest.mark.django_db
class TestKeys:
    def test_the_key_is_never_stored(self, client_for):
        c = client_for()
        key = turn_on(c)
        feed = CalendarFeed.objects.get()
        assert feed.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert feed.prefix == key[:8] and len(key) >= 40
        for value in CalendarFeed.objects.values_list().get():
            assert key not in str(value)
        for entry in AuditEntry.objects.all():
            assert key not in str(entry.changes) and key not in entry.message
        # Shown once: the page shows only the prefix afterwards.
        page = c.get(PAGE).content.decode()
        assert key not in page and feed.prefix in page

    def test_wrong_key_is_404_and_audited_once_a_day_per_key(self, client_for):
        c = client_for()
        turn_on(c)
        assert fetch("not-a-key").status_code == 404
        entry = denied_entries().get()
        assert entry.message == DENIED_MESSAGE == "行事曆訂閱金鑰無效"
        assert entry.actor_id is None and entry.object_id == ""
        assert "not-a-key" not in str(entry.changes) + entry.object_repr + entry.message
        assert fetch("not-a-key").status_code == 404
        assert denied_entries().count() == 1  # a client polling the same URL again
        assert fetch("another-wrong-key").status_code == 404
        assert denied_entries().count() == 2
        assert fetch("x" * 500).status_code == 404

    def test_revoked_key_is_404_and_audited(self, client_for):
        c = client_for()
        key = turn_on(c)
        feed = CalendarFeed.objects.get()
        response = c.post(PAGE, {"action": "disable"}, follow=True)
        assert "已停用行事曆訂閱" in response.content.decode()
        feed.refresh_from_db()
        assert feed.revoked_at is not None
        change = AuditEntry.objects.get(
            model_label="compliance.calendarfeed", action=AuditEntry.Action.UPDATE
        )
        assert change.actor_id == c.user.pk and "revoked_at" in change.changes
        assert fetch(key).status_code == 404
        denied = denied_entries().get()
        assert denied.object_id == str(feed.pk)
        assert "未開啟" in c.get(PAGE).content.decode()

    def test_renew_revokes_the_old_key(self, client_for):
        c = client_for()
        old = turn_on(c)
        assert fetch(old).status_code == 200
        new = turn_on(c, "renew")
        assert new != old
        assert fetch(old).status_code == 404
        assert fetch(new).status_code == 200
        assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1
        assert CalendarFeed.objects.count() == 2
        actions = list(
            AuditEntry.objects.filter(model_label="compliance.calendarfeed")
            .order_by("id")
            .values_list("action", "actor_id")
        )
        assert actions[:3] == [
            ("create", c.user.pk),
            ("update", c.user.pk),
            ("create", c.user.pk),
        ]

    def test_enable_while_on_renews(self, make_user):
        user = make_user("teacher")
        _f, first = feed_create(user=user, actor=user)
        _f, second = feed_create(user=user, actor=user)
        assert fetch(first).status_code == 404 and fetch(second).status_code == 200
        assert feed_revoke(user=user, actor=user) == 1
        assert feed_revoke(user=user, actor=user) == 0

    def test_an_inactive_persons_feed_is_404(self, client_for):
        c = client_for()
        key = turn_on(c)
        c.user.is_active = False
        c.user.save()
        assert fetch(key).status_code == 404
        assert denied_entries().count() == 1

    def test_the_feed_takes_only_get(self, client_for):
        c = client_for()
        key = turn_on(c)
        assert Client().post(feed_url(key)).status_code == 405
        assert Client().head(feed_url(key)).status_code == 200


@pytest.mark.django_db
class TestPage:
    def test_anonymous_is_sent_to_sign_in(self, client):
        response = client.get(PAGE)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        response = client.post(PAGE, {"action": "enable"})
        assert response.status_code == 302
        assert not CalendarFeed.objects.exists()

    def test_any_signed_in_person_may_use_it(self, client_for):
        c = client_for()
        page = c.get(PAGE)
        assert page.status_code == 200
        content = page.content.decode()
        assert "未開啟" in content and "開啟" in content
        key = turn_on(c)
        content = c.get(PAGE).content.decode()
        assert "重新產生" in content and "停用" in content and key not in content

    def test_the_url_shown_is_absolute_with_a_webcal_link(self, client_for):
        c = client_for()
        content = c.post(PAGE, {"action": "enable"}).content.decode()
        key = KEY_IN_PAGE.search(content).group(1)
        assert f"webcal://testserver/compliance/calendar/{key}.ics" in content

    def test_posts_need_the_csrf_token(self, make_user):
        user = make_user("teacher")
        c = Client(enforce_csrf_checks=True)
        c.force_login(user)
        assert c.post(PAGE, {"action": "enable"}).status_code == 403
        assert not CalendarFeed.objects.exists()

    def test_unknown_action_is_400(self, client_for):
        c = client_for()
        assert c.post(PAGE, {"action": "explode"}).status_code == 400
        assert not CalendarFeed.objects.exists()

    def test_disable_when_off_says_so(self, client_for):
        c = client_for()
        response = c.post(PAGE, {"action": "disable"}, follow=True)
        assert "原本就未開啟" in response.content.decode()

    def test_one_person_cannot_touch_anothers_feed(self, client_for):
        a, b = client_for(), client_for()
        key = turn_on(a)
        b.post(PAGE, {"action": "disable"})
        assert fetch(key).status_code == 200
        assert "未開啟" in b.get(PAGE).content.decode()

    def test_in_the_menu_for_everyone(self, client_for):
        c = client_for()
        assert PAGE in c.get("/").content.decode()
