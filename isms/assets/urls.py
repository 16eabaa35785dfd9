"""Pages of the assets module: the register (views), A-1 (views_commissioning), A-7 and
outside repairs (views_movements), the property-list import (views_imports)."""

from . import views, views_commissioning, views_imports, views_movements

app_name = "assets"

MODULES = (views, views_commissioning, views_movements, views_imports)
urlpatterns = [pattern for module in MODULES for pattern in module.urlpatterns]
