"""URLs of the whole product. Every view states who may use it (see core.access)."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from isms.audit import views as audit_views
from isms.core import api as core_api
from isms.core import views as core_views
from isms.core.restapi import router

router.register_register(core_views.PersonRegister, "people")
router.register_register(core_views.UnitRegister, "units")
router.register_register(core_views.UserRegister, "users")
router.register("audit-entries", audit_views.AuditEntryViewSet, basename="audit-entry")


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


healthz.isms_public = True

urlpatterns = [
    path("", core_views.HomeView.as_view(), name="home"),
    path("login/", core_views.LoginView.as_view(), name="login"),
    path("logout/", core_views.LogoutView.as_view(), name="logout"),
    path("password/", core_views.PasswordChangeView.as_view(), name="password_change"),
    path("healthz", healthz, name="healthz"),
    path("core/", include("isms.core.urls")),
    path("audit/", include("isms.audit.urls")),
    path("api/password-check/", core_api.PasswordCheckView.as_view(), name="api-password-check"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(router.urls)),
    path("admin/", admin.site.urls),
]
