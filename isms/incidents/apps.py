from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "isms.incidents"
    verbose_name = "資安事件"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db import transaction
        from django.db.models.signals import post_save

        from .models import IncidentDrill

        def drill_saved(sender, instance, **kwargs):
            # The drill duty follows at once (the worker's full refresh would in minutes).
            from isms.compliance import engine

            transaction.on_commit(lambda: engine.refresh("incidents.drill"))

        post_save.connect(
            drill_saved, sender=IncidentDrill, weak=False, dispatch_uid="incidents-drill-duty"
        )
