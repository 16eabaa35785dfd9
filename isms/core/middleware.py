"""Clause 2.9.1 and A-5: a default or expired password must be changed before anything else."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from . import services

ALLOWED_PREFIXES = ("/static/", "/healthz")


class PasswordPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and services.password_expired(user):
            allowed = {reverse("password_change"), reverse("logout")}
            path = request.path
            if path not in allowed and not path.startswith(ALLOWED_PREFIXES):
                if path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": _("請先變更通行碼（預設通行碼或已逾期）。")}, status=403
                    )
                return redirect(f"{reverse('password_change')}")
        return self.get_response(request)
