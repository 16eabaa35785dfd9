from django.utils.translation import gettext_lazy

NAV = gettext_lazy("資產與設備")
