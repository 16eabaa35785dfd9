"""Daily digests: one mail a day after the person's hour, listing what waited; urgent
messages never wait."""

import datetime as dt

import pytest
import time_machine

from isms.notifications import delivery, services
from isms.notifications.models import Notification, NotificationPreference

Status = Notification.Status
TAIPEI = dt.timezone(dt.timedelta(hours=8))


def at(day, hour, minute=0):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=TAIPEI)


def queue(recipient, key, subject="提醒", **kw):
    return services.notify(
        recipient=recipient, subject=subject, body=f"{subject}的內容", dedup_key=key, **kw
    )


@pytest.fixture
def digest_user(recipient):
    NotificationPreference.objects.create(user=recipient, mode="daily_digest", digest_hour=7)
    return recipient


@pytest.mark.django_db
class TestDigest:
    def test_waiting_rows_go_out_in_one_mail_after_the_hour_once_a_day(self, smtp, digest_user):
        with time_machine.travel(at(27, 6), tick=False):
            rows = [
                queue(digest_user, "a", "備份逾期：校務系統"),
                queue(digest_user, "b", "校時紀錄待登錄"),
                queue(digest_user, "c", "帳號清查即將到期"),
            ]
            assert {r.status for r in rows} == {Status.DIGEST}
            assert delivery.deliver_due("w") == (0, 0)  # digest rows are not sent one by one
        with time_machine.travel(at(27, 6, 59), tick=False):
            assert delivery.send_digests() == 0
        with time_machine.travel(at(27, 7), tick=False):
            assert delivery.send_digests() == 1
        (mail,) = smtp.messages
        assert mail.subject == "校園資安管理平台：您今日的待辦事項（3 項）"
        assert mail.recipients == ["wang@school.example.edu.tw"]
        for subject in ("備份逾期：校務系統", "校時紀錄待登錄", "帳號清查即將到期"):
            assert subject in mail.body
        assert "115/11/27" in mail.body
        assert set(
            Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list(
                "status", flat=True
            )
        ) == {Status.SENT}
        digest = Notification.objects.get(is_digest=True)
        assert digest.status == Status.SENT and digest.dedup_key.endswith(":2026-11-27")
        assert digest.items.count() == 3

        # Later the same day: nothing more, even with a new row waiting.
        with time_machine.travel(at(27, 15), tick=False):
            late = queue(digest_user, "d", "新的提醒")
            assert delivery.send_digests() == 0
        with time_machine.travel(at(27, 23, 59), tick=False):
            assert delivery.send_digests() == 0
        assert len(smtp.messages) == 1
        # The next morning it comes in the next digest.
        with time_machine.travel(at(28, 7, 5), tick=False):
            assert delivery.send_digests() == 1
        assert smtp.messages[-1].subject == "校園資安管理平台：您今日的待辦事項（1 項）"
        late.refresh_from_db()
        assert late.status == Status.SENT

    def test_urgent_messages_do_not_wait_for_the_digest(self, smtp, digest_user):
        with time_machine.travel(at(27, 3), tick=False):
            queue(digest_user, "u", "資安事件升級通知", urgent=True)
            assert delivery.deliver_due("w") == (1, 0)
        assert smtp.messages[0].subject == "資安事件升級通知"

    def test_each_person_gets_it_at_their_own_hour(self, smtp, digest_user, make_user):
        late_riser = make_user("chen", email="chen@school.example.edu.tw")
        NotificationPreference.objects.create(user=late_riser, mode="daily_digest", digest_hour=18)
        with time_machine.travel(at(27, 6), tick=False):
            queue(digest_user, "x1")
            queue(late_riser, "x2")
        with time_machine.travel(at(27, 8), tick=False):
            assert delivery.send_digests() == 1
        with time_machine.travel(at(27, 18), tick=False):
            assert delivery.send_digests() == 1
        assert [m.recipients for m in smtp.messages] == [
            ["wang@school.example.edu.tw"],
            ["chen@school.example.edu.tw"],
        ]

    def test_the_hour_is_taipei_time_not_utc(self, smtp, digest_user):
        with time_machine.travel(at(27, 0, 30), tick=False):  # 115/11/26 16:30 UTC
            queue(digest_user, "tz")
            assert delivery.send_digests() == 0

    def test_a_digest_that_cannot_be_sent_is_retried_and_its_rows_wait_with_it(
        self, smtp, digest_user
    ):
        smtp.refuse = "451 4.3.0 請稍後再試"
        with time_machine.travel(at(27, 7), tick=False):
            row = queue(digest_user, "r")
            assert delivery.send_digests() == 0
        digest = Notification.objects.get(is_digest=True)
        assert digest.status == Status.QUEUED and digest.attempts == 1
        row.refresh_from_db()
        assert row.status == Status.DIGEST and row.bundle_id == digest.pk
        smtp.refuse = None
        with time_machine.travel(at(27, 7, 1), tick=False):
            assert delivery.send_digests() == 0  # today's digest exists: not built twice
            assert delivery.deliver_due("w") == (1, 0)
        row.refresh_from_db()
        assert row.status == Status.SENT
        assert len(smtp.messages) == 1

    def test_two_workers_build_one_digest(self, smtp, digest_user):
        with time_machine.travel(at(27, 7), tick=False):
            queue(digest_user, "w1")
            key = delivery.digest_key(digest_user.pk, dt.date(2026, 11, 27))
            now = at(27, 7)
            first = delivery._build_digest(digest_user.pk, key, dt.date(2026, 11, 27), now)
            second = delivery._build_digest(digest_user.pk, key, dt.date(2026, 11, 27), now)
        assert first is not None and second is None
        assert Notification.objects.filter(is_digest=True).count() == 1

    def test_a_person_back_on_immediate_gets_what_waited_at_once(self, smtp, digest_user):
        with time_machine.travel(at(27, 3), tick=False):
            queue(digest_user, "i")
            NotificationPreference.objects.filter(user=digest_user).update(mode="immediate")
            delivery.send_digests()
            assert delivery.deliver_due("w") == (1, 0)
        assert smtp.messages[0].subject == "提醒"
