"""notify(): the outbox is filled once per key, and nothing is dropped silently."""

import threading

import pytest
from django.db import connection, connections, transaction

from isms.audit.models import AuditEntry
from isms.notifications import services
from isms.notifications.models import Notification, NotificationPreference

Status = Notification.Status


def queue(recipient, key="obl:backup:1", **kw):
    return services.notify(
        recipient=recipient, subject="備份逾期提醒", body="請完成本週備份。", dedup_key=key, **kw
    )


@pytest.mark.django_db
class TestNotify:
    def test_it_queues_a_message_for_immediate_delivery(self, recipient):
        row = queue(recipient)
        assert row.status == Status.QUEUED
        assert row.attempts == 0 and row.channel == "email"
        assert AuditEntry.objects.filter(
            model_label="notifications.notification", object_id=str(row.pk), action="create"
        ).exists()

    def test_the_same_key_twice_gives_one_row(self, recipient):
        assert queue(recipient) is not None
        assert queue(recipient) is None
        assert Notification.objects.count() == 1

    def test_it_names_the_actor_when_one_is_given(self, recipient, make_user):
        officer = make_user("officer")
        row = queue(recipient, actor=officer)
        entry = AuditEntry.objects.get(
            model_label="notifications.notification", object_id=str(row.pk), action="create"
        )
        assert entry.actor_id == officer.pk

    def test_a_racing_insert_of_the_same_key_returns_none_and_keeps_the_transaction(
        self, recipient, monkeypatch
    ):
        queue(recipient)
        # The other worker's row arrived between our look and our insert.
        monkeypatch.setattr(services, "queued_before", lambda key: False)
        with transaction.atomic():
            assert queue(recipient) is None
            assert Notification.objects.count() == 1  # the transaction is still usable

    def test_a_recipient_without_an_address_gets_a_failed_row_with_the_reason(self, make_user):
        nobody = make_user("noaddr", email="")
        row = queue(nobody)
        assert row.status == Status.FAILED
        assert "沒有電子郵件地址" in row.last_error

    def test_the_persons_address_is_used_when_the_login_has_none(self, make_user):
        user = make_user("personal", email="")
        user.person.email = "p@school.example.edu.tw"
        user.person.save()
        assert queue(user).status == Status.QUEUED
        assert services.recipient_address(user) == "p@school.example.edu.tw"

    def test_a_digest_recipient_waits_for_the_digest(self, recipient):
        NotificationPreference.objects.create(user=recipient, mode="daily_digest")
        assert queue(recipient).status == Status.DIGEST

    def test_urgent_messages_skip_the_digest(self, recipient):
        NotificationPreference.objects.create(user=recipient, mode="daily_digest")
        assert queue(recipient, urgent=True).status == Status.QUEUED


@pytest.mark.django_db
class TestPreference:
    def test_leaving_the_digest_releases_what_was_waiting(self, recipient):
        services.notification_preference_set(
            user=recipient, mode="daily_digest", digest_hour=18, actor=recipient
        )
        row = queue(recipient)
        assert row.status == Status.DIGEST
        services.notification_preference_set(
            user=recipient, mode="immediate", digest_hour=7, actor=recipient
        )
        row.refresh_from_db()
        assert row.status == Status.QUEUED

    def test_an_hour_past_23_is_refused(self, recipient):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            services.notification_preference_set(
                user=recipient, mode="daily_digest", digest_hour=24, actor=recipient
            )


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent connections: run by CI on PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_workers_racing_to_queue_the_same_reminder_queue_it_once(make_user):
    user = make_user("race", email="race@school.example.edu.tw")
    results, errors = [], []
    barrier = threading.Barrier(6)

    def worker():
        try:
            barrier.wait()
            results.append(queue(user, key="obl:race:1"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r is not None for r in results) == 1
    assert Notification.objects.filter(dedup_key="obl:race:1").count() == 1
