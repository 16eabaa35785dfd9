"""Capture every create, change, void and delete of the project's records.

Services and forms save models the ordinary way; these receivers turn each save into
one audit entry. Writes that bypass ``save()`` (``QuerySet.update``, ``bulk_create``)
must call ``trail.record`` themselves.
"""

from axes.signals import user_locked_out
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from . import trail

# Fields whose value changes on every touch; a save that changes only these is not news.
IGNORED_FIELDS = {"updated_at", "last_login", "last_used_at"}
# Secrets: the trail says that they changed, never what they are.
SECRET_FIELDS = {
    "password",
    "key_hash",
    "token_hash",
    # Personal data kept sealed (isms.core.crypto): not even the token goes in the trail.
    "national_id_sealed",
    "national_id_last4",
    "address_sealed",
}
# Personal data that the trail shows masked.
MASKED_FIELDS = {"national_id"}
SECRET_MARK = "（已變更）"
# Models whose own rows are records of events, not records the users keep.
# Obligation states are computed from the records (and recomputed at will), not kept.
EXCLUDED = {
    "audit.auditentry",
    "audit.chainhead",
    "core.passwordhistory",
    "compliance.obligationstate",
    # Sums of readings kept for the charts (recomputable), and refused readings (counted
    # on their sensor; the trail records each ingested batch instead).
    "facilities.rollup",
    "facilities.rejection",
}


def audited(model) -> bool:
    return (
        model.__module__.startswith("isms.")
        and model._meta.label_lower not in EXCLUDED
        and not model._meta.abstract
    )


def _mask(name, value):
    if value in (None, ""):
        return value
    if name in SECRET_FIELDS:
        return SECRET_MARK
    if name in MASKED_FIELDS:
        text = str(value)
        return f"{text[:3]}****{text[-3:]}" if len(text) > 6 else "****"
    return value


def _snapshot(model, values: dict) -> dict:
    return {k: _mask(k, v) for k, v in values.items()}


def _fields(model):
    return [f for f in model._meta.concrete_fields if f.attname not in IGNORED_FIELDS]


def _values(instance) -> dict:
    return {
        f.attname: trail.jsonable(getattr(instance, f.attname)) for f in _fields(type(instance))
    }


def _before(sender, instance, raw=False, **kwargs):
    if raw or not audited(sender):
        return
    if instance._state.adding or instance.pk is None:
        instance._audit_before = None
        return
    names = [f.attname for f in _fields(sender)]
    row = sender._base_manager.filter(pk=instance.pk).values(*names).first()
    instance._audit_before = (
        {k: trail.jsonable(v) for k, v in row.items()} if row is not None else None
    )


def created_changes(instance) -> dict:
    """The ``changes`` of a record's creation entry: every field that has a value."""
    after = _snapshot(type(instance), _values(instance))
    return {k: [None, v] for k, v in after.items() if v not in (None, "")}


def _after(sender, instance, created, raw=False, **kwargs):
    if raw or not audited(sender):
        return
    after = _values(instance)
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        trail.record(trail.Action.CREATE, instance, changes=created_changes(instance))
        return
    diff = {
        k: [_mask(k, before.get(k)), _mask(k, v)] for k, v in after.items() if before.get(k) != v
    }
    instance._audit_before = after
    if not diff:
        return
    action, message = trail.Action.UPDATE, ""
    if "voided_at" in diff and before.get("voided_at") is None and after.get("voided_at"):
        action, message = trail.Action.VOID, getattr(instance, "void_reason", "")
    elif "password" in diff:
        action = trail.Action.PASSWORD_CHANGE
    trail.record(action, instance, changes=diff, message=message)


def _deleted(sender, instance, **kwargs):
    if not audited(sender):
        return
    snapshot = {k: [v, None] for k, v in _snapshot(sender, _values(instance)).items()}
    trail.record(trail.Action.DELETE, instance, changes=snapshot)


def _roles_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in {"post_add", "post_remove", "pre_clear"} or reverse:
        return
    from django.contrib.auth.models import Group

    if action == "pre_clear":
        pk_set = set(instance.groups.values_list("pk", flat=True))
    names = sorted(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    kind = trail.Action.ROLE_GRANT if action == "post_add" else trail.Action.ROLE_REVOKE
    for name in names:
        pair = [None, name] if kind == trail.Action.ROLE_GRANT else [name, None]
        trail.record(kind, instance, changes={"role": pair})


def _related_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A many-to-many field of a record (a system's administrators): who was added or removed.

    Recorded on the record that owns the field, as an update naming the field; from the
    other side (``reverse``) each owning record gets its own entry.
    """
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    field = _M2M_FIELDS.get(sender)
    if field is None:
        return
    if action == "pre_clear":
        if reverse:  # the owning records that hold ``instance``
            current = field.model._base_manager.filter(**{field.name: instance})
        else:
            current = getattr(instance, field.name).all()
        pk_set = set(current.values_list("pk", flat=True))
    if not pk_set:
        return
    added = action == "post_add"
    others = model._base_manager.filter(pk__in=pk_set)
    if not reverse:
        labels = sorted(str(o) for o in others)
        pair = [None, labels] if added else [labels, None]
        trail.record(trail.Action.UPDATE, instance, changes={field.name: pair})
        return
    label = [str(instance)]
    for owner in others:
        pair = [None, label] if added else [label, None]
        trail.record(trail.Action.UPDATE, owner, changes={field.name: pair})


# through model → the many-to-many field of an audited project model
_M2M_FIELDS = {}


def _logged_in(sender, request, user, **kwargs):
    trail.record(trail.Action.LOGIN, user, actor=user)


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        trail.record(trail.Action.LOGOUT, user, actor=user)


def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:64]
    user = get_user_model().objects.filter(username=username).first()
    with trail.bind(actor=None, actor_label=f"anonymous ({username})" if username else ""):
        trail.record(
            trail.Action.LOGIN_FAILED,
            user,
            model_label="core.user",
            object_id=str(user.pk) if user else "",
            object_repr=username,
        )


def _locked_out(sender, request, username=None, ip_address=None, **kwargs):
    user = get_user_model().objects.filter(username=username or "").first()
    with trail.bind(actor=None, actor_label=f"anonymous ({username or ''})"):
        trail.record(
            trail.Action.LOCKOUT,
            user,
            model_label="core.user",
            object_id=str(user.pk) if user else "",
            object_repr=username or "",
            message=ip_address or "",
        )


def connect():
    pre_save.connect(_before, dispatch_uid="audit_before")
    post_save.connect(_after, dispatch_uid="audit_after")
    post_delete.connect(_deleted, dispatch_uid="audit_deleted")
    user_model = apps.get_model("core", "User")
    m2m_changed.connect(_roles_changed, sender=user_model.groups.through, dispatch_uid="roles")
    for model in apps.get_models():
        if not audited(model):
            continue
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if model is user_model and field.name in {"groups", "user_permissions"}:
                continue  # roles have their own actions (ROLE_GRANT / ROLE_REVOKE)
            _M2M_FIELDS[through] = field
            m2m_changed.connect(
                _related_changed, sender=through, dispatch_uid=f"audit_m2m_{through._meta.label}"
            )
    user_logged_in.connect(_logged_in, dispatch_uid="audit_login")
    user_logged_out.connect(_logged_out, dispatch_uid="audit_logout")
    user_login_failed.connect(_login_failed, dispatch_uid="audit_login_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="audit_lockout")
