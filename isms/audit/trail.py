"""Writing and verifying the audit trail.

Who acts is taken, in this order, from an explicit ``actor=``, from ``acting_as()``
(commands and the worker), or from the current request's signed-in user.
"""

import contextvars
import datetime as dt
import hashlib
import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from .models import AuditEntry, ChainHead

GENESIS = "0" * 64
Action = AuditEntry.Action


@dataclass(frozen=True)
class Context:
    request: object = None
    actor: object = None
    actor_label: str = ""
    ip: str | None = None
    request_id: str = ""
    extra: dict = field(default_factory=dict)


_context: contextvars.ContextVar[Context] = contextvars.ContextVar(
    "audit",
    default=Context(),  # noqa: B039 - frozen dataclass, never mutated
)


def current() -> Context:
    return _context.get()


@contextmanager
def bind(**changes):
    """Run a block with some context values replaced (request, actor, actor_label, ...)."""
    token = _context.set(replace(_context.get(), **changes))
    try:
        yield
    finally:
        _context.reset(token)


@contextmanager
def as_actor(actor):
    """Bind ``actor`` for a block when one is given; otherwise keep the current one."""
    if actor is None:
        yield
        return
    with bind(actor=actor):
        yield


def acting_as(actor=None, label: str = ""):
    """Name who acts for the writes of a block: a user, or a label such as 'worker'."""
    return bind(
        actor=actor,
        actor_label=label or (actor.get_username() if actor is not None else ""),
        request_id=_context.get().request_id or uuid.uuid4().hex,
    )


