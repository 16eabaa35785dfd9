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


# Taiwanese identifiers --------------------------------------------------------------------------
# The letter of an ID number (身分證字號 / 居留證號) stands for a two-digit number.
_ID_LETTERS = {c: n for n, c in enumerate("ABCDEFGHJKLMNPQRSTUVXYWZIO", start=10)}


def national_id_ok(value: str) -> bool:
    """A 身分證字號 (A123456789: letter, 1 or 2, eight digits) or a new-style 居留證號
    (A8xxxxxxxx / A9xxxxxxxx), its check digit right (weights 1, 9, 8 … 1)."""
    if not isinstance(value, str) or len(value) != 10:
        return False
    value = value.upper()
    letter, rest = value[0], value[1:]
    if letter not in _ID_LETTERS or not rest.isdigit() or rest[0] not in "1289":
        return False
    code = _ID_LETTERS[letter]
    digits = [code // 10, code % 10, *(int(c) for c in rest)]
    weights = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1]
    return sum(d * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def tax_id_ok(value: str) -> bool:
    """A 統一編號 (eight digits) whose weighted digit sum (1, 2, 1, 2, 1, 2, 4, 1; two-digit
    products added digit by digit) is divisible by 5 (since 2023; by 10 before, still
    valid), or, when the seventh digit is 7, that sum plus one is."""
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        return False
    weights = (1, 2, 1, 2, 1, 2, 4, 1)
    total = 0
    for digit, weight in zip(value, weights, strict=True):
        product = int(digit) * weight
        total += product // 10 + product % 10
    if total % 5 == 0:
        return True
    return value[6] == "7" and (total + 1) % 5 == 0
