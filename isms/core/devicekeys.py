"""Keys of machines that report to the product: a backup job (2.4.1), a temperature-humidity
sensor (3.2). Not a person's API token: a key belongs to one record (a backup plan, a sensor),
may only do that record's one report, and is revoked or replaced on the record's page.

- A key is ``<prefix><43 random URL-safe characters>``; only its SHA-256 is kept (and the
  trail says only that it changed), with its first 8 characters after the prefix to
  recognise it on the page.
- A new key replaces the old one at the same moment; revoking turns it off; the key of a
  voided record is refused.
- ``KeyAuthentication`` reads ``Authorization: Token <prefix>…``: a valid key gives
  ``request.auth = DeviceKey(record)``; an unknown, revoked or voided one is refused
  (401) and audited at most once an hour per key; any other header is left to the next
  authentication (people's own tokens).

The record's model has ``token_prefix``, ``token_hash``, ``token_created_at`` and
``voided_at`` (``VoidableModel``).
"""

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from isms.audit import trail
from isms.audit.signals import SECRET_MARK

# A refused key is audited at most this often per key (a forgotten cron job repeats).
DENIED_AUDIT_SECONDS = 3600


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyKind:
    """One kind of machine key: its prefix, the model holding it and its messages.

    The messages are gettext_lazy texts: ``failed`` is the 401's detail; ``refused`` and
    ``voided`` (audit entries) take ``%(start)s``, the key's first characters after the
    prefix.
    """

    prefix: str
    model: type
    label: str  # English, for the trail's actor label: "backup job", "sensor"
    created: str
    revoked: str
    failed: str
    refused: str
    voided: str
    voided_record: str  # a new key for a voided record is refused

    def start(self, key: str) -> str:
        return key[len(self.prefix) : len(self.prefix) + 8]


class DeviceKey:
    """``request.auth`` of a request made with a machine key: the record it belongs to."""

    def __init__(self, kind: KeyKind, record):
        self.kind = kind
        self.record = record

    @property
    def label(self) -> str:
        return f"{self.kind.label}: {self.record}"[:150]


def _write(kind: KeyKind, record, actor, prefix: str, digest: str, created) -> None:
    """Write the key columns and one audit entry that never shows the hash.

    A ``QuerySet.update`` (no signal): the trail's own receiver would show the hash.
    """
    before = (record.token_prefix, bool(record.token_hash), record.token_created_at)
    kind.model.objects.filter(pk=record.pk).update(
        token_prefix=prefix, token_hash=digest, token_created_at=created
    )
    changes = {"token_hash": [SECRET_MARK if before[1] else None, SECRET_MARK if digest else None]}
    if before[0] != prefix:
        changes["token_prefix"] = [before[0] or None, prefix or None]
    if before[2] != created:
        changes["token_created_at"] = [before[2], created]
    record.token_prefix, record.token_hash, record.token_created_at = prefix, digest, created
    with trail.as_actor(actor):
        trail.record(
            trail.Action.UPDATE,
            record,
            changes=changes,
            message=str(kind.created if digest else kind.revoked),
        )


def _copy(stored, record) -> None:
    record.token_prefix, record.token_hash = stored.token_prefix, stored.token_hash
    record.token_created_at = stored.token_created_at


@transaction.atomic
def create(kind: KeyKind, record, *, actor) -> str:
    """A new key for the record, returned once (only its hash kept); the old one is replaced.

    The caller checks that ``actor`` may keep the record.
    """
    stored = kind.model.objects.select_for_update().get(pk=record.pk)
    if stored.voided_at is not None:
        raise ValidationError({"__all__": str(kind.voided_record)})
    key = kind.prefix + secrets.token_urlsafe(32)
    _write(kind, stored, actor, kind.start(key), hash_key(key), timezone.now())
    _copy(stored, record)
    return key


@transaction.atomic
def revoke(kind: KeyKind, record, *, actor):
    """Turn the record's key off: its reports are refused (401) from now on."""
    stored = kind.model.objects.select_for_update().get(pk=record.pk)
    if stored.token_hash:
        _write(kind, stored, actor, "", "", None)
    _copy(stored, record)
    return stored


