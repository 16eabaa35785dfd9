"""Long jobs that the worker runs beside its loop (evidence binders, large imports).

A module registers a kind of job in its ``AppConfig.ready``::

    jobs.register("identity.import_apply", pending=reconcile.pending,
                  run_pending=reconcile.run_pending)

``pending()`` answers cheaply whether there is work (a queued job, or one whose worker
went silent); ``run_pending(worker_id, should_stop)`` claims and runs queued jobs one after
the other until none is left or ``should_stop()`` is true, and returns how many it ran. A
job claims its row with a conditional ``UPDATE``, so several workers may run side by side.
The worker (``isms worker``) runs every kind in one thread; with ``--once`` in the pass.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone

log = logging.getLogger("isms.core.jobs")


@dataclass(frozen=True)
class JobKind:
    name: str
    pending: Callable[[], bool]
    run_pending: Callable[..., int]


_KINDS: dict[str, JobKind] = {}


def register(name: str, *, pending: Callable[[], bool], run_pending: Callable[..., int]) -> None:
    _KINDS[name] = JobKind(name, pending, run_pending)


def kinds() -> list[JobKind]:
    return list(_KINDS.values())


def pending() -> bool:
    """Whether any kind has work (errors of one kind are logged, not raised)."""
    from isms.notifications.delivery import DB_ERRORS

    for kind in kinds():
        try:
            if kind.pending():
                return True
        except DB_ERRORS:
            raise
        except Exception:
            log.exception("checking for %s work failed", kind.name)
    return False


def run_pending(worker_id: str, should_stop=lambda: False) -> int:
    """Run the queued jobs of every kind; one failing kind does not stop the others."""
    from isms.notifications.delivery import DB_ERRORS

    done = 0
    for kind in kinds():
        if should_stop():
            break
        try:
            done += kind.run_pending(worker_id, should_stop=should_stop)
        except DB_ERRORS:
            raise
        except Exception:
            log.exception("worker %s: %s failed", worker_id, kind.name)
    return done


def claim_first(queued, *, running: str, worker_id: str, values: dict, on_claim):
    """Claim the first row of ``queued`` (a queryset of waiting rows, in order) for a worker.

    ``UPDATE … SET status = running, claimed_by = worker WHERE pk = … AND status = <queued>``:
    one winner among workers. ``on_claim(row)`` (the audit entry) runs in the same
    transaction. Returns the claimed row, or None.
    """
    model = queued.model
    for pk in queued.values_list("pk", flat=True)[:5]:
        with transaction.atomic():
            if queued.filter(pk=pk).update(status=running, claimed_by=worker_id[:100], **values):
                row = model.objects.get(pk=pk)
                on_claim(row)
                return row
    return None


def has_work(model, *, queued: str, running: str, stale_after, now=None) -> bool:
    """A row waits (``queued``), or one ``running`` has had no heartbeat for ``stale_after``."""
    now = now or timezone.now()
    return model.objects.filter(
        models.Q(status=queued) | models.Q(status=running, heartbeat_at__lt=now - stale_after)
    ).exists()
