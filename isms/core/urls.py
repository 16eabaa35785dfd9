from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("school/", views.SchoolView.as_view(), name="school"),
    path("school/edit/", views.SchoolEditView.as_view(), name="school_edit"),
    path("contacts/", views.ContactsView.as_view(), name="contacts"),
    path("contacts/edit/", views.ContactsEditView.as_view(), name="contacts_edit"),
    path("contacts/print/", views.ContactsPrintView.as_view(), name="contacts_print"),
    path("roles/", views.RolesOverviewView.as_view(), name="roles"),
    path("users/<int:pk>/roles/", views.UserRolesView.as_view(), name="user_roles"),
    path(
        "users/<int:pk>/reset-password/",
        views.UserResetPasswordView.as_view(),
        name="user_reset_password",
    ),
    path("tokens/", views.TokensView.as_view(), name="token_list"),
    path("tokens/<int:pk>/revoke/", views.TokenRevokeView.as_view(), name="token_revoke"),
    path(
        "attachments/add/<str:label>/<int:pk>/",
        views.AttachmentAddView.as_view(),
        name="attachment_add",
    ),
    path(
        "attachments/<int:pk>/", views.AttachmentDownloadView.as_view(), name="attachment_download"
    ),
    path("attachments/<int:pk>/void/", views.AttachmentVoidView.as_view(), name="attachment_void"),
    *views.UnitRegister.urls(),
    *views.PersonRegister.urls(),
    *views.UserRegister.urls(),
]
