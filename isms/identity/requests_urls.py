"""URLs of account requests (帳號申請單, A-3); included by isms/identity/urls.py."""

from django.urls import path

from . import views_requests as views

urlpatterns = [
    path("requests/mine/", views.MyRequestsView.as_view(), name="accountrequest_mine"),
    path(
        "requests/<int:pk>/lines/<int:line>/execute/",
        views.ExecuteLineView.as_view(),
        name="accountrequest_execute",
    ),
    path(
        "requests/<int:pk>/lines/<int:line>/password-changed/",
        views.PasswordChangedView.as_view(),
        name="accountrequest_password_changed",
    ),
    path("requests/<int:pk>/review/", views.ReviewView.as_view(), name="accountrequest_review"),
    path("requests/<int:pk>/return/", views.ReturnView.as_view(), name="accountrequest_return"),
    path("requests/<int:pk>/print/", views.PrintView.as_view(), name="accountrequest_print"),
    *views.AccountRequestRegister.urls(),
]
