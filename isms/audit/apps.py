from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "isms.audit"
    verbose_name = "稽核軌跡"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals

        signals.connect()
