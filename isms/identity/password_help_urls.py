"""The password help page (see password_help.py), included in the identity namespace."""

from django.urls import path

from .password_help import PasswordHelpView

urlpatterns = [
    path("password-help/", PasswordHelpView.as_view(), name="password_help"),
]
