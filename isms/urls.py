"""URLs of the whole product. Every view states who may use it (see core.access)."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from isms.assets import urls as assets_urls
from isms.audit import views as audit_views
from isms.awareness import urls as awareness_urls
from isms.compliance import views as compliance_views
from isms.core import api as core_api
from isms.core import views as core_views
from isms.core.restapi import router
from isms.facilities import urls as facilities_urls
from isms.facilities import views_charts as facilities_charts
from isms.identity import views as identity_views
from isms.identity import views_requests as identity_requests
from isms.incidents import api as incidents_api
from isms.incidents import views as incidents_views
from isms.notifications.views import NotificationRegister
from isms.operations import urls as operations_urls
from isms.privacy import urls as privacy_urls
from isms.vendors import urls as vendors_urls

router.register_register(core_views.PersonRegister, "people")
router.register_register(core_views.UnitRegister, "units")
router.register_register(core_views.UserRegister, "users")
router.register_register(compliance_views.ObligationStateRegister, "obligations")
router.register_register(compliance_views.ClauseRegister, "clauses")
router.register_register(compliance_views.PolicyRevisionRegister, "policy-revisions")
router.register_register(NotificationRegister, "notifications")
router.register("audit-entries", audit_views.AuditEntryViewSet, basename="audit-entry")
# Before the register: "suspected" must not be taken for an incident's id.
router.register(
    "incidents/suspected", incidents_api.SuspectedReportViewSet, basename="incident-suspected"
)
router.register_register(incidents_views.IncidentRegister, "incidents")
router.register_register(incidents_views.IncidentDrillRegister, "incident-drills")
router.register_register(identity_views.SystemRegister, "systems")
router.register_register(identity_views.AccountRegister, "accounts")
router.register_register(identity_views.OffboardingTaskRegister, "offboarding-tasks")
router.register_register(identity_requests.AccountRequestRegister, "account-requests")
router.register(
    "environment-series",
    facilities_charts.EnvironmentSeriesViewSet,
    basename="facilities-environment-series",
)
for _module in (
    *assets_urls.MODULES,
    *operations_urls.MODULES,
    *facilities_urls.MODULES,
    *vendors_urls.MODULES,
    *awareness_urls.MODULES,
    *privacy_urls.MODULES,
):
    for _register, _prefix in _module.API_ROUTES:
        router.register_register(_register, _prefix)


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


healthz.isms_public = True
set_language.isms_public = True  # only sets the language cookie

urlpatterns = [
    path("", compliance_views.DashboardView.as_view(), name="home"),
    path("login/", core_views.LoginView.as_view(), name="login"),
    path("logout/", core_views.LogoutView.as_view(), name="logout"),
    path("password/", core_views.PasswordChangeView.as_view(), name="password_change"),
    path("healthz", healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("core/", include("isms.core.urls")),
    path("audit/", include("isms.audit.urls")),
    path("compliance/", include("isms.compliance.urls")),
    path("notifications/", include("isms.notifications.urls")),
    path("incidents/", include("isms.incidents.urls")),
    path("identity/", include("isms.identity.urls")),
    path("assets/", include("isms.assets.urls")),
    path("operations/", include("isms.operations.urls")),
    path("facilities/", include("isms.facilities.urls")),
    path("vendors/", include("isms.vendors.urls")),
    path("awareness/", include("isms.awareness.urls")),
    path("privacy/", include("isms.privacy.urls")),
    path("api/password-check/", core_api.PasswordCheckView.as_view(), name="api-password-check"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(router.urls)),
    path("admin/", admin.site.urls),
]
