from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "isms.operations"
    verbose_name = "系統維運"
    default_auto_field = "django.db.models.BigAutoField"
