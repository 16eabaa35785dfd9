from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "isms.assets"
    verbose_name = "資產與設備"
    default_auto_field = "django.db.models.BigAutoField"
