"""ROC (民國) calendar dates and Taiwanese school years (學年度) and semesters (學期).

Dates are shown and entered in the ROC calendar: ROC year = Western year − 1911, so
2026-11-28 is 民國115年11月28日, written ``115/11/28``. Only ROC years 1 to 200
(1912-01-01 to 2111-12-31) are accepted as input; 民國前 dates are out of scope.

Accepted input of :func:`parse_roc_date` (after NFKC normalisation, so full-width digits,
``／``, ``－``, ``．`` and the ideographic space work too; surrounding spaces are ignored):

* ``115/11/28``, ``115-11-28``, ``115.11.28`` (one separator used throughout; month and day
  may be written without a leading zero; a 1- to 3-digit first part is an ROC year);
* ``民國115年11月28日``, ``115年11月28日``, ``民國 115 年 11 月 28 日`` (the final 日 may
  be left out);
* compact ROC digits: 7 digits ``1151128`` (YYYMMDD) or 6 digits ``991231`` (YYMMDD, ROC
  years 1 to 99); 8 digits are rejected;
* Western dates with a 4-digit year: ``2026-11-28``, ``2026/11/28``, ``2026.11.28``,
  ``2026年11月28日``.

:func:`parse_roc_datetime` takes any of those, a space (or nothing after 日) and a time:
``14:05``, ``14:05:30``, ``下午2:05`` (上午/中午/下午, AM/PM), ``14時5分`` or ``2點05分30秒``.
Without a time the result is midnight.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

ROC_OFFSET = 1911
MIN_ROC_YEAR = 1
MAX_ROC_YEAR = 200
MIN_DATE = dt.date(MIN_ROC_YEAR + ROC_OFFSET, 1, 1)
MAX_DATE = dt.date(MAX_ROC_YEAR + ROC_OFFSET, 12, 31)

DEFAULT_FIRST_START = (8, 1)
DEFAULT_SECOND_START = (2, 1)

STYLES = ("short", "long", "compact")

_SEPARATED = re.compile(r"(\d{1,4})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{1,2})")
_CHINESE = re.compile(r"(民國)?\s*(\d{1,4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_COMPACT = re.compile(r"\d{6,7}")
_TIME = re.compile(
    r"(?P<meridiem>上午|下午|中午|AM|PM)?\s*"
    r"(?P<hour>\d{1,2})\s*(?::|時|點)\s*(?P<minute>\d{1,2})"
    r"(?:\s*:\s*(?P<second>\d{1,2})|\s*分(?:\s*(?P<second_cjk>\d{1,2})\s*秒)?)?",
    re.IGNORECASE,
)


def roc_year(d: dt.date) -> int:
    """The ROC year of a date (Western year − 1911); 0 or less for dates before 1912."""
    return d.year - ROC_OFFSET


def _local(value: dt.date) -> dt.date:
    """An aware datetime in the current time zone (Asia/Taipei); other values unchanged."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def format_roc(d: dt.date, style: str = "short") -> str:
    """A date in the ROC calendar: ``115/11/28``, ``民國115年11月28日`` or ``1151128``."""
    d = _local(d)
    year = roc_year(d)
    if year < MIN_ROC_YEAR:
        raise ValueError(_("民國元年（1912 年）以前的日期無法以民國紀年表示。"))
    if style == "short":
        return f"{year}/{d.month:02d}/{d.day:02d}"
    if style == "long":
        return _("民國%(year)d年%(month)d月%(day)d日") % {
            "year": year,
            "month": d.month,
            "day": d.day,
        }
    if style == "compact":
        return f"{year:03d}{d.month:02d}{d.day:02d}"
    raise ValueError(f"unknown style {style!r}; expected one of {', '.join(STYLES)}")


def format_roc_datetime(value: dt.date, style: str = "short", *, seconds: bool = False) -> str:
    """A datetime in Taipei time as ``115/11/28 14:05`` or ``民國115年11月28日 14:05``."""
    if not isinstance(value, dt.datetime):
        return format_roc(value, style)
    value = _local(value)
    clock = f"{value.hour:02d}:{value.minute:02d}"
    if seconds:
        clock += f":{value.second:02d}"
    return f"{format_roc(value.date(), style)} {clock}"


def _normalise(text: str) -> str:
    """Full-width digits and punctuation to ASCII, runs of spaces to one, ends trimmed."""
    text = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"\s+", " ", text).strip()


class _Unrecognised(ValueError):
    """Text that is no date at all (rather than an impossible or out-of-range one)."""


