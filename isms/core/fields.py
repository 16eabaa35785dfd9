"""Form fields and widgets that enter and show dates in the ROC (民國) calendar.

``ROCDateField`` takes every form :func:`isms.core.roc.parse_roc_date` accepts (115/11/28,
民國115年11月28日, 1151128, 2026-11-28, …) and shows dates as ``115/11/28``;
``ROCDateTimeField`` takes such a date, a space and a time (``115/11/28 14:05``, ``下午2:05``)
and gives an aware datetime in the current time zone (Asia/Taipei).
"""

import datetime as dt

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import roc

DATE_PLACEHOLDER = "115/11/28"
DATETIME_PLACEHOLDER = "115/11/28 14:05"


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


class ROCDateInput(forms.TextInput):
    """A text box showing a date as ``115/11/28`` (a plain text box: the input needs ``/``)."""

    def __init__(self, attrs=None):
        super().__init__({"placeholder": DATE_PLACEHOLDER, **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, dt.datetime):
            value = _local(value).date()
        if isinstance(value, dt.date):
            try:
                return roc.format_roc(value)
            except ValueError:  # before 1912: show it unambiguously rather than fail
                return value.isoformat()
        return super().format_value(value)


class ROCDateTimeInput(forms.TextInput):
    """A text box showing a datetime as ``115/11/28 14:05`` in the current time zone."""

    supports_microseconds = False

    def __init__(self, attrs=None):
        super().__init__({"placeholder": DATETIME_PLACEHOLDER, **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, dt.datetime):
            value = _local(value)
            try:
                return roc.format_roc_datetime(value, seconds=bool(value.second))
            except ValueError:
                return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
        if isinstance(value, dt.date):
            return ROCDateInput().format_value(value)
        return super().format_value(value)


def _invalid(field: forms.Field, value, exc: ValueError) -> ValidationError:
    """The field's "invalid" error, with the parser's zh-TW explanation as %(reason)s."""
    return ValidationError(
        field.error_messages["invalid"],
        code="invalid",
        params={"reason": str(exc), "value": value},
    )


class ROCDateField(forms.DateField):
    """A date entered in the ROC calendar (or with a 4-digit Western year)."""

    widget = ROCDateInput
    # The parser's own zh-TW message says what is wrong; override with %(value)s if needed.
    default_error_messages = {"invalid": "%(reason)s"}

    def to_python(self, value):
        """The date the text stands for; None when empty; ValidationError ("invalid") if none."""
        if isinstance(value, str):
            value = value.strip()
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return _local(value).date()
        if isinstance(value, dt.date):
            return value
        try:
            return roc.parse_roc_date(value)
        except ValueError as exc:
            raise _invalid(self, value, exc) from None


class ROCDateTimeField(forms.DateTimeField):
    """A date and time entered as ``115/11/28 14:05``; the result is aware (Asia/Taipei)."""

    widget = ROCDateTimeInput
    default_error_messages = {"invalid": "%(reason)s"}

    def to_python(self, value):
        """The aware datetime the text stands for; None when empty; ValidationError if none."""
        if isinstance(value, str):
            value = value.strip()
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return self._aware(value)
        if isinstance(value, dt.date):
            return self._aware(dt.datetime.combine(value, dt.time()))
        try:
            return self._aware(roc.parse_roc_datetime(value))
        except ValueError as exc:
            raise _invalid(self, value, exc) from None

    @staticmethod
    def _aware(value: dt.datetime) -> dt.datetime:
        if settings.USE_TZ and timezone.is_naive(value):
            return timezone.make_aware(value, timezone.get_current_timezone())
        return value
