from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("preferences/", views.PreferenceView.as_view(), name="preferences"),
    path(
        "outbox/<int:pk>/resend/",
        views.NotificationResendView.as_view(),
        name="notification_resend",
    ),
    *views.NotificationRegister.urls(),
]
