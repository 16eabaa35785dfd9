"""The calendar feed's routes, included into ``isms.compliance.urls`` (namespace compliance)."""

from django.urls import path

from . import calendar

urlpatterns = [
    path("calendar/", calendar.CalendarView.as_view(), name="calendar"),
    path("calendar/<str:key>.ics", calendar.CalendarFeedView.as_view(), name="calendar_feed"),
]
