from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "isms.core"
    verbose_name = "核心"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import services, spectacular  # noqa: F401  (registers the OpenAPI extension)

        post_migrate.connect(services.seed_after_migrate, sender=self)