def _unrecognised(text: str) -> ValueError:
    return _Unrecognised(
        _("無法辨識的日期「%(value)s」，請以民國年輸入，例如 115/11/28。") % {"value": text}
    )


def _build(year: int, month: int, day: int, *, western: bool) -> dt.date:
    """The date of an ROC (or Western) year, month and day, checked against the range."""
    roc = year - ROC_OFFSET if western else year
    if not MIN_ROC_YEAR <= roc <= MAX_ROC_YEAR:
        if western:
            raise ValueError(
                _("西元年須介於 %(min)d 至 %(max)d 年之間。")
                % {"min": MIN_DATE.year, "max": MAX_DATE.year}
            )
        raise ValueError(
            _("民國年須介於 %(min)d 至 %(max)d 年之間。")
            % {"min": MIN_ROC_YEAR, "max": MAX_ROC_YEAR}
        )
    try:
        return dt.date(roc + ROC_OFFSET, month, day)
    except ValueError:
        raise ValueError(
            _("日期不存在：民國%(year)d年%(month)d月%(day)d日。")
            % {"year": roc, "month": month, "day": day}
        ) from None


def parse_roc_date(text: str) -> dt.date:
    """Parse an ROC (or 4-digit-year Western) date; ValueError with a zh-TW message if not."""
    original = "" if text is None else str(text).strip()
    s = _normalise(original)
    if not s:
        raise ValueError(_("請輸入日期。"))
    if s.startswith("民國前"):
        raise ValueError(_("不支援民國前的日期。"))
    if m := _SEPARATED.fullmatch(s):
        year, _sep, month, day = m.groups()
        return _build(int(year), int(month), int(day), western=len(year) == 4)
    if m := _CHINESE.fullmatch(s):
        prefix, year, month, day = m.groups()
        if prefix and len(year) == 4:
            raise _unrecognised(original)
        return _build(int(year), int(month), int(day), western=len(year) == 4)
    if _COMPACT.fullmatch(s):
        return _build(int(s[:-4]), int(s[-4:-2]), int(s[-2:]), western=False)
    raise _unrecognised(original)


def _parse_time(text: str) -> dt.time | None:
    """``14:05``, ``14:05:30``, ``下午2:05``, ``14時5分``; None when the text is not a time."""
    m = _TIME.fullmatch(text)
    if not m:
        return None
    hour, minute = int(m["hour"]), int(m["minute"])
    second = int(m["second"] or m["second_cjk"] or 0)
    meridiem = (m["meridiem"] or "").upper()
    if meridiem:
        if hour > 12:
            return None
        if meridiem in ("上午", "AM"):
            hour %= 12
        elif meridiem in ("下午", "PM"):
            hour = hour % 12 + 12
        elif hour < 11:  # 中午: 11 and 12 as they are, 1 (o'clock) means 13
            hour += 12
    if hour > 23 or minute > 59 or second > 59:
        return None
    return dt.time(hour, minute, second)


def parse_roc_datetime(text: str) -> dt.datetime:
    """Parse ``115/11/28 14:05`` (any date form, space, time) into a naive datetime."""
    original = "" if text is None else str(text).strip()
    s = _normalise(original)
    if not s:
        raise ValueError(_("請輸入日期與時間。"))
    # The time is the longest tail, starting after a space or 日, shaped like a time.
    for i in range(1, len(s)):
        if s[i - 1] in " 日" and _TIME.fullmatch(s[i:].strip()):
            clock = _parse_time(s[i:].strip())
            if clock is None:
                raise ValueError(
                    _("時間「%(value)s」不存在，請以 24 小時制輸入，例如 14:05。")
                    % {"value": s[i:].strip()}
                )
            return dt.datetime.combine(parse_roc_date(s[:i]), clock)
    try:
        return dt.datetime.combine(parse_roc_date(s), dt.time())
    except _Unrecognised:
        raise ValueError(
            _("無法辨識的日期時間「%(value)s」，請依此格式輸入：115/11/28 14:05。")
            % {"value": original}
        ) from None


# --- School years (學年度) and semesters (學期) ------------------------------------------


def _on(year: int, month_day: tuple[int, int]) -> dt.date:
    """Month/day in a year; a day past the month's end (2/29 off leap years) is clamped."""
    month, day = month_day
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def validate_term_starts(first_start: tuple[int, int], second_start: tuple[int, int]) -> None:
    """Check semester start days (month, day); ValueError with a zh-TW message if unusable."""
    for month, day in (first_start, second_start):
        if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
            raise ValueError(
                _("學期開始日 %(month)s/%(day)s 不存在。") % {"month": month, "day": day}
            )
    # Compare in a common year, so that 2/28 and 2/29 cannot leave an empty semester.
    if not _on(2001, second_start) < _on(2001, first_start):
        raise ValueError(_("第 2 學期開始日須早於第 1 學期開始日（以月/日比較）。"))


