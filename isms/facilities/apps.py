from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "isms.facilities"
    verbose_name = "機房管理"
    default_auto_field = "django.db.models.BigAutoField"
