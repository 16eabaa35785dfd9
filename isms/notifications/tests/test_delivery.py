"""Delivery to a real SMTP server on loopback: sent, retried with back-off, failed, re-sent."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from isms.audit import trail
from isms.audit.models import AuditEntry
from isms.notifications import delivery, services
from isms.notifications.models import Notification

from .conftest import point_mail_at

Status = Notification.Status
T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)  # 115/11/27 09:00 in Taipei


def queue(recipient, key="obl:backup:1", **kw):
    kw.setdefault("subject", "【提醒】伺服器備份逾期：校務系統")
    kw.setdefault("body", "校務系統本週尚未完成備份（條文 2.4.1）。\n請於今日完成並登錄。")
    return services.notify(recipient=recipient, dedup_key=key, **kw)


def run(worker="w1"):
    return delivery.deliver_due(worker)


def trail_of(row):
    return AuditEntry.objects.filter(
        model_label="notifications.notification", object_id=str(row.pk)
    ).order_by("id")


@pytest.mark.django_db
class TestDeliveringToSMTP:
    def test_it_sends_a_utf8_zh_tw_message_and_marks_it_sent(self, smtp, recipient):
        row = queue(recipient)
        assert run() == (1, 0)
        (mail,) = smtp.messages
        assert mail.recipients == ["wang@school.example.edu.tw"]
        assert mail.subject == "【提醒】伺服器備份逾期：校務系統"
        assert "校務系統本週尚未完成備份（條文 2.4.1）。" in mail.body
        assert "請勿直接回覆" in mail.body
        message = mail.message
        assert "isms@school.example.edu.tw" in str(message["From"])
        assert message["Auto-Submitted"] == "auto-generated"
        assert message.get_content_charset() == "utf-8"
        row.refresh_from_db()
        assert row.status == Status.SENT and row.sent_at is not None
        assert row.claimed_by == "" and row.attempts == 0
        last = trail_of(row).last()
        assert last.changes["status"] == ["sending", "sent"]
        assert last.actor_label  # the worker names itself (see test_worker)

    def test_one_connection_serves_a_batch_of_many(self, smtp, make_user):
        for n in range(30):
            queue(make_user(f"r{n}", email=f"r{n}@school.example.edu.tw"), key=f"k{n}")
        assert run() == (30, 0)
        assert len(smtp.messages) == 30
        assert Notification.objects.filter(status=Status.SENT).count() == 30

    def test_urgent_messages_go_first(self, smtp, make_user, recipient):
        queue(recipient, key="a", subject="一般提醒")
        queue(recipient, key="b", subject="資安事件升級", urgent=True)
        run()
        assert [m.subject for m in smtp.messages] == ["資安事件升級", "一般提醒"]

    def test_a_message_not_yet_due_is_left_alone(self, smtp, recipient):
        row = queue(recipient)
        Notification.objects.filter(pk=row.pk).update(
            next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
        )
        assert run() == (0, 0)
        assert smtp.messages == []


@pytest.mark.django_db
class TestRetries:
    def test_a_closed_port_is_retried_after_the_back_off_then_sent(
        self, smtp_server, settings, recipient
    ):
        point_mail_at(settings, smtp_server.port)  # nothing listens there yet
        with time_machine.travel(T0, tick=False):
            row = queue(recipient)
            assert run() == (0, 1)
        row.refresh_from_db()
        assert row.status == Status.QUEUED and row.attempts == 1
        assert "ConnectionRefusedError" in row.last_error
        assert row.next_attempt_at == T0 + dt.timedelta(minutes=1)

        smtp_server.start()
        with time_machine.travel(T0 + dt.timedelta(seconds=59), tick=False):
            assert run() == (0, 0)  # not yet due
        with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
            assert run() == (1, 0)
        row.refresh_from_db()
        assert row.status == Status.SENT and row.attempts == 1
        assert len(smtp_server.messages) == 1

    def test_a_refusing_server_is_retried_with_growing_waits_then_failed(
        self, smtp, recipient, client_for
    ):
        smtp.refuse = "451 4.3.0 請稍後再試"
        now = T0
        with time_machine.travel(now, tick=False):
            row = queue(recipient)
        waits = []
        for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
            with time_machine.travel(now, tick=False):
                assert run() == (0, 1)
            row.refresh_from_db()
            assert row.attempts == attempt
            if attempt < delivery.MAX_ATTEMPTS:
                assert row.status == Status.QUEUED
                waits.append(row.next_attempt_at - now)
                now = row.next_attempt_at
        assert waits == [dt.timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]
        assert row.status == Status.FAILED
        assert "451" in row.last_error
        assert trail_of(row).last().changes["status"] == ["sending", "failed"]

        # A failed row stays failed: the worker does not touch it again.
        with time_machine.travel(now + dt.timedelta(days=1), tick=False):
            assert run() == (0, 0)

        # The security officer re-sends it once the mail server is fixed.
        smtp.refuse = None
        officer = client_for("security_officer")
        response = officer.post(f"/notifications/outbox/{row.pk}/resend/")
        assert response.status_code == 302
        row.refresh_from_db()
        assert row.status == Status.QUEUED and row.attempts == 0 and row.last_error == ""
        resend = trail_of(row).last()
        assert resend.actor_id == officer.user.pk
        assert resend.changes["status"] == ["failed", "queued"]
        assert run() == (1, 0)
        assert len(smtp.messages) == 1

    def test_an_address_removed_after_queueing_fails_at_once(self, smtp, recipient):
        row = queue(recipient)
        recipient.email = ""
        recipient.save()
        assert run() == (0, 1)
        row.refresh_from_db()
        assert row.status == Status.FAILED and row.attempts == 1
        assert "沒有電子郵件地址" in row.last_error

    def test_an_error_of_ours_on_one_row_pushes_it_forward_and_the_rest_go_out(
        self, smtp, make_user, monkeypatch
    ):
        rows = [
            queue(make_user(f"p{n}", email=f"p{n}@school.example.edu.tw"), key=f"p{n}")
            for n in range(3)
        ]
        real = delivery.build_message

        def broken(row, *args, **kwargs):
            if row.pk == rows[1].pk:
                raise ValueError("模擬的程式錯誤")
            return real(row, *args, **kwargs)

        monkeypatch.setattr(delivery, "build_message", broken)
        assert run() == (2, 1)
        bad = Notification.objects.get(pk=rows[1].pk)
        assert bad.status == Status.QUEUED and bad.attempts == 1
        assert "模擬的程式錯誤" in bad.last_error
        assert bad.next_attempt_at > timezone.now()


@pytest.mark.django_db
class TestClaims:
    def test_two_claimers_interleaved_take_each_row_once(self, recipient):
        rows = [queue(recipient, key=f"c{n}") for n in range(10)]
        now = timezone.now()
        # Both workers read the same candidates before either writes.
        seen_a = list(delivery._due(now).values_list(*delivery._CLAIM_FIELDS))
        seen_b = list(delivery._due(now).values_list(*delivery._CLAIM_FIELDS))
        won = {"a": [], "b": []}
        for n, (a, b) in enumerate(zip(seen_a, seen_b, strict=True)):
            first, second = (("a", a), ("b", b)) if n % 2 else (("b", b), ("a", a))
            for name, candidate in (first, second):
                if delivery._take(candidate, name, now):
                    won[name].append(candidate[0])
        assert sorted(won["a"] + won["b"]) == sorted(r.pk for r in rows)
        assert set(won["a"]).isdisjoint(won["b"])
        assert won["a"] and won["b"]

    def test_a_second_claimer_gets_only_what_the_first_left(self, recipient):
        for n in range(5):
            queue(recipient, key=f"d{n}")
        first = delivery.claim_batch("a", timezone.now(), limit=3)
        second = delivery.claim_batch("b", timezone.now(), limit=10)
        assert len(first) == 3 and len(second) == 2
        assert {r.pk for r in first}.isdisjoint({r.pk for r in second})
        assert delivery.claim_batch("c", timezone.now()) == []

    def test_a_crashed_workers_claim_is_taken_over_after_ten_minutes(self, smtp, recipient):
        with time_machine.travel(T0, tick=False):
            row = queue(recipient)
            (held,) = delivery.claim_batch("crashed", T0)
        with time_machine.travel(T0 + dt.timedelta(minutes=9), tick=False):
            assert delivery.claim_batch("b", timezone.now()) == []
        with time_machine.travel(T0 + dt.timedelta(minutes=11), tick=False):
            (taken,) = delivery.claim_batch("b", timezone.now())
            assert taken.pk == row.pk and taken.claimed_by == "b" and taken.attempts == 1
            assert "crashed" in taken.last_error
            # The crashed worker wakes up late: its outcome no longer counts.
            assert delivery.deliver(held) is True  # it did hand the mail over...
            assert Notification.objects.get(pk=row.pk).claimed_by == "b"  # ...but b holds it
            assert delivery.deliver(taken) is True
        row.refresh_from_db()
        assert row.status == Status.SENT
        assert len(smtp.messages) == 2  # at-least-once: one repeat, never a loss
        assert len({m.message["Message-ID"] for m in smtp.messages}) == 1  # recognisable

    def test_a_message_that_keeps_crashing_workers_ends_failed(self, recipient):
        row = queue(recipient)
        Notification.objects.filter(pk=row.pk).update(
            status=Status.SENDING,
            claimed_by="crashed",
            claimed_at=timezone.now() - dt.timedelta(hours=1),
            attempts=delivery.MAX_ATTEMPTS - 1,
        )
        assert delivery.claim_batch("b", timezone.now()) == []
        row.refresh_from_db()
        assert row.status == Status.FAILED and "crashed" in row.last_error
        assert trail_of(row).last().changes["status"] == ["sending", "failed"]

    def test_stopping_gives_the_rest_of_the_batch_back(self, smtp, recipient):
        for n in range(5):
            queue(recipient, key=f"s{n}")
        calls = {"n": 0}

        def stop_after_two():
            calls["n"] += 1
            return calls["n"] > 3  # the loop's own check, then one before each message

        assert delivery.deliver_due("w", should_stop=stop_after_two) == (2, 0)
        assert Notification.objects.filter(status=Status.QUEUED, claimed_by="").count() == 3
        assert not Notification.objects.filter(status=Status.SENDING).exists()


def test_backoff_grows_and_stays_at_four_hours():
    minutes = [delivery.backoff(n).total_seconds() / 60 for n in range(1, 8)]
    assert minutes == [1, 5, 15, 60, 240, 240, 240]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent connections: run by CI on PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
class TestConcurrentWorkers:
    def run_threads(self, target, n=4):
        errors = []
        barrier = threading.Barrier(n)

        def body(name):
            try:
                barrier.wait()
                with trail.acting_as(label=f"worker:{name}"):
                    target(name)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=body, args=(f"t{i}",)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []

    def test_threads_claiming_the_same_rows_take_each_once(self, recipient):
        rows = [queue(recipient, key=f"pg{n}") for n in range(100)]
        taken: dict[str, list[int]] = {}

        def claimer(name):
            mine = taken.setdefault(name, [])
            while batch := delivery.claim_batch(name, timezone.now(), limit=5):
                mine.extend(r.pk for r in batch)

        self.run_threads(claimer)
        everything = [pk for pks in taken.values() for pk in pks]
        assert sorted(everything) == sorted(r.pk for r in rows)  # each row exactly once
        assert sum(1 for pks in taken.values() if pks) > 1  # the work was shared

    def test_threads_delivering_send_each_message_once(self, smtp, make_user):
        for n in range(60):
            queue(make_user(f"m{n}", email=f"m{n}@school.example.edu.tw"), key=f"m{n}")
        self.run_threads(lambda name: delivery.deliver_due(name, limit=5))
        ids = [m.message["Message-ID"] for m in smtp.messages]
        assert len(ids) == 60 and len(set(ids)) == 60
        assert Notification.objects.filter(status=Status.SENT).count() == 60
        assert trail.verify().ok
