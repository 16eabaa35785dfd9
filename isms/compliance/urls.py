from django.urls import path

from . import calendar_urls, views

app_name = "compliance"

urlpatterns = [
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("contacts-review/", views.ContactsReviewView.as_view(), name="contacts_review"),
    path("report/", views.MonthlyReportView.as_view(), name="report"),
    path("binders/", views.BinderListView.as_view(), name="binders"),
    path("binders/<int:pk>/", views.BinderDetailView.as_view(), name="binder_detail"),
    path(
        "binders/<int:pk>/download/",
        views.BinderDownloadView.as_view(),
        name="binder_download",
    ),
    *views.ClauseRegister.urls(),
    *views.PolicyRevisionRegister.urls(),
    *views.ObligationStateRegister.urls(),
    *calendar_urls.urlpatterns,
]
