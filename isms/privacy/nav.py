from django.utils.translation import gettext_lazy

NAV = gettext_lazy("個資保護")
