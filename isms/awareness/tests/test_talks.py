"""Legal-awareness talks (clause 8): the register by role, the three topics, the dates,
and the semester duty at the school's term boundaries."""

import datetime as dt
import json

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from isms.awareness import talks
from isms.awareness.models import LegalTalk
from isms.awareness.views_talks import LegalTalkRegister
from isms.compliance import engine, registry
from isms.compliance.models import ObligationState
from isms.core.models import SchoolProfile
from isms.core.roles import MANAGERS, SECURITY_OFFICER
from isms.core.testing import RegisterContract

pytestmark = pytest.mark.django_db
SECOND = dt.timedelta(seconds=1)


def taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC) - dt.timedelta(hours=8)


def talk_of(**overrides) -> LegalTalk:
    values = {
        "held_on": dt.date(2026, 9, 7),
        "occasion": "朝會",
        "audience": "全校師生",
        "presenter": "資訊組長",
        "covers_ip": True,
        "covers_privacy": True,
        "covers_computer_crime": True,
    }
    values.update(overrides)
    return LegalTalk.objects.create(**values)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
        yield


class TestLegalTalkRegister(RegisterContract):
    register = LegalTalkRegister
    api_prefix = "legal-talks"
    readers = frozenset(MANAGERS)
    writers = frozenset({SECURITY_OFFICER})

    def make_sample(self, **overrides):
        return talk_of(**overrides)

    def form_data(self):
        return {
            "held_on": "115/11/02",
            "occasion": "週會",
            "audience": "全校師生",
            "audience_count": "800",
            "presenter": "資訊組長",
            "covers_ip": "on",
            "covers_privacy": "on",
            "covers_computer_crime": "on",
            "summary": "著作權、個資法、刑法第 36 章。",
        }

    def change_data(self, obj):
        return {**self.form_data(), "occasion": "教職員晨會"}

    def api_data(self):
        return {
            "held_on": "2026-11-02",
            "occasion": "週會",
            "audience": "全校師生",
            "presenter": "資訊組長",
            "covers_ip": True,
            "covers_privacy": True,
            "covers_computer_crime": True,
        }


def officer(make_user, name="officer"):
    return make_user(name, SECURITY_OFFICER)


class TestRules:
    @pytest.mark.parametrize(
        ("field", "words"),
        [
            ("covers_ip", "智慧財產權"),
            ("covers_privacy", "個人資料保護及隱私"),
            ("covers_computer_crime", "刑法妨害電腦使用罪章"),
        ],
    )
    def test_each_missing_topic_is_refused_by_name(self, client_for, field, words):
        c = client_for(SECURITY_OFFICER)
        data = TestLegalTalkRegister().form_data()
        del data[field]
        response = c.post(reverse("awareness:legaltalk_add"), data)
        assert response.status_code == 400
        form = response.context["form"]
        assert words in " ".join(form.errors[field])
        assert words in " ".join(form.non_field_errors())
        others = {n for n, _c, _t in talks.TOPICS} - {field}
        assert not others & set(form.errors)
        assert LegalTalk.objects.count() == 0

    def test_all_missing_topics_named_and_api_400(self, client_for):
        c = TestLegalTalkRegister().api_client(client_for, SECURITY_OFFICER)
        body = {**TestLegalTalkRegister().api_data(), "covers_ip": False, "covers_privacy": False}
        response = c.post("/api/legal-talks/", json.dumps(body), content_type="application/json")
        assert response.status_code == 400
        errors = response.json()
        assert "智慧財產權" in errors["covers_ip"][0]
        assert "個人資料保護及隱私" in errors["covers_privacy"][0]
        assert "covers_computer_crime" not in errors
        assert "8.1" in errors["non_field_errors"][0] and "8.2" in errors["non_field_errors"][0]
        assert LegalTalk.objects.count() == 0

    def test_future_date_refused_today_accepted(self, make_user):
        actor = officer(make_user)
        talk = LegalTalk(**{**TestLegalTalkRegister().api_data(), "held_on": dt.date(2026, 12, 1)})
        with pytest.raises(Exception) as error:
            talks.talk_save(talk, actor=actor)
        assert "held_on" in error.value.message_dict
        talk.held_on = dt.date(2026, 11, 30)
        talks.talk_save(talk, actor=actor)
        assert talk.recorded_by == actor

    @pytest.mark.parametrize("field", ["occasion", "audience", "presenter"])
    def test_required_texts(self, make_user, field):
        actor = officer(make_user)
        data = {**TestLegalTalkRegister().api_data(), "held_on": dt.date(2026, 11, 2)}
        data[field] = "   "
        with pytest.raises(Exception) as error:
            talks.talk_save(LegalTalk(**data), actor=actor)
        assert field in error.value.message_dict
        assert LegalTalk.objects.count() == 0

    def test_only_the_officer_writes(self, make_user):
        from django.core.exceptions import PermissionDenied

        from isms.core.roles import SUPERVISOR

        data = {**TestLegalTalkRegister().api_data(), "held_on": dt.date(2026, 11, 2)}
        with pytest.raises(PermissionDenied):
            talks.talk_save(LegalTalk(**data), actor=make_user("boss", SUPERVISOR))

    def test_a_voided_talk_cannot_be_edited(self, client_for):
        talk = talk_of()
        c = client_for(SECURITY_OFFICER)
        talks.talk_void(talk, actor=c.user, reason="重複")
        data = {**TestLegalTalkRegister().form_data(), "occasion": "改"}
        response = c.post(reverse("awareness:legaltalk_edit", args=[talk.pk]), data)
        assert response.status_code == 403  # no register edits a voided record
        with pytest.raises(ValidationError):
            talks.talk_save(talk, actor=c.user)  # nor does the service
        talk.refresh_from_db()
        assert talk.occasion == "朝會"

    def test_detail_shows_topics(self, client_for):
        talk = talk_of()
        page = client_for(SECURITY_OFFICER).get(talk.get_absolute_url()).content.decode()
        assert "智慧財產權（8.1）" in page and "刑法妨害電腦使用罪章（8.3）" in page


