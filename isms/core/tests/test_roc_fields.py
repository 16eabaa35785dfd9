"""ROC date form fields: what they accept, what they say when they don't, how they render."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django import forms
from hypothesis import given
from hypothesis import strategies as st

from isms.core import roc
from isms.core.fields import ROCDateField, ROCDateInput, ROCDateTimeField, ROCDateTimeInput

UTC = dt.UTC
TAIPEI = ZoneInfo("Asia/Taipei")
D = dt.date


class EventForm(forms.Form):
    day = ROCDateField(label="日期")
    until = ROCDateField(label="截止日", required=False)
    at = ROCDateTimeField(label="時間", required=False)


def errors(data):
    form = EventForm(data)
    assert not form.is_valid()
    return form.errors.as_data()


# --- ROCDateField ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "115/11/28",
        "115-11-28",
        "115.11.28",
        "民國115年11月28日",
        "115年11月28日",
        "1151128",
        "2026-11-28",
        "2026/11/28",
        "１１５／１１／２８",
        "  115/11/28  ",
    ],
)
def test_date_field_accepts_roc_and_western_dates(text):
    form = EventForm({"day": text})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["day"] == D(2026, 11, 28)
    assert form.cleaned_data["until"] is None
    assert form.cleaned_data["at"] is None


@given(st.dates(min_value=D(1912, 1, 1), max_value=D(2111, 12, 31)))
def test_date_field_takes_back_what_its_widget_shows(d):
    field = ROCDateField()
    assert field.clean(field.widget.format_value(d)) == d


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("115/02/30", "日期不存在：民國115年2月30日。"),
        ("0/01/01", "民國年須介於 1 至 200 年之間。"),
        ("201/01/01", "民國年須介於 1 至 200 年之間。"),
        ("民國前1年1月1日", "不支援民國前的日期。"),
        ("明天", "無法辨識的日期「明天」，請以民國年輸入，例如 115/11/28。"),
        ("11/28", "無法辨識的日期「11/28」，請以民國年輸入，例如 115/11/28。"),
    ],
)
def test_date_field_explains_bad_dates_in_traditional_chinese(text, message):
    [error] = errors({"day": text})["day"]
    assert error.code == "invalid"
    assert error.messages == [message]


@pytest.mark.parametrize("text", ["", "   ", "　"])
def test_empty_date_is_required_not_invalid(text):
    [error] = errors({"day": text})["day"]
    assert error.code == "required"
    assert error.messages == ["此為必需欄位。"]


def test_date_field_message_can_be_overridden():
    field = ROCDateField(error_messages={"invalid": "「%(value)s」不是日期"})
    with pytest.raises(forms.ValidationError) as info:
        field.clean("abc")
    assert info.value.messages == ["「abc」不是日期"]


def test_date_field_takes_dates_and_datetimes_as_they_are():
    field = ROCDateField()
    assert field.clean(D(2026, 11, 28)) == D(2026, 11, 28)
    # 17:30 UTC is 01:30 the next day in Taipei.
    assert field.clean(dt.datetime(2026, 11, 28, 17, 30, tzinfo=UTC)) == D(2026, 11, 29)


def test_date_widget_shows_the_initial_date_in_roc_with_a_placeholder():
    html = str(EventForm(initial={"day": D(2026, 11, 28), "until": D(2010, 1, 5)}))
    assert 'name="day" value="115/11/28"' in html
    assert 'name="until" value="99/01/05"' in html
    assert 'placeholder="115/11/28"' in html
    assert 'type="text"' in html
    assert "inputmode" not in html


def test_date_widget_keeps_what_was_typed_when_invalid():
    html = str(EventForm({"day": "115/02/30"})["day"])
    assert 'value="115/02/30"' in html


def test_date_widget_attributes_can_be_added_and_the_placeholder_replaced():
    widget = ROCDateInput(attrs={"class": "form-control", "placeholder": "民國年/月/日"})
    html = widget.render("d", D(2026, 11, 28))
    assert 'class="form-control"' in html and 'placeholder="民國年/月/日"' in html
    assert ROCDateInput().render("d", D(1900, 1, 2)).count('value="1900-01-02"') == 1
    assert ROCDateInput().format_value(None) is None


def test_unchanged_date_is_not_reported_as_changed():
    initial = {"day": D(2026, 11, 28)}
    assert not EventForm({"day": "115/11/28"}, initial=initial).has_changed()
    assert not EventForm({"day": "民國115年11月28日"}, initial=initial).has_changed()
    assert EventForm({"day": "115/11/29"}, initial=initial).has_changed()


# --- ROCDateTimeField -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("115/11/28 14:05", dt.datetime(2026, 11, 28, 14, 5, tzinfo=TAIPEI)),
        ("115/11/28 14:05:30", dt.datetime(2026, 11, 28, 14, 5, 30, tzinfo=TAIPEI)),
        ("115/11/28 下午2:05", dt.datetime(2026, 11, 28, 14, 5, tzinfo=TAIPEI)),
        ("民國115年11月28日 14時5分", dt.datetime(2026, 11, 28, 14, 5, tzinfo=TAIPEI)),
        ("2026-11-28 14:05", dt.datetime(2026, 11, 28, 14, 5, tzinfo=TAIPEI)),
        ("115/11/28", dt.datetime(2026, 11, 28, 0, 0, tzinfo=TAIPEI)),
    ],
)
def test_datetime_field_gives_an_aware_taipei_datetime(text, expected):
    form = EventForm({"day": "115/11/28", "at": text})
    assert form.is_valid(), form.errors
    value = form.cleaned_data["at"]
    assert value == expected
    assert value.utcoffset() == dt.timedelta(hours=8)
    assert str(value.tzinfo) == "Asia/Taipei"


def test_datetime_field_result_is_the_right_instant():
    value = ROCDateTimeField().clean("115/11/29 01:30")
    assert value == dt.datetime(2026, 11, 28, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("115/02/30 14:05", "日期不存在：民國115年2月30日。"),
        ("115/11/28 25:00", "時間「25:00」不存在，請以 24 小時制輸入，例如 14:05。"),
        ("下週一", "無法辨識的日期時間「下週一」，請依此格式輸入：115/11/28 14:05。"),
    ],
)
def test_datetime_field_explains_bad_input_in_traditional_chinese(text, message):
    [error] = errors({"day": "115/11/28", "at": text})["at"]
    assert error.code == "invalid"
    assert error.messages == [message]


def test_datetime_widget_shows_the_initial_value_in_taipei_time():
    late_utc = dt.datetime(2026, 11, 28, 17, 30, tzinfo=UTC)
    html = str(EventForm(initial={"at": late_utc})["at"])
    assert 'value="115/11/29 01:30"' in html
    assert 'placeholder="115/11/28 14:05"' in html
    assert "inputmode" not in html


def test_datetime_widget_shows_seconds_only_when_there_are_some():
    widget = ROCDateTimeInput()
    assert widget.format_value(dt.datetime(2026, 11, 28, 6, 5, 7, tzinfo=UTC)) == (
        "115/11/28 14:05:07"
    )
    assert widget.format_value(dt.datetime(2026, 11, 28, 14, 5)) == "115/11/28 14:05"
    assert widget.format_value(D(2026, 11, 28)) == "115/11/28"
    assert widget.format_value(None) is None


# Taipei has kept UTC+8 all year since 1980; earlier summer times make some clock readings
# ambiguous, which no text form without an offset can tell apart.
@given(
    st.datetimes(
        min_value=dt.datetime(1980, 1, 1),
        max_value=dt.datetime(2111, 12, 30),
        timezones=st.just(UTC),
    )
)
def test_datetime_field_takes_back_what_its_widget_shows(value):
    field = ROCDateTimeField()
    shown = field.widget.format_value(field.prepare_value(value.replace(microsecond=0)))
    assert field.clean(shown) == value.replace(microsecond=0)
    assert shown == roc.format_roc_datetime(value, seconds=bool(value.second))


def test_unchanged_datetime_is_not_reported_as_changed():
    initial = {"day": D(2026, 11, 28), "at": dt.datetime(2026, 11, 28, 6, 5, 7, 123, tzinfo=UTC)}
    form = EventForm(initial=initial)
    data = {"day": form["day"].value(), "at": form["at"].value()}
    data = {name: form[name].field.widget.format_value(value) for name, value in data.items()}
    assert data == {"day": "115/11/28", "at": "115/11/28 14:05:07"}
    assert not EventForm(data, initial=initial).has_changed()
