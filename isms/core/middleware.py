"""Clause 2.9.1 and A-5: a default or expired password must be changed before anything else."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from . import services

ALLOWED_PREFIXES = ("/static/", "/healthz")


class LanguageMiddleware:
    """zh-Hant for everyone unless they chose another language (cookie set by /i18n/).

    The browser's Accept-Language is not followed: a teacher whose browser happens to be
    set to English still gets the school's language unless they switch.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import translation

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class PasswordPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and services.password_expired(user):
            allowed = {reverse("password_change"), reverse("logout")}
            # Pages that help choose the new password (the password helper of A-5).
            allowed.update(getattr(settings, "ISMS_PASSWORD_CHANGE_HELP_PATHS", ()))
            path = request.path
            if path not in allowed and not path.startswith(ALLOWED_PREFIXES):
                if path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": _("請先變更通行碼（預設通行碼或已逾期）。")}, status=403
                    )
                return redirect(f"{reverse('password_change')}")
        return self.get_response(request)