def state():
    return ObligationState.objects.filter(key=talks.DUTY, subject_id="1").first()


def status_at(moment):
    with time_machine.travel(moment, tick=False):
        engine.refresh(talks.DUTY)
    return state().status


class TestSemesterDuty:
    def test_registered_for_the_binder(self):
        registry.autodiscover()
        duty = {o.key: o for o in registry.obligations()}[talks.DUTY]
        assert duty.clause == "8" and duty.rhythm.period == "semester"
        records = [r for r in registry.records() if r.key.endswith("legaltalk")]
        assert records and records[0].date_field == "held_on"
        assert talks.DUTY in records[0].obligations

    def test_default_term_starts(self, make_user):
        # 1st semester from 8/1, 2nd from 2/1 (defaults).
        engine.refresh(talks.DUTY)
        assert state().status == "never_done"
        talks.talk_save(
            LegalTalk(**{**TestLegalTalkRegister().api_data(), "held_on": dt.date(2026, 9, 7)}),
            actor=officer(make_user),
        )
        s = state()
        assert s.status == "ok" and s.last_done_at == taipei(2026, 9, 7)
        # Due by the end of next semester (2nd of 115: up to 2027/07/31).
        assert s.next_due_at == taipei(2027, 8, 1) - SECOND
        assert status_at(taipei(2027, 2, 1)) == "ok"
        assert status_at(taipei(2027, 7, 1) - SECOND) == "ok"
        assert status_at(taipei(2027, 7, 2)) == "due_soon"
        assert status_at(taipei(2027, 8, 1)) == "overdue"

    def test_school_term_starts_and_voids(self, make_user):
        profile = SchoolProfile.load()
        profile.first_semester_start_month, profile.first_semester_start_day = 8, 30
        profile.second_semester_start_month, profile.second_semester_start_day = 2, 11
        profile.save()
        actor = officer(make_user)
        talk = LegalTalk(**{**TestLegalTalkRegister().api_data(), "held_on": dt.date(2026, 8, 29)})
        talks.talk_save(talk, actor=actor)
        # 8/29 is still the 2nd semester of 114 under these starts: overdue by 115-1's end.
        assert state().next_due_at == taipei(2027, 2, 11) - SECOND
        assert status_at(taipei(2027, 2, 11) - SECOND) == "due_soon"
        assert status_at(taipei(2027, 2, 11)) == "overdue"
        with time_machine.travel(taipei(2026, 11, 30, 10), tick=False):
            talks.talk_void(talk, actor=actor, reason="日期登錄錯誤")
            assert state().status == "never_done"

    def test_history_for_the_binder(self, make_user):
        from isms.awareness.duties_talks import _talk_history

        talk_of(held_on=dt.date(2026, 9, 7))
        talk_of(held_on=dt.date(2026, 3, 2))
        talk_of(held_on=dt.date(2026, 10, 1), voided_at=taipei(2026, 10, 2))
        rows = _talk_history(None, taipei(2026, 8, 1), taipei(2027, 8, 1))
        assert rows == [(1, taipei(2026, 9, 7))]
