"""Pages of the facilities module: rooms, their controls, inspections and findings
(views_rooms), sensors, readings and alerts (views_readings), the room chart
(views_charts) and the server-room access log (views_visits)."""

from . import views_charts, views_readings, views_rooms, views_visits

app_name = "facilities"

MODULES = (views_rooms, views_readings, views_charts, views_visits)
urlpatterns = [pattern for module in MODULES for pattern in module.urlpatterns]
