from django.apps import AppConfig


class AwarenessConfig(AppConfig):
    name = "isms.awareness"
    verbose_name = "教育訓練與宣導"
    default_auto_field = "django.db.models.BigAutoField"
