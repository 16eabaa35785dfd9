"""The form of one's own notification preference."""

from django import forms
from django.utils.translation import gettext_lazy as _

from isms.core.forms import ModelForm

from .models import NotificationPreference


class NotificationPreferenceForm(ModelForm):
    digest_hour = forms.TypedChoiceField(
        label=_("每日彙整寄送時間"),
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        initial=7,
        help_text=_("臺北時間；緊急通知不受影響，一律立即寄送。"),
    )

    class Meta(ModelForm.Meta):
        model = NotificationPreference
        fields = ["mode", "digest_hour"]
