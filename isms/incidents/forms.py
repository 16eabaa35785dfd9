"""Forms of the incident module; every save goes through services (the rules live there)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from isms.core.fields import ROCDateTimeField
from isms.core.forms import ModelForm, add_service_errors

from . import levels, services
from .models import Incident, IncidentDrill


def _bootstrap(form):
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.RadioSelect):
            continue
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class SuspectedReportForm(forms.Form):
    """2.10.3: the short, phone-friendly form any signed-in person fills in."""

    description = forms.CharField(
        label=_("看到了什麼？"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("例如：收到要求輸入帳號密碼的可疑信件、電腦出現勒索畫面、網站內容被更改。"),
    )
    seen_at = ROCDateTimeField(label=_("什麼時候發現？"), help_text=_("例如 115/11/30 07:40"))
    location = forms.CharField(label=_("在哪裡或哪個系統？"), max_length=200, required=False)
    contact = forms.CharField(
        label=_("怎麼聯絡您？"),
        max_length=100,
        help_text=_("分機或手機，方便承辦人立即聯絡。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault(
                "seen_at", timezone.localtime().replace(second=0, microsecond=0)
            )
        _bootstrap(self)

    def clean_seen_at(self):
        value = self.cleaned_data["seen_at"]
        if value > timezone.now() + services.SKEW:
            raise ValidationError(_("發現時間不可晚於現在。"))
        return value


IMPACT_FIELDS = ("confidentiality_impact", "integrity_impact", "availability_impact")


class IncidentForm(ModelForm):
    """Details and classification (2.10.1, 2.10.2); the level is computed from the impacts."""

    occurred_at = ROCDateTimeField(label=_("發生時間"), required=False)
    discovered_at = ROCDateTimeField(
        label=_("知悉時間"), help_text=_("學校得知此事件的時間（期限由此起算）。")
    )
    notice_received_at = ROCDateTimeField(label=_("收到告知通報時間"), required=False)

    level_override = forms.TypedChoiceField(
        label=_("調整後等級"),
        choices=[("", _("不調整（依研判結果）"))] + [(n, label) for n, label in levels.LEVELS],
        coerce=int,
        empty_value=None,
        required=False,
    )

    class Meta(ModelForm.Meta):
        model = Incident
        fields = [
            "title",
            "source",
            "category",
            "category_other",
            "occurred_at",
            "discovered_at",
            "location",
            "description",
            "affected_systems",
            "affected_equipment",
            "unconfirmed_case",
            "confidentiality_impact",
            "integrity_impact",
            "availability_impact",
            "level_override",
            "level_override_reason",
            "notice_text",
            "notice_received_at",
            "reporter_contact",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "affected_systems": forms.Textarea(attrs={"rows": 2}),
            "affected_equipment": forms.Textarea(attrs={"rows": 2}),
            "level_override_reason": forms.Textarea(attrs={"rows": 2}),
            "notice_text": forms.Textarea(attrs={"rows": 3}),
            "confidentiality_impact": forms.RadioSelect,
            "integrity_impact": forms.RadioSelect,
            "availability_impact": forms.RadioSelect,
            "unconfirmed_case": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in IMPACT_FIELDS:
            field = self.fields[name]
            field.choices = [c for c in field.choices if c[0] != ""]
        self.fields["unconfirmed_case"].choices = [
            ("", _("不屬於 0 級情形")),
            *list(levels.UNCONFIRMED_CHOICES),
        ]
        if self.instance.pk is None:
            self.initial.setdefault(
                "discovered_at", timezone.localtime().replace(second=0, microsecond=0)
            )

    def clean(self):
        data = super().clean()
        values = {n: getattr(self.instance, n, None) for n in services.EDITABLE}
        values.update({n: data.get(n) for n in self.Meta.fields if n in data})
        for name, message in services.validate(values).items():
            if name in self.fields and name not in self.errors:
                self.add_error(name, message)
        return data

    def computed_level(self):
        data = getattr(self, "cleaned_data", None) or {}
        return levels.compute_level(
            data.get("unconfirmed_case", ""), *(data.get(n) for n in IMPACT_FIELDS)
        )

    def save(self, commit=True):
        values = {n: self.cleaned_data.get(n) for n in self.Meta.fields}
        actor = self.request.user
        try:
            if self.instance.pk is None:
                return services.create(actor=actor, **values)
            return services.update(self.instance, actor=actor, **values)
        except ValidationError as error:  # raced with another change: shown, nothing saved
            add_service_errors(self, error)
            raise


class TechnicalForm(ModelForm):
    """The equipment facts the platform asks for (2.10.6)."""

    class Meta(ModelForm.Meta):
        model = Incident
        fields = list(services.PLATFORM_FACTS)
        widgets = {"measures_taken": forms.Textarea(attrs={"rows": 3})}


class PlatformReportForm(forms.Form):
    reported_at = ROCDateTimeField(label=_("平台通報時間"))
    platform_ticket = forms.CharField(label=_("平台事件單編號"), max_length=50)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class MomentForm(forms.Form):
    at = ROCDateTimeField(label=_("時間"))
    note = forms.CharField(label=_("說明"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class WarningAnswerForm(forms.Form):
    warning_answer = forms.ChoiceField(
        label=_("回覆結果"), choices=Incident.WarningAnswer.choices, widget=forms.RadioSelect
    )
    warning_reason = forms.CharField(
        label=_("理由"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    warning_linked_ticket = forms.CharField(
        label=_("對應自行通報單號"), max_length=50, required=False
    )
    warning_answered_at = ROCDateTimeField(label=_("回覆時間"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class CloseForm(forms.Form):
    containment = forms.CharField(label=_("損害控制"), widget=forms.Textarea(attrs={"rows": 3}))
    recovery = forms.CharField(label=_("復原作業"), widget=forms.Textarea(attrs={"rows": 3}))
    root_cause = forms.CharField(label=_("事件原因"), widget=forms.Textarea(attrs={"rows": 3}))
    prevention = forms.CharField(
        label=_("改善及預防措施"), widget=forms.Textarea(attrs={"rows": 3})
    )
    closed_at = ROCDateTimeField(label=_("結案時間"))
    improvement_required = forms.BooleanField(label=_("需提出調查、處理及改善報告"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class DismissForm(forms.Form):
    dismiss_reason = forms.CharField(
        label=_("判定理由"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class ImprovementForm(forms.Form):
    improvement_summary = forms.CharField(
        label=_("改善報告摘要"), widget=forms.Textarea(attrs={"rows": 4})
    )
    improvement_done_at = ROCDateTimeField(label=_("完成時間"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("處理紀錄"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class IncidentDrillForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = IncidentDrill
        fields = ["held_on", "scenario", "participants", "findings"]
        widgets = {
            "participants": forms.Textarea(attrs={"rows": 2}),
            "findings": forms.Textarea(attrs={"rows": 4}),
        }

    def clean_held_on(self):
        value = self.cleaned_data["held_on"]
        if value > timezone.localdate():
            raise ValidationError(_("演練日期不可晚於今天。"))
        return value
