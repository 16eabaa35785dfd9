from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "isms.vendors"
    verbose_name = "委外與保密"
    default_auto_field = "django.db.models.BigAutoField"
