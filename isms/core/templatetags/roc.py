"""ROC calendar filters, loaded as a template builtin: ``{{ d|roc_date }}`` and friends.

Every filter turns None and "" into "", so ``{{ x|roc_datetime|default:"—" }}`` works.
Aware datetimes are shown in the current time zone (Asia/Taipei). Dates the ROC calendar
cannot show (before 1912) fall back to ISO 8601 rather than breaking the page. Values that
are not dates are passed through unchanged.
"""

import datetime as dt
import logging

from django import template
from django.utils import timezone

from isms.core import roc as calendar

register = template.Library()
logger = logging.getLogger(__name__)


def _local(value):
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def _format(value, formatter, style, fallback):
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.date):
        return value
    try:
        return formatter(value, style)
    except ValueError:
        return fallback(_local(value))


def _iso_date(value):
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def _iso_datetime(value):
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
    return value.isoformat()


@register.filter(expects_localtime=True)
def roc_date(value):
    """A date or datetime as ``115/11/28`` (datetimes in Taipei time)."""
    return _format(value, calendar.format_roc, "short", _iso_date)


@register.filter(expects_localtime=True)
def roc_date_long(value):
    """A date or datetime as ``民國115年11月28日`` (datetimes in Taipei time)."""
    return _format(value, calendar.format_roc, "long", _iso_date)


@register.filter(expects_localtime=True)
def roc_datetime(value):
    """A datetime as ``115/11/28 14:05`` in Taipei time; a plain date as ``115/11/28``."""
    return _format(value, calendar.format_roc_datetime, "short", _iso_datetime)


@register.filter(expects_localtime=True)
def school_term(value):
    """The semester of a date under the school's start days, e.g. ``115學年度第1學期``."""
    if value is None or value == "" or not isinstance(value, dt.date):
        return ""
    try:
        return calendar.term_for_school(value).label
    except ValueError:
        logger.warning("School profile has unusable semester start days", exc_info=True)
        return ""


@register.filter
def change_value(value):
    """One side of a change in the trail: 是/否 for a flag, "—" for nothing, a list joined."""
    from django.utils.translation import gettext as _

    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    return value


@register.filter(expects_localtime=True)
def roc_due(value):
    """A deadline as people read it: one that falls at local midnight is shown as the last
    minute of the day before (``115/12/03 23:59``, not ``115/12/04 00:00``)."""
    if isinstance(value, dt.datetime):
        local = _local(value)
        if local.time() == dt.time.min:
            value = local - dt.timedelta(minutes=1)
    return roc_datetime(value)
