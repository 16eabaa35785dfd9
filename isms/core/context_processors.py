"""What every page's layout needs: the school's name and this person's menu."""

from django.utils.functional import SimpleLazyObject


def site(request):
    def school():
        from .models import SchoolProfile

        return SchoolProfile.load()

    def nav():
        from .views import navigation

        user = getattr(request, "user", None)
        return navigation(user) if user is not None and user.is_authenticated else []

    return {"school_profile": SimpleLazyObject(school), "nav": SimpleLazyObject(nav)}
