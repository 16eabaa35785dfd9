from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "isms.privacy"
    verbose_name = "個資保護"
    default_auto_field = "django.db.models.BigAutoField"
