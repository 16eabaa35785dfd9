"""Pages of the privacy module: the official code lists (views_codes), the personal-data
file inventory and its public page (views_inventory), activity notices (views_notices),
publishing approvals (views_publishing), paper transfers (views_transfers), data-subject
requests (views_requests) and leak notifications (views_leaks)."""

from . import (
    views_codes,
    views_inventory,
    views_leaks,
    views_notices,
    views_publishing,
    views_requests,
    views_transfers,
)

app_name = "privacy"

MODULES = (
    views_inventory,
    views_requests,
    views_notices,
    views_publishing,
    views_transfers,
    views_leaks,
    views_codes,
)
urlpatterns = [pattern for module in MODULES for pattern in module.urlpatterns]
