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

        from isms.core import jobs

        from . import binder, registry

        registry.autodiscover()
        jobs.register("compliance.binder", pending=binder.pending, run_pending=binder.run_pending)
        post_migrate.connect(_load_clauses, sender=self, dispatch_uid="compliance_clauses")
