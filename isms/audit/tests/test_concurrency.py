"""Several processes append to the trail at once: the chain stays whole (PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections

from isms.audit import trail
from isms.audit.models import AuditEntry
from isms.core.models import Unit

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks between connections: run by CI against PostgreSQL",
)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    errors = []
    barrier = threading.Barrier(4)

    def writer(n):
        try:
            barrier.wait()
            with trail.acting_as(label=f"worker-{n}"):
                for i in range(25):
                    Unit.objects.create(name=f"處室{n}-{i}", code=f"u{n}-{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    assert ids == list(range(1, len(ids) + 1))
    assert AuditEntry.objects.filter(actor_label__startswith="worker-").count() == 100
    assert trail.verify().ok
