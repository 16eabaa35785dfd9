"""Every URL states who may use it: nothing is open by default."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Routes whose access is decided elsewhere, each for a stated reason.
EXEMPT_PREFIXES = (
    "admin/",  # Django admin: superusers only, its own checks
    "api/schema/",  # SERVE_PERMISSIONS = IsAuthenticated
    "api/docs/",  # same
    "static/",
)


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def declared_access(callback):
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if getattr(callback, "isms_public", False) or getattr(view_class, "isms_public", False):
        return "public"
    if view_class is not None and getattr(view_class, "access", None) is not None:
        return "matrix"
    if view_class is not None and isinstance(getattr(view_class, "access", None), property):
        return "matrix"
    register = getattr(view_class, "register", None)
    if register is not None and getattr(register, "access", None) is not None:
        return "matrix"
    return None


def test_every_url_is_covered_by_the_permission_matrix():
    missing = [
        route
        for route, callback in walk(get_resolver().url_patterns)
        if not route.startswith(EXEMPT_PREFIXES) and declared_access(callback) is None
    ]
    assert missing == []


def test_only_sign_in_sign_out_and_health_are_public():
    public = sorted(
        route
        for route, callback in walk(get_resolver().url_patterns)
        if declared_access(callback) == "public"
    )
    assert public == [
        # 7.1 / PDPA art. 17: the inventory's four items for the school website.
        "api/^personal-data-files/public/$",
        "compliance/calendar/<str:key>.ics",  # the secret key in the URL is the credential
        "healthz",
        "i18n/setlang/",
        "login/",
        "logout/",
        "privacy/public/",
        "privacy/public/<int:pk>/",
        "privacy/public/embed/",
    ]


@pytest.mark.django_db
def test_an_api_action_with_a_format_suffix_is_not_found_rather_than_a_crash(client_for):
    from isms.core.roles import SECURITY_OFFICER

    c = client_for(SECURITY_OFFICER)
    response = c.post("/api/people/1/void.json", {"reason": "x"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_signed_in_person_without_roles_is_refused_everywhere_but_their_own_pages(client_for):
    c = client_for()
    assert c.get("/").status_code == 200
    assert c.get("/password/").status_code == 200
    assert c.get("/core/tokens/").status_code == 200
    for url in ("/core/person/", "/core/users/", "/audit/entries/", "/core/school/edit/"):
        assert c.get(url).status_code == 403, url


@pytest.mark.django_db
def test_api_schema_and_docs_need_sign_in(client, client_for):
    assert client.get("/api/schema/").status_code in (401, 403)
    c = client_for()
    schema = c.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/people/" in schema.content and b"/api/password-check/" in schema.content
    docs = c.get("/api/docs/")
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/" in docs.content  # offline, no CDN
