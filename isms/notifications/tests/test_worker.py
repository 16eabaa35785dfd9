"""`isms worker`: one pass end to end, a broken hook or database, and a clean SIGTERM."""

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
import types

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from isms.audit.models import AuditEntry
from isms.notifications import delivery, services
from isms.notifications.management.commands import worker
from isms.notifications.models import Notification

from .conftest import free_port

Status = Notification.Status


def queue(recipient, key="k1", **kw):
    return services.notify(
        recipient=recipient, subject="逾期提醒", body="請處理。", dedup_key=key, **kw
    )


@pytest.mark.django_db
class TestOnePass:
    def test_once_evaluates_delivers_and_signs_the_trail_as_the_worker(
        self, smtp, recipient, no_hook
    ):
        rows = [queue(recipient, key=f"k{n}") for n in range(3)]
        call_command("worker", "--once", "--worker-id", "t1")
        assert len(no_hook) == 1  # the deadline evaluation ran first
        assert len(smtp.messages) == 3
        assert set(Notification.objects.values_list("status", flat=True)) == {Status.SENT}
        sent = AuditEntry.objects.filter(
            model_label="notifications.notification",
            object_id__in=[str(r.pk) for r in rows],
            changes__status=["sending", "sent"],
        )
        assert sent.count() == 3
        assert set(sent.values_list("actor_label", flat=True)) == {"worker:t1"}

    def test_it_calls_the_compliance_engine(self, smtp, monkeypatch):
        import importlib

        engine = importlib.import_module("isms.compliance.engine")
        calls = []
        monkeypatch.setattr(engine, "run_due", lambda now: calls.append(now))
        call_command("worker", "--once")
        assert len(calls) == 1

    def test_what_the_hook_queues_goes_out_in_the_same_pass(self, smtp, recipient, no_hook):
        module = sys.modules["isms.compliance.engine"]
        module.run_due = lambda now: queue(recipient, key="from-hook")
        call_command("worker", "--once")
        assert [m.subject for m in smtp.messages] == ["逾期提醒"]

    def test_a_broken_hook_does_not_stop_delivery(self, smtp, recipient, no_hook, caplog):
        calls = []

        def broken(now):
            calls.append(now)
            raise RuntimeError("義務評估失敗")

        sys.modules["isms.compliance.engine"].run_due = broken
        queue(recipient)
        with caplog.at_level(logging.ERROR, logger="isms.notifications.worker"):
            call_command("worker", "--passes", "2", "--interval", "0")
        assert len(calls) == 2  # tried again on the next pass
        assert len(smtp.messages) == 1
        assert "deadline evaluation failed" in caplog.text

    def test_a_missing_hook_is_reported_once(self, smtp, recipient, monkeypatch, caplog):
        monkeypatch.setitem(
            sys.modules, "isms.compliance.engine", types.ModuleType("isms.compliance.engine")
        )
        queue(recipient)
        with caplog.at_level(logging.WARNING, logger="isms.notifications.worker"):
            call_command("worker", "--passes", "3", "--interval", "0")
        assert caplog.text.count("no deadline evaluation") == 1
        assert len(smtp.messages) == 1

    def test_it_survives_a_lost_database_connection(
        self, smtp, recipient, no_hook, monkeypatch, caplog
    ):
        monkeypatch.setattr(worker, "FIRST_DB_PAUSE", 0.01)
        real = delivery.deliver_due
        calls = {"n": 0}

        def flaky(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise OperationalError("server closed the connection unexpectedly")
            return real(*args, **kwargs)

        monkeypatch.setattr(delivery, "deliver_due", flaky)
        queue(recipient)
        with caplog.at_level(logging.WARNING, logger="isms.notifications.worker"):
            call_command("worker", "--passes", "2", "--interval", "0")
        assert "database unavailable" in caplog.text
        assert len(smtp.messages) == 1

    def test_once_reports_a_lost_database_as_an_error(self, monkeypatch, no_hook):
        def down(*args, **kwargs):
            raise OperationalError("could not connect to server")

        monkeypatch.setattr(delivery, "deliver_due", down)
        with pytest.raises(CommandError):
            call_command("worker", "--once")


def _env(tmp_path, port):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "ISMS_TEST", "DATABASE_URL", "EMAIL_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="isms.settings",
        ISMS_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/w.sqlite3",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        DEFAULT_FROM_EMAIL="isms@school.example.edu.tw",
        LOG_LEVEL="INFO",
        ISMS_ACTOR_LABEL="test",
    )
    return env


def isms(*args):
    return [sys.executable, "-m", "isms.cli", *args]


SEED = """
from isms.core.models import User
from isms.notifications import services
u = User.objects.create(username="lin", email="lin@school.example.edu.tw")
for n in range(5):
    services.notify(recipient=u, subject=f"提醒 {n}", body="內容", dedup_key=f"seed{n}")
"""


def test_sigterm_stops_the_loop_cleanly(tmp_path, smtp_server):
    smtp_server.start()
    env = _env(tmp_path, smtp_server.port)
    subprocess.run(isms("migrate", "--noinput", "-v0"), env=env, check=True, timeout=120)
    subprocess.run(isms("shell", "-c", SEED), env=env, check=True, timeout=60)
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 - read after the process ends
    proc = subprocess.Popen(
        isms("worker", "--interval", "0.2", "--worker-id", "sub"),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        seeded = {f"提醒 {n}" for n in range(5)}
        while not seeded <= {m.subject for m in smtp_server.messages}:
            assert time.monotonic() < deadline, "the worker did not deliver"
            time.sleep(0.05)
        time.sleep(0.3)  # now idle, between passes
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test already failed
            proc.kill()
            proc.wait()
        log.seek(0)
        output = log.read()
        log.close()
    assert "worker sub stopped" in output, output
    with sqlite3.connect(tmp_path / "w.sqlite3") as db:
        # Besides the five seeded rows, the compliance engine's own reminders (if any).
        statuses = db.execute("select status from notifications_notification").fetchall()
        actors = db.execute(
            "select distinct actor_label from audit_auditentry where changes like '%sent%'"
        ).fetchall()
    assert statuses == [("sent",)] * len(smtp_server.messages)
    assert actors == [("worker:sub",)]


def test_sigterm_during_a_batch_finishes_the_message_and_releases_the_rest(tmp_path):
    """A mail server that answers slowly: SIGTERM arrives mid-batch."""
    import asyncio

    from .conftest import MailServer

    class Slow(MailServer):
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(0.5)
            return await super().handle_DATA(server, session, envelope)

    server = Slow(port=free_port())
    server.start()
    try:
        env = _env(tmp_path, server.port)
        subprocess.run(isms("migrate", "--noinput", "-v0"), env=env, check=True, timeout=120)
        subprocess.run(isms("shell", "-c", SEED), env=env, check=True, timeout=60)
        proc = subprocess.Popen(
            isms("worker", "--interval", "0.2"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not server.messages and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "w.sqlite3") as db:
        rows = dict(
            db.execute(
                "select status, count(*) from notifications_notification group by status"
            ).fetchall()
        )
    total = sum(rows.values())
    assert rows.get("sending", 0) == 0  # nothing left held by the stopped worker
    assert rows.get("sent", 0) == len(server.messages) >= 1  # the one in flight finished
    assert rows["queued"] == total - rows["sent"] > 0  # the rest given back at once
