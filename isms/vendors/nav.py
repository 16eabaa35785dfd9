from django.utils.translation import gettext_lazy

NAV = gettext_lazy("委外與保密")
