"""API authentication with per-user tokens: ``Authorization: Token isms_...``."""

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from . import services
from .models import ApiToken


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("API 金鑰格式不正確。"))
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("API 金鑰格式不正確。")) from exc
        token = (
            ApiToken.objects.usable()
            .select_related("user")
            .filter(key_hash=ApiToken.hash_key(key))
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("API 金鑰無效或已撤銷。"))
        if services.password_expired(token.user):
            raise exceptions.PermissionDenied(_("請先登入網站變更通行碼（預設通行碼或已逾期）。"))
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
            # Written at most every five minutes, so API reads stay reads.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
