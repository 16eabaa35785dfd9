from django.urls import path

from . import report_urls, views

app_name = "incidents"

ACTIONS = [
    ("platform-report", views.PlatformReportView, "incident_platform_report"),
    ("change-report", views.ChangeReportView, "incident_change_report"),
    ("warning-answer", views.WarningAnswerView, "incident_warning_answer"),
    ("request-help", views.RequestHelpView, "incident_request_help"),
    ("technical", views.TechnicalView, "incident_technical"),
    ("close", views.CloseView, "incident_close"),
    ("dismiss", views.DismissView, "incident_dismiss"),
    ("improvement", views.ImprovementView, "incident_improvement"),
    ("note", views.NoteView, "incident_note"),
]

urlpatterns = [
    path("report/", views.SuspectedReportView.as_view(), name="report"),
    path("mine/", views.MyReportsView.as_view(), name="mine"),
    *[
        path(f"incidents/<int:pk>/{route}/", view.as_view(), name=name)
        for route, view, name in ACTIONS
    ],
    path(
        "incidents/<int:pk>/steps/<int:step>/done/",
        views.StepDoneView.as_view(),
        name="incident_step_done",
    ),
    *report_urls.urlpatterns,
    *views.IncidentRegister.urls(),
    *views.IncidentDrillRegister.urls(),
]
