"""Forms of the compliance module."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.core.fields import ROCDateField
from isms.core.forms import ModelForm

from . import registry
from .models import Clause, PolicyRevision
from .rhythms import LABELS, PERIODS, Rhythm


class ClauseForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = Clause
        fields = ["title", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 6})}


class PolicyRevisionForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = PolicyRevision
        fields = ["kind", "version", "adopted_on", "approved_on", "summary"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 4})}

    def clean(self):
        data = super().clean()
        adopted, approved = data.get("adopted_on"), data.get("approved_on")
        if adopted and approved and approved < adopted:
            self.add_error("approved_on", _("校長核定日期不可早於校務會議通過日期（條文 9）。"))
        return data


def rhythm_choices(limit: Rhythm):
    """Period rhythms to pick from (a looser one is refused with the clause on saving)."""
    if limit.days:
        return []
    return [(p, LABELS[p]) for p in PERIODS]


class ObligationSettingForm(forms.Form):
    rhythm = forms.CharField(label=gettext_lazy("頻率"))
    due_soon_days = forms.IntegerField(label=gettext_lazy("提前提醒天數"), min_value=0)

    def __init__(self, *args, obligation: registry.Obligation, **kwargs):
        self.obligation = obligation
        super().__init__(*args, **kwargs)
        choices = rhythm_choices(obligation.rhythm)
        if choices:
            self.fields["rhythm"] = forms.ChoiceField(label=gettext_lazy("頻率"), choices=choices)
            self.fields["rhythm"].widget.attrs["class"] = "form-select form-select-sm"
        else:
            self.fields["rhythm"].help_text = _("例如 every:60 表示每 60 天")
            self.fields["rhythm"].widget.attrs["class"] = "form-control form-control-sm"
        self.fields["due_soon_days"].max_value = obligation.max_due_soon_days
        self.fields["due_soon_days"].widget.attrs.update(
            {"class": "form-control form-control-sm", "max": obligation.max_due_soon_days}
        )

    def clean_rhythm(self):
        text = self.cleaned_data["rhythm"].strip()
        try:
            rhythm = Rhythm.parse(text)
        except (ValueError, TypeError) as exc:
            raise ValidationError(_("頻率格式不正確。")) from exc
        if not rhythm.within(self.obligation.rhythm):
            raise ValidationError(
                _("條文 %(clause)s 規定至少%(limit)s一次，不可設定為%(chosen)s。")
                % {
                    "clause": self.obligation.clause,
                    "limit": self.obligation.rhythm.label,
                    "chosen": rhythm.label,
                }
            )
        return str(rhythm)

    def clean_due_soon_days(self):
        days = self.cleaned_data["due_soon_days"]
        if days > self.obligation.max_due_soon_days:
            raise ValidationError(
                _("提前提醒天數最多 %(n)d 天。") % {"n": self.obligation.max_due_soon_days}
            )
        return days


class BinderForm(forms.Form):
    """The range of an evidence binder, in ROC dates (or 4-digit Western years)."""

    date_from = ROCDateField(label=gettext_lazy("起日"))
    date_to = ROCDateField(label=gettext_lazy("迄日"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"

    def clean(self):
        from .binder import validate_range

        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last:
            for name, message in validate_range(first, last).items():
                self.add_error(name, message)
        return data