def _resolve_actor(actor):
    ctx = _context.get()
    if actor is None:
        actor = ctx.actor
    if actor is None and ctx.request is not None:
        user = getattr(ctx.request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor, actor.get_username()
    if ctx.actor_label:
        return None, ctx.actor_label
    if ctx.request is None:
        # A management command run by an operator: the console script names it.
        return None, os.environ.get("ISMS_ACTOR_LABEL", "system")
    return None, "anonymous"


def resolve_actor(actor=None):
    """(user or None, label) of who acts now: the one given, the bound one, the request's."""
    return _resolve_actor(actor)


def jsonable(value):
    """A value as it is stored in ``changes``: JSON primitives only, so hashing is stable."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time | Decimal | uuid.UUID | float):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def entry_hash(
    *,
    id,
    timestamp,
    actor_id,
    actor_label,
    action,
    model_label,
    object_id,
    object_repr,
    changes,
    message,
    ip,
    request_id,
    prev_hash,
) -> str:
    payload = json.dumps(
        [
            id,
            timestamp.astimezone(dt.UTC).isoformat(),
            actor_id,
            actor_label,
            action,
            model_label,
            object_id,
            object_repr,
            changes,
            message,
            ip,
            request_id,
            prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def record(
    action: str,
    obj=None,
    *,
    changes: dict | None = None,
    message: str = "",
    actor=None,
    model_label: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEntry:
    """Append one entry to the chain (in the caller's transaction, if any)."""
    fields = _fields(action, obj, changes, message, actor, model_label, object_id, object_repr)
    return _append([fields])[0]


def record_transition(obj, old: str, new: str, **extra) -> AuditEntry:
    """A record's status moved from ``old`` to ``new`` by a conditional update (which sends
    no signal); ``extra`` values are recorded beside it as set."""
    changes = {"status": [old, new]}
    for name, value in extra.items():
        changes[name] = [None, value]
    return record(Action.UPDATE, obj, changes=changes)


def record_many(items, *, actor=None) -> list[AuditEntry]:
    """Append one entry per ``(action, obj, changes)``, in order, under one lock of the head.

    For bulk changes made with ``QuerySet.bulk_update`` (which sends no signals): the same
    entries as one ``record`` each, written with one insert per 500.
    """
    return _append(
        [_fields(action, obj, changes, "", actor, "", "", "") for action, obj, changes in items]
    )


def _fields(action, obj, changes, message, actor, model_label, object_id, object_repr) -> dict:
    ctx = _context.get()
    actor, actor_label = _resolve_actor(actor)
    if obj is not None:
        model_label = model_label or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    return {
        "timestamp": timezone.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_label": actor_label[:150],
        "action": str(action),
        "model_label": model_label,
        "object_id": str(object_id),
        "object_repr": object_repr[:200],
        "changes": jsonable(changes or {}),
        "message": message,
        "ip": ctx.ip,
        "request_id": ctx.request_id,
    }


def _append(rows: list[dict]) -> list[AuditEntry]:
    if not rows:
        return []
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head, _ = ChainHead.objects.get_or_create(pk=1)
            head = ChainHead.objects.select_for_update().get(pk=1)
        last_id, last_hash = head.last_id, head.last_hash
        entries = []
        for fields in rows:
            fields["id"] = last_id + 1
            fields["prev_hash"] = last_hash
            fields["hash"] = entry_hash(**fields)
            entries.append(AuditEntry(**fields))
            last_id, last_hash = fields["id"], fields["hash"]
        if len(entries) == 1:
            entries[0].save(force_insert=True)
        else:
            AuditEntry.objects.bulk_create(entries, batch_size=500)
        ChainHead.objects.filter(pk=1).update(last_id=last_id, last_hash=last_hash)
    return entries


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


VERIFY_FIELDS = (
    "id",
    "timestamp",
    "actor_id",
    "actor_label",
    "action",
    "model_label",
    "object_id",
    "object_repr",
    "changes",
    "message",
    "ip",
    "request_id",
    "prev_hash",
    "hash",
)


def verify(chunk_size: int = 5000) -> VerifyResult:
    """Check the chain from the first entry to the head.

    1. Entries must be numbered 1, 2, 3, ... with no gap (a gap is a removed entry).
    2. Each entry's prev_hash must be the hash of the entry before it.
    3. Each entry's hash must match its recomputed content (else it was altered).
    4. The head must point at the last entry (else entries were removed from the end).
    """
    expected_prev = GENESIS
    expected_id = 1
    checked = 0
    rows = AuditEntry.objects.order_by("id").values_list(*VERIFY_FIELDS)
    for row in rows.iterator(chunk_size=chunk_size):
        values = dict(zip(VERIFY_FIELDS, row, strict=True))
        stored_hash = values.pop("hash")
        if values["id"] != expected_id:
            return VerifyResult(False, checked, expected_id, "missing")
        if values["prev_hash"] != expected_prev:
            return VerifyResult(False, checked, values["id"], "chain")
        if entry_hash(**values) != stored_hash:
            return VerifyResult(False, checked, values["id"], "altered")
        expected_prev = stored_hash
        expected_id += 1
        checked += 1
    head = ChainHead.objects.filter(pk=1).first()
    last_id, last_hash = (head.last_id, head.last_hash) if head else (0, GENESIS)
    if last_id != checked or last_hash != expected_prev:
        return VerifyResult(False, checked, checked + 1, "truncated")
    return VerifyResult(True, checked)


# One record and its many-to-many lists, as one entry --------------------------------------------
def _relation(model, name):
    field_ = model._meta.get_field(name)
    return field_.remote_field.through, field_.m2m_field_name(), field_.m2m_reverse_field_name()


def _labels(objects) -> list[str]:
    return sorted(str(o) for o in objects)


def save_with_lists(obj, *, kept, lists: dict) -> None:
    """Write ``obj`` (new when ``kept`` is None, else changed from ``kept`` as stored) and set
    its many-to-many ``lists`` ({field name: objects}), recording ONE entry with every field
    and list that changed: a plain save and ``.set()`` would record one entry for the record
    and one per list. Call inside a transaction and ``as_actor``."""
    from django.db import connection

    from .signals import IGNORED_FIELDS, created_changes

    model = type(obj)
    if kept is None:
        if not connection.features.can_return_rows_from_bulk_insert:  # pragma: no cover
            raise RuntimeError("the database cannot return the new row's id")
        model.objects.bulk_create([obj])
        changes = created_changes(obj)
        for name, objects in lists.items():
            through, source, target = _relation(model, name)
            through.objects.bulk_create(
                [through(**{f"{source}_id": obj.pk, f"{target}_id": o.pk}) for o in objects]
            )
            if objects:
                changes[name] = [None, _labels(objects)]
        record(Action.CREATE, obj, changes=changes)
        return
    diff, values = {}, {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.attname in IGNORED_FIELDS:
            continue
        before, after = getattr(kept, f.attname), getattr(obj, f.attname)
        if before != after:
            values[f.attname] = after
            diff[f.attname] = [jsonable(before), jsonable(after)]
    for name, objects in lists.items():
        through, source, target = _relation(model, name)
        before = list(getattr(kept, name).all())
        had, wanted = {o.pk for o in before}, {o.pk for o in objects}
        if had == wanted:
            continue
        gone = through.objects.filter(**{f"{source}_id": obj.pk}).exclude(
            **{f"{target}_id__in": wanted}
        )
        # A raw delete: the auto-created link rows are not records of their own in the trail.
        gone._raw_delete(gone.db)
        through.objects.bulk_create(
            [
                through(**{f"{source}_id": obj.pk, f"{target}_id": o.pk})
                for o in objects
                if o.pk not in had
            ]
        )
        diff[name] = [_labels(before) or None, _labels(objects) or None]
    if not diff:
        return
    if hasattr(obj, "updated_at"):
        obj.updated_at = timezone.now()
        values["updated_at"] = obj.updated_at
    if values:
        model.objects.filter(pk=obj.pk).update(**values)
    record(Action.UPDATE, obj, changes=diff)
