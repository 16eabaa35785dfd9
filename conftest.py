"""Shared fixtures: people in every role, signed-in clients, API clients with tokens."""

import os

import pytest
from django.utils import timezone

os.environ.setdefault("ISMS_DATA_DIR", os.path.join(os.path.dirname(__file__), "var", "test"))


@pytest.fixture(autouse=True)
def _fast_hashing(settings, tmp_path):
    # PBKDF2 at full strength costs ~0.3 s a password; the rules under test don't depend on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ISMS_PROGRESS_DIR = tmp_path / "progress"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.cache import cache

    from isms.assets.services import forget_limits

    cache.clear()
    forget_limits()  # a process-local memo of settings a rolled-back test may have saved


@pytest.fixture
def make_user(db):
    """make_user(username, *roles, person=True) → a login with a current password."""
    from django.contrib.auth.models import Group

    from isms.core.models import Person, User

    def make(username, *roles, person=True, superuser=False, **fields):
        p = Person.objects.create(name=f"測試{username}") if person else None
        user = User.objects.create_user(
            username=username,
            password="Xk7#pq92mv",
            person=p,
            is_superuser=superuser,
            password_changed_at=timezone.now(),
            **fields,
        )
        for role in roles:
            group, _ = Group.objects.get_or_create(name=role)
            user.groups.add(group)
        return user

    return make


@pytest.fixture
def client_for(make_user, client):
    """client_for(*roles) → a Django test client signed in as a new person with those roles."""
    counter = {"n": 0}

    def make(*roles, **kwargs):
        from django.test import Client

        counter["n"] += 1
        user = make_user(f"u{counter['n']}_{'_'.join(roles) or 'none'}"[:60], *roles, **kwargs)
        c = Client()
        c.force_login(user)
        c.user = user
        return c

    return make
