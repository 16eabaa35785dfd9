"""ROC calendar: formatting, parsing, school years and semesters, and the template filters."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.template import Context, Template
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from isms.core import roc

UTC = dt.UTC
TAIPEI = ZoneInfo("Asia/Taipei")
D = dt.date

roc_dates = st.dates(min_value=D(1912, 1, 1), max_value=D(2111, 12, 31))
FULL_WIDTH = str.maketrans("0123456789/-. ", "０１２３４５６７８９／－．　")


def term_of(d, **kwargs):
    t = roc.school_term(d, **kwargs)
    return t.school_year, t.semester


# --- Formatting -----------------------------------------------------------------------


def test_roc_year_is_western_year_minus_1911():
    assert roc.roc_year(D(2026, 11, 28)) == 115
    assert roc.roc_year(D(1912, 1, 1)) == 1
    assert roc.roc_year(D(2011, 12, 31)) == 100


@pytest.mark.parametrize(
    ("d", "short", "long", "compact"),
    [
        (D(2026, 11, 28), "115/11/28", "民國115年11月28日", "1151128"),
        (D(2010, 1, 5), "99/01/05", "民國99年1月5日", "0990105"),
        (D(1912, 1, 1), "1/01/01", "民國1年1月1日", "0010101"),
        (D(1921, 10, 10), "10/10/10", "民國10年10月10日", "0101010"),
        (D(2111, 12, 31), "200/12/31", "民國200年12月31日", "2001231"),
    ],
)
def test_format_roc_styles(d, short, long, compact):
    assert roc.format_roc(d) == short
    assert roc.format_roc(d, "short") == short
    assert roc.format_roc(d, style="long") == long
    assert roc.format_roc(d, style="compact") == compact


def test_format_roc_rejects_dates_before_the_roc_and_unknown_styles():
    with pytest.raises(ValueError, match="民國元年"):
        roc.format_roc(D(1911, 12, 31))
    with pytest.raises(ValueError, match="style"):
        roc.format_roc(D(2026, 11, 28), style="iso")


def test_format_roc_of_an_aware_datetime_uses_the_taipei_date():
    assert roc.format_roc(dt.datetime(2026, 11, 28, 17, 30, tzinfo=UTC)) == "115/11/29"
    assert roc.format_roc(dt.datetime(2026, 11, 28, 15, 59, tzinfo=UTC)) == "115/11/28"


def test_format_roc_datetime_converts_to_taipei():
    late_utc = dt.datetime(2026, 11, 28, 17, 30, tzinfo=UTC)
    assert roc.format_roc_datetime(late_utc) == "115/11/29 01:30"
    assert roc.format_roc_datetime(late_utc, style="long") == "民國115年11月29日 01:30"
    assert roc.format_roc_datetime(late_utc, seconds=True) == "115/11/29 01:30:00"
    assert roc.format_roc_datetime(dt.datetime(2026, 11, 28, 14, 5, tzinfo=TAIPEI)) == (
        "115/11/28 14:05"
    )


def test_format_roc_datetime_leaves_naive_datetimes_and_dates_alone():
    assert roc.format_roc_datetime(dt.datetime(2026, 11, 28, 14, 5, 9)) == "115/11/28 14:05"
    assert roc.format_roc_datetime(dt.datetime(2010, 1, 5, 9, 0), "long") == (
        "民國99年1月5日 09:00"
    )
    assert roc.format_roc_datetime(D(2026, 11, 28)) == "115/11/28"


# --- Round trips ----------------------------------------------------------------------


@given(roc_dates, st.sampled_from(roc.STYLES))
def test_every_style_round_trips(d, style):
    assert roc.parse_roc_date(roc.format_roc(d, style)) == d


@given(roc_dates, st.sampled_from(roc.STYLES))
def test_full_width_text_round_trips(d, style):
    assert roc.parse_roc_date(roc.format_roc(d, style).translate(FULL_WIDTH)) == d


@given(roc_dates, st.sampled_from(["-", "/", "."]))
def test_western_dates_with_a_four_digit_year_parse(d, sep):
    assert roc.parse_roc_date(d.strftime(f"%Y{sep}%m{sep}%d")) == d


@given(roc_dates, st.sampled_from(["/", "-", "."]))
def test_unpadded_month_and_day_parse(d, sep):
    assert roc.parse_roc_date(f"{roc.roc_year(d)}{sep}{d.month}{sep}{d.day}") == d


@given(
    st.datetimes(min_value=dt.datetime(1912, 1, 1), max_value=dt.datetime(2111, 12, 31, 23, 59)),
    st.sampled_from(["short", "long"]),
)
def test_datetimes_round_trip_to_the_second(value, style):
    value = value.replace(microsecond=0)
    text = roc.format_roc_datetime(value, style, seconds=True)
    assert roc.parse_roc_datetime(text) == value
    assert roc.parse_roc_datetime(roc.format_roc_datetime(value, style)) == value.replace(second=0)


# --- Parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "115/11/28",
        "115-11-28",
        "115.11.28",
        "115/11/28 ",
        "  115/11/28",
        "115 / 11 / 28",
        "民國115年11月28日",
        "115年11月28日",
        "民國 115 年 11 月 28 日",
        "民國115年11月28",
        "1151128",
        "2026-11-28",
        "2026/11/28",
        "2026.11.28",
        "2026年11月28日",
        "１１５／１１／２８",
        "１１５－１１－２８",
        "１１５．１１．２８",
        "　民國１１５年１１月２８日　",
        "１１５１１２８",
    ],
)
def test_accepted_forms(text):
    assert roc.parse_roc_date(text) == D(2026, 11, 28)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("99/1/5", D(2010, 1, 5)),
        ("099/01/05", D(2010, 1, 5)),
        ("990105", D(2010, 1, 5)),
        ("0990105", D(2010, 1, 5)),
        ("991231", D(2010, 12, 31)),
        ("1/1/1", D(1912, 1, 1)),
        ("010101", D(1912, 1, 1)),
        ("200/12/31", D(2111, 12, 31)),
        ("113/02/29", D(2024, 2, 29)),
        ("1912-01-01", D(1912, 1, 1)),
        ("2111-12-31", D(2111, 12, 31)),
    ],
)
def test_short_years_compact_digits_and_range_ends(text, expected):
    assert roc.parse_roc_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("115/02/30", "日期不存在：民國115年2月30日。"),
        ("114/02/29", "日期不存在：民國114年2月29日。"),
        ("115/13/01", "日期不存在：民國115年13月1日。"),
        ("115/00/10", "日期不存在：民國115年0月10日。"),
        ("1150230", "日期不存在：民國115年2月30日。"),
        ("民國115年4月31日", "日期不存在：民國115年4月31日。"),
        ("0/01/01", "民國年須介於 1 至 200 年之間。"),
        ("0000101", "民國年須介於 1 至 200 年之間。"),
        ("民國0年1月1日", "民國年須介於 1 至 200 年之間。"),
        ("201/01/01", "民國年須介於 1 至 200 年之間。"),
        ("999/01/01", "民國年須介於 1 至 200 年之間。"),
        ("1911-12-31", "西元年須介於 1912 至 2111 年之間。"),
        ("2112-01-01", "西元年須介於 1912 至 2111 年之間。"),
        ("民國前1年1月1日", "不支援民國前的日期。"),
        ("", "請輸入日期。"),
        ("   ", "請輸入日期。"),
        ("-1/01/01", "無法辨識的日期「-1/01/01」"),
        ("abc", "無法辨識的日期「abc」，請以民國年輸入，例如 115/11/28。"),
        ("115/11-28", "無法辨識的日期"),
        ("115/11", "無法辨識的日期"),
        ("20261128", "無法辨識的日期"),
        ("12345", "無法辨識的日期"),
        ("11511280", "無法辨識的日期"),
        ("民國2026年11月28日", "無法辨識的日期"),
        ("115/11/28 14:05", "無法辨識的日期"),
        ("11月28日", "無法辨識的日期"),
        ("115/11/28/1", "無法辨識的日期"),
    ],
)
def test_rejected_input_explains_in_traditional_chinese(text, message):
    with pytest.raises(ValueError) as info:
        roc.parse_roc_date(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("115/11/28 14:05", dt.datetime(2026, 11, 28, 14, 5)),
        ("115/11/28 14:05:30", dt.datetime(2026, 11, 28, 14, 5, 30)),
        ("115/11/28  9:5", dt.datetime(2026, 11, 28, 9, 5)),
        ("115/11/28 下午2:05", dt.datetime(2026, 11, 28, 14, 5)),
        ("115/11/28 下午 2:05", dt.datetime(2026, 11, 28, 14, 5)),
        ("115/11/28 上午12:05", dt.datetime(2026, 11, 28, 0, 5)),
        ("115/11/28 下午12:05", dt.datetime(2026, 11, 28, 12, 5)),
        ("115/11/28 中午12:30", dt.datetime(2026, 11, 28, 12, 30)),
        ("115/11/28 中午1:00", dt.datetime(2026, 11, 28, 13, 0)),
        ("115/11/28 PM 2:05", dt.datetime(2026, 11, 28, 14, 5)),
        ("民國115年11月28日 14:05", dt.datetime(2026, 11, 28, 14, 5)),
        ("民國115年11月28日14時5分", dt.datetime(2026, 11, 28, 14, 5)),
        ("民國 115 年 11 月 28 日 下午2時5分30秒", dt.datetime(2026, 11, 28, 14, 5, 30)),
        ("115/11/28 2點05分", dt.datetime(2026, 11, 28, 2, 5)),
        ("2026-11-28 14:05", dt.datetime(2026, 11, 28, 14, 5)),
        ("１１５／１１／２８　１４：０５", dt.datetime(2026, 11, 28, 14, 5)),
        ("115/11/28", dt.datetime(2026, 11, 28, 0, 0)),
        ("1151128", dt.datetime(2026, 11, 28, 0, 0)),
    ],
)
def test_datetime_forms(text, expected):
    assert roc.parse_roc_datetime(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("115/02/30 14:05", "日期不存在：民國115年2月30日。"),
        ("115/02/30 下午 2:05", "日期不存在：民國115年2月30日。"),
        ("201/01/01 14:05", "民國年須介於 1 至 200 年之間。"),
        ("115/11/28 24:00", "時間「24:00」不存在"),
        ("115/11/28 14:60", "時間「14:60」不存在"),
        ("115/11/28 下午13:00", "時間「下午13:00」不存在"),
        ("115/11/28 abc", "無法辨識的日期時間「115/11/28 abc」，請依此格式輸入：115/11/28 14:05。"),
        ("115/11/28 14:05pm", "無法辨識的日期時間"),
        ("115/11/2814:05", "無法辨識的日期時間"),
        ("14:05", "無法辨識的日期時間"),
        ("", "請輸入日期與時間。"),
    ],
)
def test_rejected_datetimes(text, message):
    with pytest.raises(ValueError) as info:
        roc.parse_roc_datetime(text)
    assert message in str(info.value)


# --- School years and semesters -------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (D(2026, 1, 1), (114, 1)),
        (D(2026, 1, 31), (114, 1)),
        (D(2026, 2, 1), (114, 2)),
        (D(2026, 7, 31), (114, 2)),
        (D(2026, 8, 1), (115, 1)),
        (D(2026, 8, 15), (115, 1)),
        (D(2026, 12, 31), (115, 1)),
        (D(2027, 1, 1), (115, 1)),
        (D(2027, 1, 15), (115, 1)),
        (D(2027, 1, 31), (115, 1)),
        (D(2027, 2, 1), (115, 2)),
        (D(2027, 7, 31), (115, 2)),
        (D(2027, 8, 1), (116, 1)),
        (D(2024, 2, 29), (112, 2)),
        (D(2024, 2, 28), (112, 2)),
        (D(1912, 8, 1), (1, 1)),
    ],
)
def test_default_semesters(d, expected):
    assert term_of(d) == expected


def test_january_belongs_to_the_school_year_begun_the_august_before():
    august, january = roc.school_term(D(2026, 8, 20)), roc.school_term(D(2027, 1, 20))
    assert august == january
    assert august.school_year == roc.roc_year(D(2026, 8, 20)) == 115
    assert january.school_year == roc.roc_year(D(2027, 1, 20)) - 1


def test_term_dates_and_label():
    first = roc.school_term(D(2026, 11, 28))
    assert (first.school_year, first.semester) == (115, 1)
    assert (first.start, first.end) == (D(2026, 8, 1), D(2027, 1, 31))
    assert first.label == str(first) == "115學年度第1學期"
    second = roc.school_term(D(2027, 3, 1))
    assert (second.start, second.end) == (D(2027, 2, 1), D(2027, 7, 31))
    assert second.label == "115學年度第2學期"
    assert D(2026, 8, 1) in first and D(2027, 1, 31) in first and D(2027, 2, 1) not in first
    # 2027-01-31 16:30 UTC is already 2/1 in Taipei.
    assert dt.datetime(2027, 1, 31, 16, 30, tzinfo=UTC) not in first
    assert dt.datetime(2027, 1, 31, 15, 30, tzinfo=UTC) in first


def test_leap_years_end_the_first_semester_on_january_31_and_keep_february_29():
    first = roc.school_term(D(2023, 9, 1))
    assert (first.start, first.end) == (D(2023, 8, 1), D(2024, 1, 31))
    second = first.next()
    assert (second.start, second.end) == (D(2024, 2, 1), D(2024, 7, 31))
    assert D(2024, 2, 29) in second


def test_next_and_previous_walk_the_terms():
    term = roc.school_term(D(2026, 11, 28))
    nxt = term.next()
    assert (nxt.school_year, nxt.semester, nxt.start) == (115, 2, D(2027, 2, 1))
    assert (nxt.next().school_year, nxt.next().semester) == (116, 1)
    prev = term.previous()
    assert (prev.school_year, prev.semester, prev.end) == (114, 2, D(2026, 7, 31))
    assert term.next().previous() == term == term.previous().next()


CUSTOM = {"first_start": (9, 1), "second_start": (2, 15)}


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (D(2026, 8, 31), (114, 2)),
        (D(2026, 9, 1), (115, 1)),
        (D(2027, 2, 14), (115, 1)),
        (D(2027, 2, 15), (115, 2)),
        (D(2027, 1, 31), (115, 1)),
        (D(2027, 2, 1), (115, 1)),
        (D(2027, 8, 1), (115, 2)),
        (D(2027, 8, 31), (115, 2)),
        (D(2027, 9, 1), (116, 1)),
    ],
)
def test_custom_start_days(d, expected):
    assert term_of(d, **CUSTOM) == expected


def test_custom_start_days_give_the_term_limits():
    term = roc.school_term(D(2026, 12, 1), **CUSTOM)
    assert (term.start, term.end) == (D(2026, 9, 1), D(2027, 2, 14))
    assert (term.next().start, term.next().end) == (D(2027, 2, 15), D(2027, 8, 31))
    assert roc.school_year_range(115, **CUSTOM) == (D(2026, 9, 1), D(2027, 8, 31))


def test_february_29_is_clamped_to_february_28_in_common_years():
    starts = {"second_start": (2, 29)}
    # 2027 is a common year: the 2nd semester starts on 2/28.
    assert term_of(D(2027, 2, 27), **starts) == (115, 1)
    assert term_of(D(2027, 2, 28), **starts) == (115, 2)
    assert roc.school_term(D(2026, 9, 1), **starts).end == D(2027, 2, 27)
    # 2028 is a leap year: it starts on 2/29.
    assert term_of(D(2028, 2, 28), **starts) == (116, 1)
    assert term_of(D(2028, 2, 29), **starts) == (116, 2)
    assert roc.school_term(D(2027, 9, 1), **starts).end == D(2028, 2, 28)
    assert roc.school_term(D(2028, 3, 1), **starts).start == D(2028, 2, 29)


@pytest.mark.parametrize(
    ("first_start", "second_start", "message"),
    [
        ((2, 1), (8, 1), "第 2 學期開始日須早於第 1 學期開始日"),
        ((8, 1), (8, 1), "第 2 學期開始日須早於第 1 學期開始日"),
        ((8, 1), (8, 2), "第 2 學期開始日須早於第 1 學期開始日"),
        ((2, 29), (2, 28), "第 2 學期開始日須早於第 1 學期開始日"),
        ((8, 1), (2, 30), "學期開始日 2/30 不存在"),
        ((4, 31), (2, 1), "學期開始日 4/31 不存在"),
        ((13, 1), (2, 1), "學期開始日 13/1 不存在"),
        ((8, 0), (2, 1), "學期開始日 8/0 不存在"),
        ((8, 1), (0, 1), "學期開始日 0/1 不存在"),
    ],
)
def test_unusable_start_days_are_rejected(first_start, second_start, message):
    with pytest.raises(ValueError, match=message):
        roc.school_term(D(2026, 11, 28), first_start=first_start, second_start=second_start)
    with pytest.raises(ValueError, match=message):
        roc.school_year_range(115, first_start=first_start, second_start=second_start)


def test_school_year_range():
    assert roc.school_year_range(115) == (D(2026, 8, 1), D(2027, 7, 31))
    assert roc.school_year_range(112) == (D(2023, 8, 1), D(2024, 7, 31))
    assert roc.school_year_range(1) == (D(1912, 8, 1), D(1913, 7, 31))


@st.composite
def term_starts(draw):
    """Any usable pair of start days, 2nd semester earlier in the year than the 1st."""
    days = st.tuples(st.integers(1, 12), st.integers(1, 29))
    a, b = draw(days), draw(days)
    if a == b or ((2, 28) in (a, b) and (2, 29) in (a, b)):
        a, b = (2, 1), (8, 1)
    second, first = sorted([a, b])
    return {"first_start": first, "second_start": second}


@given(roc_dates, term_starts())
def test_terms_tile_the_calendar(d, starts):
    term = roc.school_term(d, **starts)
    assert term.start <= d <= term.end
    assert term.semester in (1, 2)
    nxt, prev = term.next(), term.previous()
    assert nxt.start == term.end + dt.timedelta(days=1)
    assert prev.end == term.start - dt.timedelta(days=1)
    assert {nxt.semester, prev.semester} == {3 - term.semester}
    if term.semester == 1:
        assert (nxt.school_year, prev.school_year) == (term.school_year, term.school_year - 1)
        assert term.school_year == roc.roc_year(term.start)
        assert roc.school_year_range(term.school_year, **starts) == (term.start, nxt.end)
    else:
        assert (nxt.school_year, prev.school_year) == (term.school_year + 1, term.school_year)
        assert roc.school_year_range(term.school_year, **starts) == (prev.start, term.end)
    assert term.label == f"{term.school_year}學年度第{term.semester}學期"


def test_term_of_an_aware_datetime_uses_the_taipei_date():
    # 2026-07-31 16:30 UTC is 2026-08-01 00:30 in Taipei: the new school year.
    assert term_of(dt.datetime(2026, 7, 31, 16, 30, tzinfo=UTC)) == (115, 1)
    assert term_of(dt.datetime(2026, 7, 31, 15, 59, tzinfo=UTC)) == (114, 2)


def test_term_for_school_uses_the_given_profile():
    profile = SimpleNamespace(
        first_semester_start_month=9,
        first_semester_start_day=1,
        second_semester_start_month=2,
        second_semester_start_day=15,
    )
    term = roc.term_for_school(D(2026, 8, 31), profile)
    assert term.label == "114學年度第2學期"
    assert term.end == D(2026, 8, 31)
    assert term.next().first_start == (9, 1)


@pytest.mark.django_db
def test_term_for_school_reads_the_school_profile():
    from isms.core.models import SchoolProfile

    assert roc.term_for_school(D(2026, 8, 31)).label == "115學年度第1學期"
    profile = SchoolProfile.load()
    profile.first_semester_start_month, profile.first_semester_start_day = 9, 1
    profile.second_semester_start_month, profile.second_semester_start_day = 2, 15
    profile.save()
    assert roc.term_for_school(D(2026, 8, 31)).label == "114學年度第2學期"
    assert roc.term_for_school(D(2026, 9, 1)).label == "115學年度第1學期"


@pytest.mark.django_db
def test_term_for_school_defaults_to_today_in_taipei():
    # 2026-07-31 16:30 UTC is already 8/1 in Taipei.
    with time_machine.travel(dt.datetime(2026, 7, 31, 16, 30, tzinfo=UTC), tick=False):
        assert roc.term_for_school().label == "115學年度第1學期"
    with time_machine.travel(dt.datetime(2026, 7, 31, 15, 30, tzinfo=UTC), tick=False):
        assert roc.term_for_school().label == "114學年度第2學期"


# --- Template filters -----------------------------------------------------------------


def render(source, **context):
    return Template(source).render(Context(context))


LATE_UTC = dt.datetime(2026, 11, 28, 17, 30, tzinfo=UTC)
LOCALTIME_OFF = "{% load tz %}{% localtime off %}{{ d|roc_datetime }}{% endlocaltime %}"


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ d|roc_date }}", D(2026, 11, 28), "115/11/28"),
        ("{{ d|roc_date }}", D(2010, 1, 5), "99/01/05"),
        ("{{ d|roc_date }}", LATE_UTC, "115/11/29"),
        ("{{ d|roc_date_long }}", D(2026, 11, 28), "民國115年11月28日"),
        ("{{ d|roc_date_long }}", LATE_UTC, "民國115年11月29日"),
        ("{{ d|roc_datetime }}", LATE_UTC, "115/11/29 01:30"),
        (
            "{{ d|roc_datetime }}",
            dt.datetime(2026, 11, 28, 14, 5, tzinfo=TAIPEI),
            "115/11/28 14:05",
        ),
        ("{{ d|roc_datetime }}", D(2026, 11, 28), "115/11/28"),
        (LOCALTIME_OFF, LATE_UTC, "115/11/29 01:30"),
    ],
)
def test_filters_render_roc_dates_in_taipei_time(source, value, expected):
    assert render(source, d=value) == expected


@pytest.mark.parametrize("name", ["roc_date", "roc_date_long", "roc_datetime", "school_term"])
@pytest.mark.parametrize("value", [None, ""])
def test_filters_turn_nothing_into_empty_text_without_touching_the_database(name, value):
    assert render(f"{{{{ d|{name} }}}}", d=value) == ""
    assert render(f'{{{{ d|{name}|default:"—" }}}}', d=value) == "—"
    assert render(f"{{{{ missing|{name} }}}}") == ""


def test_filters_fall_back_to_iso_before_1912_and_pass_other_values_through():
    assert render("{{ d|roc_date }}", d=D(1900, 1, 2)) == "1900-01-02"
    assert render("{{ d|roc_datetime }}", d=dt.datetime(1900, 1, 2, 3, 4)) == "1900-01-02 03:04"
    assert render("{{ d|roc_date }}", d="115/11/28") == "115/11/28"


def test_filters_can_be_called_from_python():
    from isms.core.templatetags import roc as filters

    assert filters.roc_date(LATE_UTC) == "115/11/29"
    assert filters.roc_datetime(LATE_UTC) == "115/11/29 01:30"


@pytest.mark.django_db
def test_school_term_filter_uses_the_school_profile():
    from isms.core.models import SchoolProfile

    assert render("{{ d|school_term }}", d=D(2026, 11, 28)) == "115學年度第1學期"
    assert render("{{ d|school_term }}", d=D(2026, 7, 31)) == "114學年度第2學期"
    # 2026-07-31 17:30 UTC is 8/1 in Taipei.
    assert render("{{ d|school_term }}", d=dt.datetime(2026, 7, 31, 17, 30, tzinfo=UTC)) == (
        "115學年度第1學期"
    )
    SchoolProfile.load()
    SchoolProfile.objects.filter(pk=1).update(first_semester_start_month=9)
    assert render("{{ d|school_term }}", d=D(2026, 8, 31)) == "114學年度第2學期"


@pytest.mark.django_db
def test_school_term_filter_shows_nothing_for_an_unusable_profile():
    from isms.core.models import SchoolProfile

    SchoolProfile.load()
    SchoolProfile.objects.filter(pk=1).update(second_semester_start_month=9)
    assert render("{{ d|school_term }}", d=D(2026, 11, 28)) == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("2.0"), "2"),
        (Decimal("1.50"), "1.5"),
        (Decimal("10"), "10"),
        (Decimal("100.00"), "100"),
        (Decimal("0.25"), "0.25"),
    ],
)
def test_a_decimal_cell_reads_as_people_write_it(value, text):
    from isms.core.registers import as_text

    assert as_text(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), ("", "—"), ([], "—"), (False, "否"), (True, "是"), (0, 0), ([1, 2], "1、2")],
)
def test_a_change_in_the_trail_shows_flags_and_nothing(value, text):
    from isms.core.templatetags.roc import change_value

    with translation.override("zh-hant"):
        assert change_value(value) == text


def test_a_deadline_at_midnight_reads_as_the_end_of_the_day_before():
    from isms.core.templatetags.roc import roc_due

    taipei = ZoneInfo("Asia/Taipei")
    with translation.override("zh-hant"):
        midnight = dt.datetime(2026, 12, 4, 0, 0, tzinfo=taipei)
        assert roc_due(midnight) == "115/12/03 23:59"
        assert roc_due(midnight.astimezone(dt.UTC)) == "115/12/03 23:59"
        assert roc_due(dt.datetime(2026, 12, 4, 0, 1, tzinfo=taipei)) == "115/12/04 00:01"
        assert roc_due(None) == ""
