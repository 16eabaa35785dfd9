"""Forms of account requests (A-3): the request with its lines, and the action forms."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from isms.core.fields import ROCDateField, ROCDateTimeField
from isms.core.models import Person, Unit, extension_validator

from . import requests
from .models import AccountRequestLine

LINE_PREFIX = "lines"


def _bootstrap(form):
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class AccountRequestForm(forms.Form):
    """The head of A-3: who asks, their unit, extension and the date."""

    applicant = forms.ModelChoiceField(
        label=_("申請人"),
        queryset=Person.objects.none(),
        error_messages={
            "required": _("請選擇申請人。"),
            "invalid_choice": _("此人員不存在或已作廢。"),
        },
    )
    unit = forms.ModelChoiceField(
        label=_("所屬單位"),
        queryset=Unit.objects.none(),
        required=False,
        help_text=_("空白時依申請人的人員資料。"),
        error_messages={"invalid_choice": _("此單位不存在或已停用。")},
    )
    extension = forms.CharField(
        label=_("分機"),
        max_length=8,
        required=False,
        validators=[extension_validator],
        help_text=_("空白時依申請人的人員資料。"),
    )
    requested_on = ROCDateField(
        label=_("申請日期"), error_messages={"required": _("請填寫申請日期。")}
    )
    remarks = forms.CharField(
        label=_("備註"),
        max_length=requests.MAX_REMARKS,
        required=False,
        help_text=_("選填，印在申請單的備註欄，例如申請理由或授權依據。"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, request=None, instance=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)
        user = request.user if request is not None else None
        self.for_others = user is not None and requests.files_for_others(user)
        if self.for_others:
            self.fields["applicant"].queryset = Person.objects.active().order_by("name")
        else:
            del self.fields["applicant"]
        self.fields["unit"].queryset = Unit.objects.filter(is_active=True).order_by("name")
        _bootstrap(self)

    def clean_requested_on(self):
        value = self.cleaned_data.get("requested_on")
        if value is not None and value > timezone.localdate():
            raise ValidationError(_("申請日期不可晚於今天。"))
        return value


class LineForm(forms.Form):
    """One line of A-3: a system, an account, what to do with it."""

    system = forms.TypedChoiceField(
        label=_("系統名稱"),
        coerce=int,
        empty_value=None,
        error_messages={
            "required": _("請選擇系統。"),
            "invalid_choice": _("此系統不在資訊系統清冊中或已作廢，不可申請。"),
        },
    )
    account_name = forms.CharField(
        label=_("帳號"), max_length=150, error_messages={"required": _("請填寫帳號。")}
    )
    action = forms.ChoiceField(
        label=_("申請項目"),
        choices=[("", "---------"), *AccountRequestLine.Action.choices],
        error_messages={
            "required": _("請選擇申請項目。"),
            "invalid_choice": _("請選擇申請項目。"),
        },
    )
    note = forms.CharField(label=_("說明"), max_length=300, required=False)

    def __init__(self, *args, systems=None, system_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.systems = systems or {}
        self.fields["system"].choices = [
            ("", "---------"),
            *(system_choices or ((pk, s.name) for pk, s in self.systems.items())),
        ]
        _bootstrap(self)
        for field in self.fields.values():  # the table's header is the only visible label
            field.widget.attrs.setdefault("aria-label", str(field.label))

    def clean_system(self):
        pk = self.cleaned_data.get("system")
        return self.systems.get(pk) if pk is not None else None


def system_label(system) -> str:
    """A system as the line offers it, marked when not everyone may ask for an account
    on it (rule 2 of :mod:`isms.identity.requests`; 刪除 and 停用 are always asked)."""
    if not system.requests_open:
        return gettext("%(name)s（不開放申請，僅可申請刪除、停用）") % {"name": system.name}
    units = sorted(u.name for u in system.request_units.all())
    if units:
        return gettext("%(name)s（限%(units)s申請）") % {
            "name": system.name,
            "units": "、".join(units),
        }
    return system.name


class BaseLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, **kwargs):
        systems = {s.pk: s for s in requests.systems_open_for_requests()}
        form_kwargs = kwargs.setdefault("form_kwargs", {})
        form_kwargs["systems"] = systems
        form_kwargs["system_choices"] = [(pk, system_label(s)) for pk, s in systems.items()]
        kwargs.setdefault("prefix", LINE_PREFIX)
        super().__init__(*args, **kwargs)

    def filled(self):
        """The forms with something entered, in order (blank rows are ignored)."""
        return [f for f in self.forms if f.has_changed()]

    def clean(self):
        if any(self.errors):
            return
        if not self.filled():
            raise ValidationError(_("請至少填寫一項申請項目。"))


LineFormSet = forms.formset_factory(
    LineForm,
    formset=BaseLineFormSet,
    extra=3,
    max_num=requests.MAX_LINES,
    validate_max=True,
    absolute_max=requests.MAX_LINES,
)


class ExecuteForm(forms.Form):
    """How and when a line was executed; for 新增 and 重新啟用 also the authorisation check."""

    executed_at = ROCDateTimeField(
        label=_("執行時間"), error_messages={"required": _("請填寫執行時間。")}
    )
    execution_note = forms.CharField(
        label=_("執行說明"),
        max_length=300,
        help_text=_("如何執行，例如：已於系統建立帳號並設定預設通行碼，以紙本交付申請人。"),
        error_messages={"required": _("請說明執行方式。")},
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    authorisation_checked = forms.BooleanField(
        label=_("已確認經系統管理單位授權"),
        required=False,  # the service refuses without it, with its own message
        help_text=_("新增或重新啟用帳號前，確認申請人已經系統管理單位授權使用此系統（條文 2.7）。"),
    )

    def __init__(self, *args, line=None, **kwargs):
        super().__init__(*args, **kwargs)
        if line is not None and line.action not in requests.NEEDS_AUTHORISATION:
            del self.fields["authorisation_checked"]
        _bootstrap(self)


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=_("覆核意見"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("退回理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("請說明退回理由。")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)
