from django.apps import AppConfig


def _load_clauses(**kwargs):
    from . import clauses

    clauses.load_after_migrate(**kwargs)


class ComplianceConfig(AppConfig):
    name = "isms.compliance"
    verbose_name = "法遵"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import registry

        registry.autodiscover()
        post_migrate.connect(_load_clauses, sender=self, dispatch_uid="compliance_clauses")
