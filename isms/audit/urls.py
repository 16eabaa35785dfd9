from . import views

app_name = "audit"

urlpatterns = [*views.AuditEntryRegister.urls()]
