from django.utils.translation import gettext_lazy

NAV = gettext_lazy("教育訓練與宣導")
