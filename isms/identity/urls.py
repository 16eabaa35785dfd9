from django.urls import path

from . import password_help_urls, reconcile_urls, requests_urls, reviews_urls, views

app_name = "identity"

urlpatterns = [
    *password_help_urls.urlpatterns,
    *requests_urls.urlpatterns,
    *reviews_urls.urlpatterns,
    *reconcile_urls.urlpatterns,
    path("departures/", views.DepartureView.as_view(), name="departure"),
    path(
        "offboarding/<int:pk>/finish/",
        views.FinishTaskView.as_view(),
        name="offboardingtask_finish",
    ),
    path(
        "accounts/<int:pk>/password-changed/",
        views.PasswordChangedView.as_view(),
        name="account_password_changed",
    ),
    *views.SystemRegister.urls(),
    *views.AccountRegister.urls(),
    *views.OffboardingTaskRegister.urls(),
]
