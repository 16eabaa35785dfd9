"""Pages of the awareness module: training sessions, attendance and hours
(views_training), legal-awareness talks (views_talks), office self-checks
(views_selfchecks)."""

from . import views_selfchecks, views_talks, views_training

app_name = "awareness"

MODULES = (views_training, views_talks, views_selfchecks)
urlpatterns = [pattern for module in MODULES for pattern in module.urlpatterns]
