"""Who may do what: one matrix of role × model × action, and one scope per model.

Every view and API endpoint asks ``can()`` (may this person do this action on this kind
of record?) and ``restrict()`` (which of these records may they see?). A record outside
a person's scope is answered with 404, not 403, so its existence does not leak.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from .roles import ALL_ROLES

ACTIONS = ("view", "add", "change", "void", "delete", "export")


@dataclass(frozen=True)
class Access:
    """The roles allowed each action on one kind of record; superusers may do everything."""

    view: frozenset = frozenset()
    add: frozenset = frozenset()
    change: frozenset = frozenset()
    void: frozenset = frozenset()
    delete: frozenset = frozenset()
    export: frozenset | None = None  # defaults to the roles that may view
    # Pages of one's own (password, API keys): any signed-in person, whatever their roles.
    signed_in: bool = False
    # scope(queryset, user, action) -> queryset: narrows what a role sees (else all).
    scope: Callable | None = field(default=None, compare=False)

    def roles(self, action: str) -> frozenset:
        if action == "export" and self.export is None:
            return self.view
        value = getattr(self, action)
        return frozenset(value or ())


def user_roles(user) -> frozenset:
    """The role codes of a person, read once per request and kept on the user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_isms_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(names & ALL_ROLES)
        user._isms_roles = cached
    return cached


def has_role(user, *roles) -> bool:
    return bool(user_roles(user) & set(roles)) or bool(getattr(user, "is_superuser", False))


def can(user, action: str, access: Access) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or access.signed_in:
        return True
    return bool(user_roles(user) & access.roles(action))


def restrict(queryset, user, action: str, access: Access):
    """The records of ``queryset`` this person may act on (empty when not allowed at all)."""
    if not can(user, action, access):
        return queryset.none()
    if access.scope is None or user.is_superuser:
        return queryset
    return access.scope(queryset, user, action)


SIGNED_IN = Access(signed_in=True)


def require(user, action: str, access: Access) -> None:
    if not can(user, action, access):
        raise PermissionDenied


class MatrixPermission(BasePermission):
    """DRF permission: the view's ``access`` and the action it serves decide."""

    method_actions = {
        "GET": "view",
        "HEAD": "view",
        "OPTIONS": "view",
        "POST": "add",
        "PUT": "change",
        "PATCH": "change",
        "DELETE": "delete",
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        access = getattr(view, "access", None)
        if access is None:
            # A view that states no access matrix is closed (nothing is open by default).
            return False
        action = getattr(view, "matrix_action", None) or self.method_actions.get(
            request.method, "change"
        )
        if callable(action):
            action = action(request)
        return can(request.user, action, access)
