"""Pages of the vendors module: vendors and contracts (views_vendors), confidentiality
agreements A-8, A-9, A-10 (views_agreements)."""

from . import views_agreements, views_vendors

app_name = "vendors"

MODULES = (views_vendors, views_agreements)
urlpatterns = [pattern for module in MODULES for pattern in module.urlpatterns]
