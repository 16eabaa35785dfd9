"""Pages of the operations module: backup plans, runs and restore tests (views_backups),
the work log A-2 and its repair-ticket import (views_worklog, views_worklog_imports),
time synchronisation (views_timesync)."""

from . import views_backups, views_timesync, views_worklog, views_worklog_imports

app_name = "operations"

MODULES = (views_backups, views_worklog, views_worklog_imports, views_timesync)
urlpatterns = [pattern for module in MODULES for pattern in module.urlpatterns]
