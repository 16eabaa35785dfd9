"""State changes of the core records. Each takes the acting person explicitly."""

import hashlib
import mimetypes
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.audit import trail

from .models import ApiToken, Attachment, ContactEntry, PasswordHistory, User
from .roles import ROLES


def seed_after_migrate(**kwargs):
    """Create the role groups, the A-6 contact rows and the audit chain head if missing."""
    from django.db import connections

    from isms.audit.models import ChainHead

    from .models import SchoolProfile

    # A partial migrate (`isms migrate core`) runs this before the audit tables exist:
    # seeding would write audit entries, so it waits for the full migrate.
    connection = connections[kwargs.get("using", "default")]
    tables = set(connection.introspection.table_names())
    if not {ChainHead._meta.db_table, "audit_auditentry", SchoolProfile._meta.db_table} <= tables:
        return

    with trail.acting_as(label="system:migrate"):
        SchoolProfile.objects.get_or_create(pk=1, defaults={"name": "本校"})
        for code in ROLES:
            Group.objects.get_or_create(name=code)
        for order, (role, _label) in enumerate(ContactEntry.Role.choices):
            if not ContactEntry.objects.filter(role=role).exists():
                ContactEntry.objects.create(role=role, order=order)
    ChainHead.objects.get_or_create(pk=1)


@transaction.atomic
def move_status(obj, *, from_states, to: str, actor, **values) -> bool:
    """``UPDATE … SET status = to WHERE pk = … AND status IN from_states``, audited as the
    actor; ``obj`` is read again. False when it was no longer in one of ``from_states``."""
    with transaction.atomic():
        old = obj.status
        done = (
            type(obj)
            .objects.filter(pk=obj.pk, status__in=list(from_states))
            .update(status=to, **values)
        )
        if done:
            with trail.as_actor(actor):
                trail.record_transition(obj, old, to)
    obj.refresh_from_db()
    return bool(done)


def lock(obj, *related):
    """``obj`` read again under ``SELECT … FOR UPDATE`` (inside the caller's transaction),
    with ``related`` joined in (only its own row locked)."""
    rows = type(obj).objects
    if related:
        return rows.select_for_update(of=("self",)).select_related(*related).get(pk=obj.pk)
    return rows.select_for_update().get(pk=obj.pk)


def record_step(obj, *, actor, **values):
    """Write a step of a record (its ``values`` and ``updated_at``), audited as the actor."""
    for name, value in values.items():
        setattr(obj, name, value)
    with trail.as_actor(actor):
        obj.save(update_fields=[*values, "updated_at"])
    return obj


def site_url(path: str) -> str:
    """The address people open ``path`` at, for links in e-mails: ``ISMS_BASE_URL`` + path
    (the path alone when no base is set)."""
    return getattr(settings, "ISMS_BASE_URL", "").rstrip("/") + path


