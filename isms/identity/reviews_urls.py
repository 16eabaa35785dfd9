"""URLs of the semester account review (2.7) and the privileged-account list (2.8, A-4)."""

from django.urls import path

from . import views_reviews as v

urlpatterns: list = [
    path("account-reviews/", v.AccountReviewListView.as_view(), name="accountreview_list"),
    path("account-reviews/start/", v.AccountReviewStartView.as_view(), name="accountreview_start"),
    path(
        "account-reviews/<int:pk>/",
        v.AccountReviewDetailView.as_view(),
        name="accountreview_detail",
    ),
    path(
        "account-reviews/<int:pk>/decide/",
        v.AccountReviewDecideView.as_view(),
        name="accountreview_decide",
    ),
    path(
        "account-reviews/<int:pk>/complete/",
        v.AccountReviewCompleteView.as_view(),
        name="accountreview_complete",
    ),
    path(
        "account-reviews/<int:pk>/print/",
        v.AccountReviewPrintView.as_view(),
        name="accountreview_print",
    ),
    path("privileged/", v.PrivilegedListView.as_view(), name="privileged_list"),
    path("privileged/prepare/", v.PrivilegedPrepareView.as_view(), name="privilegedreview_prepare"),
    path(
        "privileged/reviews/<int:pk>/",
        v.PrivilegedReviewDetailView.as_view(),
        name="privilegedreview_detail",
    ),
    path(
        "privileged/reviews/<int:pk>/review/",
        v.PrivilegedReviewReviewView.as_view(),
        name="privilegedreview_review",
    ),
    path(
        "privileged/reviews/<int:pk>/print/",
        v.PrivilegedReviewPrintView.as_view(),
        name="privilegedreview_print",
    ),
]
