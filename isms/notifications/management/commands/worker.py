"""`isms worker`: the long-running loop that evaluates deadlines and delivers the outbox.

A plain loop, no broker (STYLE.md, Healthchecks `sendalerts`). Several may run against
one database; they coordinate only through conditional updates (see delivery.py).
"""

import importlib
import logging
import os
import signal
import socket
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils import timezone

from isms.audit import trail
from isms.notifications import delivery

log = logging.getLogger("isms.notifications.worker")

HOOK_MODULE = "isms.compliance.engine"
# Long jobs (evidence binders, large imports: see isms/core/jobs.py) run beside the loop in
# one thread, so reminders and e-mail are not held up while a ZIP is written; with --once
# they run to the end in the pass.
JOBS_MODULE = "isms.core.jobs"
# Waits after a lost database connection: 1 s, doubling up to 30 s.
FIRST_DB_PAUSE = 1.0
MAX_DB_PAUSE = 30.0


class Command(BaseCommand):
    help = (
        "Evaluate deadlines, fill and deliver the notification outbox, send daily digests, "
        "build evidence binders and apply large imports."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one pass, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=15.0,
            help="Seconds to wait between passes (default 15).",
        )
        parser.add_argument(
            "--worker-id",
            default="",
            help="Name of this worker in claims and in the audit trail (default host:pid).",
        )
        parser.add_argument(
            "--batch", type=int, default=20, help="Rows claimed at a time (default 20)."
        )
        # For tests and supervisors that want a bounded run: stop after N passes.
        parser.add_argument("--passes", type=int, default=0, help="Stop after N passes.")

    def handle(self, *args, **options):
        self.worker_id = options["worker_id"] or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = max(options["batch"], 1)
        self.stopping = threading.Event()
        self._hook = None
        self._hook_loaded = False
        self._jobs = None
        self._jobs_loaded = False
        self._job_thread = None
        once = options["once"]
        passes = 1 if once else options["passes"]
        interval = max(options["interval"], 0.0)

        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("worker %s started", self.worker_id)
        self.once = once
        try:
            self.loop(passes=passes, interval=interval, once=once)
        finally:
            self.wait_for_jobs()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("worker %s stopped", self.worker_id)

    def _stop(self, signum, frame):
        # Only a flag: the message being sent is finished, the rest of the batch released.
        log.info("worker %s: signal %s, stopping after the current message", self.worker_id, signum)
        self.stopping.set()

    def loop(self, *, passes: int, interval: float, once: bool):
        done = 0
        db_pause = FIRST_DB_PAUSE
        while not self.stopping.is_set():
            try:
                self.run_pass()
                db_pause = FIRST_DB_PAUSE
            except delivery.DB_ERRORS as exc:
                # The database went away (restart, fail-over, network): drop the connection
                # and try again later; nothing is lost, rows are only ever claimed in it.
                log.warning("worker %s: database unavailable: %s", self.worker_id, exc)
                self._reset_connection()
                if once:
                    raise CommandError(f"database unavailable: {exc}") from exc
                self.stopping.wait(db_pause)
                db_pause = min(db_pause * 2, MAX_DB_PAUSE)
            done += 1
            if passes and done >= passes:
                break
            self.stopping.wait(interval)

    def run_pass(self):
        """One pass: (a) evaluate deadlines, (b) deliver what is due, (c) daily digests,
        (d) start the long jobs (evidence binders, large imports) that are queued."""
        if not connection.in_atomic_block:
            close_old_connections()  # honours CONN_MAX_AGE and drops broken connections
        with trail.acting_as(label=f"worker:{self.worker_id}"):
            self.evaluate(timezone.now())
            sent, unsent = delivery.deliver_due(
                self.worker_id, limit=self.batch, should_stop=self.stopping.is_set
            )
            digests = 0
            if not self.stopping.is_set():
                digests = delivery.send_digests(timezone.now(), worker_id=self.worker_id)
        if not self.stopping.is_set():
            self.start_jobs()
        if sent or unsent or digests:
            log.info(
                "worker %s: %s sent, %s not sent, %s digests",
                self.worker_id,
                sent,
                unsent,
                digests,
            )
        return sent, unsent, digests

    def evaluate(self, now):
        """The compliance engine's hook, when it exists: it fills the outbox idempotently."""
        hook = self._load_hook()
        if hook is None:
            return
        try:
            hook(now=now)
        except delivery.DB_ERRORS:
            raise
        except Exception:
            # One broken evaluation must not stop delivery of what is already queued.
            log.exception("worker %s: deadline evaluation failed", self.worker_id)

    def start_jobs(self):
        """Start the long jobs when there is work and they are not already running."""
        module = self._load_jobs()
        if module is None or (self._job_thread is not None and self._job_thread.is_alive()):
            return
        try:
            if not module.pending():
                return
        except delivery.DB_ERRORS:
            raise
        except Exception:
            log.exception("worker %s: checking for long jobs failed", self.worker_id)
            return
        if getattr(self, "once", False):
            self._run_jobs(module, in_thread=False)
            return
        self._job_thread = threading.Thread(
            target=self._run_jobs, args=(module, True), name="isms-jobs", daemon=True
        )
        self._job_thread.start()

    def _run_jobs(self, module, in_thread: bool):
        try:
            module.run_pending(self.worker_id, should_stop=self.stopping.is_set)
        except Exception:
            log.exception("worker %s: long jobs failed", self.worker_id)
        finally:
            if in_thread:
                connection.close()  # this thread's own connection

    def wait_for_jobs(self):
        """On the way out: a running job stops at its next step and is queued again."""
        if self._job_thread is not None:
            self._job_thread.join()
            self._job_thread = None

    def _load_jobs(self):
        if not self._jobs_loaded:
            self._jobs_loaded = True
            try:
                self._jobs = importlib.import_module(JOBS_MODULE)
            except ImportError as exc:
                log.warning("worker %s: no long jobs (%s)", self.worker_id, exc)
        return self._jobs

    def _load_hook(self):
        if not self._hook_loaded:
            self._hook_loaded = True
            try:
                module = importlib.import_module(HOOK_MODULE)
                self._hook = module.run_due
            except (ImportError, AttributeError) as exc:
                log.warning(
                    "worker %s: no deadline evaluation (%s.run_due unavailable: %s)",
                    self.worker_id,
                    HOOK_MODULE,
                    exc,
                )
                self._hook = None
        return self._hook

    def _reset_connection(self):
        try:
            if connection.in_atomic_block:
                return
            close_old_connections()
            connection.close()
        except Exception:  # the connection may be too broken even to close
            log.debug("closing the database connection failed", exc_info=True)