def record_void(obj, *, actor, reason: str):
    """Void a record the policy requires to keep (never deleted), with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("請填寫作廢原因。")})
    if obj.voided_at is not None:
        raise ValidationError(_("此筆資料已作廢。"))
    obj.voided_at = timezone.now()
    obj.voided_by = actor
    obj.void_reason = reason
    with trail.as_actor(actor):
        obj.save(update_fields=["voided_at", "voided_by", "void_reason"])
    return obj


# Passwords (clause 2.9, A-3 注意事項, A-5) -------------------------------------------


def password_expired(user, now=None) -> bool:
    """True when the login must choose a new password before doing anything else."""
    if user.must_change_password:
        return True
    if user.password_changed_at is None:
        return True
    now = now or timezone.now()
    return user.password_changed_at + timedelta(days=settings.ISMS_PASSWORD_MAX_AGE_DAYS) <= now


def password_days_left(user, now=None) -> int | None:
    """Days until the password must be changed (A-5: at least every three months)."""
    if user.password_changed_at is None:
        return None
    now = now or timezone.now()
    expires = user.password_changed_at + timedelta(days=settings.ISMS_PASSWORD_MAX_AGE_DAYS)
    return max((expires - now).days, 0)


def default_password_expired(user, now=None) -> bool:
    """A default password that was not replaced in time no longer signs in (2.9.1)."""
    return bool(
        user.must_change_password
        and user.default_password_expires_at is not None
        and user.default_password_expires_at <= (now or timezone.now())
    )


def generate_default_password(length: int = 12) -> str:
    """A random default password that itself passes the policy."""
    from .passwords import password_violations

    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.isdigit() for c in candidate)
            and any(c.isalpha() for c in candidate)
            and not password_violations(candidate)
        ):
            return candidate


def _remember(user):
    """Note that a password was set: when (evidence for A-5) and, for the last N, its hash.

    Older rows lose their hash but stay: they are the record of every password change the
    evidence binder shows for clause 2.9.3.
    """
    PasswordHistory.objects.create(user=user, password=user.password)
    keep = list(
        PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[
            : max(settings.ISMS_PASSWORD_HISTORY, 1)
        ]
    )
    PasswordHistory.objects.filter(user=user).exclude(pk__in=keep).exclude(password="").update(
        password=""
    )


@transaction.atomic
def password_change(user, *, new_password: str, actor=None):
    """The login chooses a new password: validated by every rule, history kept."""
    from django.contrib.auth.password_validation import validate_password

    validate_password(new_password, user)
    user.set_password(new_password)
    user.must_change_password = False
    user.default_password_expires_at = None
    user.password_changed_at = timezone.now()
    with trail.as_actor(actor or user):
        user.save()
    _remember(user)
    return user


def _set_default(user, password):
    user.set_password(password)
    user.must_change_password = True
    user.password_changed_at = timezone.now()
    user.default_password_expires_at = timezone.now() + timedelta(
        days=settings.ISMS_DEFAULT_PASSWORD_VALID_DAYS
    )


@transaction.atomic
def password_set_default(user, *, actor, password: str | None = None) -> str:
    """An administrator sets a default password: it must be changed at first sign-in and
    expires after ISMS_DEFAULT_PASSWORD_VALID_DAYS (2.9.1)."""
    password = password or generate_default_password()
    _set_default(user, password)
    with trail.as_actor(actor):
        user.save()
    _remember(user)
    return password


@transaction.atomic
def user_create(*, actor, username: str, person=None, email: str = "", roles=(), password=None):
    """Create a login with a default password; returns (user, the default password)."""
    user = User(username=username, person=person, email=email or (person.email if person else ""))
    user.full_clean(exclude=["password"])
    password = password or generate_default_password()
    _set_default(user, password)
    with trail.as_actor(actor):
        user.save()
        roles_set(user, roles=roles, actor=actor)
    _remember(user)
    return user, password


@transaction.atomic
def roles_set(user, *, roles, actor):
    """Grant and revoke roles so that the login holds exactly ``roles`` (each change audited)."""
    wanted = set(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise ValidationError({"roles": _("未知的角色：%s") % ", ".join(sorted(unknown))})
    current = set(user.groups.values_list("name", flat=True)) & set(ROLES)
    with trail.as_actor(actor):
        add = Group.objects.filter(name__in=wanted - current)
        remove = Group.objects.filter(name__in=current - wanted)
        if add:
            user.groups.add(*add)
        if remove:
            user.groups.remove(*remove)
    user.__dict__.pop("_isms_roles", None)
    return user


# API tokens ---------------------------------------------------------------------


@transaction.atomic
def token_create(*, user, name: str, actor) -> tuple[ApiToken, str]:
    """A new API key for ``user``; the key itself is returned once and never stored."""
    key = "isms_" + secrets.token_urlsafe(32)
    with trail.as_actor(actor):
        token = ApiToken.objects.create(
            user=user, name=name.strip() or "API", prefix=key[5:13], key_hash=ApiToken.hash_key(key)
        )
    return token, key


@transaction.atomic
def token_revoke(token: ApiToken, *, actor):
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        with trail.as_actor(actor):
            token.save(update_fields=["revoked_at"])
    return token


# Attachments --------------------------------------------------------------------

# Extension → the first bytes such a file must start with (None: checked as text).
ALLOWED_TYPES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
    "odt": (b"PK\x03\x04",),
    "ods": (b"PK\x03\x04",),
    "zip": (b"PK\x03\x04",),
    "txt": None,
    "csv": None,
}


def check_upload(upload) -> tuple[str, str]:
    """Refuse files over the size limit or whose name and content are not an allowed type.

    Returns (extension, sha256). Raises ValidationError with a zh-TW message.
    """
    limit = settings.ISMS_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            _("檔案大小 %(size).1f MB 超過上限 %(limit)d MB。")
            % {"size": upload.size / 1048576, "limit": limit // 1048576},
            code="too_large",
        )
    if upload.size == 0:
        raise ValidationError(_("檔案是空的。"), code="empty")
    name = upload.name or ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_TYPES:
        raise ValidationError(
            _("不接受此檔案類型（.%(ext)s）。可上傳：%(allowed)s。")
            % {"ext": ext or "?", "allowed": "、".join(sorted(ALLOWED_TYPES))},
            code="type",
        )
    upload.seek(0)
    head = upload.read(16)
    signatures = ALLOWED_TYPES[ext]
    if signatures is None:
        upload.seek(0)
        sample = upload.read(65536)
        if b"\x00" in sample:
            raise ValidationError(_("文字檔內容不正確。"), code="content")
    elif not any(head.startswith(sig) for sig in signatures):
        raise ValidationError(_("檔案內容與副檔名 .%(ext)s 不符。") % {"ext": ext}, code="content")
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return ext, digest.hexdigest()


@transaction.atomic
def attachment_add(*, target, upload, description: str = "", actor) -> Attachment:
    """Attach an evidence file to a record, after the size and type checks."""
    ext, sha = check_upload(upload)
    mime = mimetypes.types_map.get(f".{ext}", "application/octet-stream")
    attachment = Attachment(
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        original_name=upload.name[:255],
        size=upload.size,
        mime_type=mime,
        sha256=sha,
        description=description,
        uploaded_by=actor,
    )
    attachment.file.save(upload.name, upload, save=False)
    with trail.as_actor(actor):
        attachment.save()
    return attachment


def attachments_for(obj):
    return Attachment.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("uploaded_by")
