"""URLs of the reconciliation of an account list exported from a system (2.7)."""

from django.urls import path

from . import views_reconcile as v

urlpatterns: list = [
    path("reconcile/", v.ReconcileListView.as_view(), name="reconcile"),
    path("reconcile/<int:pk>/", v.ImportDetailView.as_view(), name="accountimport_detail"),
    path(
        "reconcile/<int:pk>/columns/",
        v.ImportColumnsView.as_view(),
        name="accountimport_columns",
    ),
    path("reconcile/<int:pk>/apply/", v.ImportApplyView.as_view(), name="accountimport_apply"),
    path(
        "reconcile/<int:pk>/discard/",
        v.ImportDiscardView.as_view(),
        name="accountimport_discard",
    ),
]