def holder(kind: KeyKind, key: str, queryset=None):
    """The active record whose key this is, or None."""
    if not key or not key.startswith(kind.prefix) or len(key) > 200:
        return None
    qs = queryset if queryset is not None else kind.model.objects.all()
    return (
        qs.filter(voided_at__isnull=True)
        .exclude(token_hash="")
        .filter(token_hash=hash_key(key))
        .first()
    )


def audit_refusal(kind: KeyKind, message: str, record=None, *, label: str) -> None:
    """An audit entry for a refused use of a key (unknown key, other record, wrong method)."""
    with trail.acting_as(None, label=label):
        trail.record(
            trail.Action.ACCESS_DENIED,
            record,
            model_label=kind.model._meta.label_lower,
            object_id=str(record.pk) if record is not None else "",
            message=message,
        )


class KeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <kind.prefix>…``: a machine key, tried before people's tokens."""

    keyword = "Token"
    kind: KeyKind = None

    def queryset(self):
        """The records a key is looked up in (select_related what the report needs)."""
        return self.kind.model.objects.all()

    def authenticate(self, request):
        from isms.core.models import ApiToken

        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword.lower().encode():
            return None
        try:
            key = header[1].decode("ascii")
        except UnicodeError:
            return None
        if not key.startswith(self.kind.prefix):
            return None
        record = holder(self.kind, key, self.queryset())
        if record is None:
            if ApiToken.objects.filter(key_hash=ApiToken.hash_key(key[:200])).exists():
                return None  # a person's own key that happens to start alike
            self.refused(key)
            raise exceptions.AuthenticationFailed(str(self.kind.failed))
        return AnonymousUser(), DeviceKey(self.kind, record)

    def authenticate_header(self, request):
        return self.keyword

    def refused(self, key: str) -> None:
        kind = self.kind
        digest = hash_key(key[:200])
        if not cache.add(f"isms:devicekey:denied:{digest}", 1, DENIED_AUDIT_SECONDS):
            return
        # A voided record keeps its key's hash: name the record then.
        record = kind.model.objects.filter(token_hash=digest).first()
        start = kind.start(key)
        message = str(kind.voided if record is not None else kind.refused) % {"start": start}
        audit_refusal(kind, message, record, label=f"{kind.label} key {kind.prefix}{start}…")


# The key section of a record's page ---------------------------------------------------------------
def no_store(response, extra: dict):
    """A page that shows a new key once: no cache may keep it."""
    if extra.get("new_key"):
        response["Cache-Control"] = "no-store"
    return response


class KeyPageMixin:
    """The POST of a record page's key section (before the record's ``DetailPage`` in the
    bases): ``op=create`` makes (or replaces) the key and answers with the page showing it
    once (``new_key``, ``replaced``); ``op=revoke`` turns it off; a refusal is the page
    again with ``key_errors`` (400). The subclass gives ``create_key``/``revoke_key`` (the
    module's services, which check who may) and the two messages."""

    action = "change"
    no_key_message = ""
    revoked_message = ""

    def create_key(self, record, actor) -> str:
        raise NotImplementedError

    def revoke_key(self, record, actor):
        raise NotImplementedError

    def get(self, request, pk, **kwargs):
        if kwargs:  # the record's page again, with the new key or a refusal
            return super().get(request, pk, **kwargs)
        return redirect(self.get_object("view").get_absolute_url())

    def post(self, request, pk):
        record = self.get_object("view")
        op = request.POST.get("op", "")
        try:
            if op == "create":
                replaced = bool(record.token_hash)
                key = self.create_key(record, request.user)
                return self.get(request, pk, new_key=key, replaced=replaced)
            if op == "revoke":
                if not record.token_hash:
                    raise ValidationError({"__all__": str(self.no_key_message)})
                self.revoke_key(record, request.user)
                messages.success(request, str(self.revoked_message))
                return redirect(record.get_absolute_url())
            raise ValidationError({"__all__": _("不明的操作。")})
        except ValidationError as error:
            return self.get(request, pk, status=400, key_errors=error.messages)
