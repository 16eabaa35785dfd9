"""URLs of the incident print-outs and statistics (see reports.py)."""

from django.urls import path

from . import reports

urlpatterns = [
    path(
        "incidents/<int:pk>/platform/",
        reports.PlatformCopyView.as_view(),
        name="incident_platform_copy",
    ),
    path("incidents/<int:pk>/print/", reports.IncidentPrintView.as_view(), name="incident_print"),
    path("procedure/", reports.ProcedureView.as_view(), name="procedure"),
    path("statistics/", reports.StatisticsView.as_view(), name="statistics"),
]
