"""Password validators beside the A-5 rules: no reuse of the last N passwords."""

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class PasswordHistoryValidator:
    """The new password may not be the current one or any of the last N (A-3 注意事項 4)."""

    def validate(self, password, user=None):
        if user is None or user.pk is None:
            return
        count = settings.ISMS_PASSWORD_HISTORY
        hashes = list(user.password_history.values_list("password", flat=True)[:count])
        if user.password and user.has_usable_password():
            hashes.insert(0, user.password)
        if any(check_password(password, h) for h in dict.fromkeys(hashes)):
            raise ValidationError(
                _("不可重複使用最近 %(n)d 次用過的通行碼。（帳號使用注意事項 4）") % {"n": count},
                code="reused",
            )

    def get_help_text(self):
        return _("不可重複使用最近 %(n)d 次用過的通行碼。") % {"n": settings.ISMS_PASSWORD_HISTORY}