@dataclass(frozen=True)
class SchoolTerm:
    """One semester: 學年度 (ROC), 學期 (1 or 2) and its first and last (inclusive) days."""

    school_year: int
    semester: int
    start: dt.date
    end: dt.date
    first_start: tuple[int, int] = field(default=DEFAULT_FIRST_START, repr=False, compare=False)
    second_start: tuple[int, int] = field(default=DEFAULT_SECOND_START, repr=False, compare=False)

    @property
    def label(self) -> str:
        """The term as people write it, e.g. ``115學年度第1學期``."""
        return _("%(year)d學年度第%(semester)d學期") % {
            "year": self.school_year,
            "semester": self.semester,
        }

    def __str__(self) -> str:
        return self.label

    def __contains__(self, d: dt.date) -> bool:
        d = _local(d)
        if isinstance(d, dt.datetime):
            d = d.date()
        return self.start <= d <= self.end

    def next(self) -> SchoolTerm:
        """The semester after this one, under the same start days."""
        return school_term(
            self.end + dt.timedelta(days=1),
            first_start=self.first_start,
            second_start=self.second_start,
        )

    def previous(self) -> SchoolTerm:
        """The semester before this one, under the same start days."""
        return school_term(
            self.start - dt.timedelta(days=1),
            first_start=self.first_start,
            second_start=self.second_start,
        )


def school_term(
    d: dt.date,
    *,
    first_start: tuple[int, int] = DEFAULT_FIRST_START,
    second_start: tuple[int, int] = DEFAULT_SECOND_START,
) -> SchoolTerm:
    """The semester a date falls in, given the (month, day) each semester starts on.

    1. Check the start days: both must exist (2/29 allowed) and the 2nd semester's month/day
       must come before the 1st semester's in the calendar year.
    2. Find this Western year's start days F (1st semester) and S (2nd semester); a day past
       the end of its month (2/29 in a common year) is clamped to the month's last day.
    3. On or after F: 1st semester of school year roc(Y), from F to the day before S of Y+1.
    4. Otherwise on or after S: 2nd semester of school year roc(Y−1), from S to the day
       before F.
    5. Otherwise (before S): 1st semester of school year roc(Y−1), from F of Y−1 to the day
       before S.
    """
    validate_term_starts(first_start, second_start)
    d = _local(d)
    if isinstance(d, dt.datetime):
        d = d.date()
    year = d.year
    first, second = _on(year, first_start), _on(year, second_start)
    one_day = dt.timedelta(days=1)
    if d >= first:
        school_year, semester = year - ROC_OFFSET, 1
        start, end = first, _on(year + 1, second_start) - one_day
    elif d >= second:
        school_year, semester = year - 1 - ROC_OFFSET, 2
        start, end = second, first - one_day
    else:
        school_year, semester = year - 1 - ROC_OFFSET, 1
        start, end = _on(year - 1, first_start), second - one_day
    return SchoolTerm(school_year, semester, start, end, first_start, second_start)


def school_year_range(
    school_year: int,
    *,
    first_start: tuple[int, int] = DEFAULT_FIRST_START,
    second_start: tuple[int, int] = DEFAULT_SECOND_START,
) -> tuple[dt.date, dt.date]:
    """First and last (inclusive) day of a school year (學年度, ROC)."""
    validate_term_starts(first_start, second_start)
    year = school_year + ROC_OFFSET
    return _on(year, first_start), _on(year + 1, first_start) - dt.timedelta(days=1)


def profile_term_starts(profile) -> dict[str, tuple[int, int]]:
    """The ``first_start``/``second_start`` keyword arguments from a SchoolProfile."""
    return {
        "first_start": (profile.first_semester_start_month, profile.first_semester_start_day),
        "second_start": (profile.second_semester_start_month, profile.second_semester_start_day),
    }


def term_for_school(d: dt.date | None = None, profile=None) -> SchoolTerm:
    """The semester of a date (default: today in Taipei) under the school's start days."""
    if profile is None:
        from isms.core.models import SchoolProfile

        profile = SchoolProfile.load()
    if d is None:
        d = timezone.localdate()
    return school_term(d, **profile_term_starts(profile))
