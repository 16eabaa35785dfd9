"""Forms of the core records. Dates are entered and shown in the ROC calendar."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import roc, services
from .fields import ROCDateField
from .models import ContactEntry, Person, SchoolProfile, Unit, User
from .roles import ROLES


def roc_formfield(db_field, **kwargs):
    if isinstance(db_field, models.DateField) and not isinstance(db_field, models.DateTimeField):
        kwargs.setdefault("form_class", ROCDateField)
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


def add_service_errors(form, error) -> None:
    """Put a service's ValidationError on a form: its fields' errors on those fields, the
    rest (``__all__``, fields the form lacks) above the form."""
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


class ModelForm(forms.ModelForm):
    """Base of every register form: takes the request, uses ROC date fields."""

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")

    class Meta:
        formfield_callback = roc_formfield


# The help under a moment entered in ROC (民國) form.
ROC_MOMENT_HELP = _("民國年/月/日 時:分，例如 115/11/28 14:05（24 小時制）。")


def checklist_errors(errors: dict) -> dict:
    """A checklist service's ``items.<key>`` errors as the form's ``result_<key>`` fields
    (the other fields' errors unchanged): a room inspection, an office self-check."""
    out = {}
    for name, messages_ in errors.items():
        key = f"result_{name[6:]}" if name.startswith("items.") else name
        out.setdefault(key, []).extend(messages_)
    return out


def boolean_radio(label, choices, *, initial: bool, help_text=""):
    """A yes/no question as radio buttons: ``choices`` are (bool, label) in the order shown;
    nothing chosen counts as ``initial``."""
    return forms.TypedChoiceField(
        label=label,
        choices=[(str(value), text) for value, text in choices],
        coerce=lambda value: value == "True",
        empty_value=initial,
        required=False,
        initial=str(initial),
        widget=forms.RadioSelect,
        help_text=help_text,
    )


class LoginChoiceField(forms.ModelChoiceField):
    """A login, shown by its name (the person's, else the username)."""

    def label_from_instance(self, obj):
        return str(obj)


class VoidForm(forms.Form):
    reason = forms.CharField(
        label=_("作廢原因"),
        min_length=2,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )


class UnitForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = Unit
        fields = ["name", "code", "parent", "phone", "is_active"]

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        node = parent
        while node is not None and self.instance.pk is not None:
            if node.pk == self.instance.pk:
                raise ValidationError(_("上級單位不可為自己或下級單位。"))
            node = node.parent
        return parent


class PersonForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = Person
        fields = [
            "name",
            "english_name",
            "kind",
            "unit",
            "title",
            "email",
            "extension",
            "phone",
            "birthday",
            "national_id",
            "organization",
            "status",
            "onboard_date",
            "leave_date",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def clean_national_id(self):
        return (self.cleaned_data.get("national_id") or "").strip().upper()

    def clean(self):
        data = super().clean()
        onboard, leave = data.get("onboard_date"), data.get("leave_date")
        if onboard and leave and leave < onboard:
            self.add_error("leave_date", _("離職日不可早於到職日。"))
        if data.get("status") == Person.Status.LEFT and not leave:
            self.add_error("leave_date", _("離職人員請填寫離職日。"))
        if data.get("kind") == Person.Kind.VENDOR and not data.get("organization"):
            self.add_error("organization", _("委外廠商人員請填寫所屬公司。"))
        return data


class SchoolProfileForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = SchoolProfile
        fields = [
            "name",
            "short_name",
            "english_name",
            "address",
            "phone",
            "oid",
            "platform_url",
            "first_semester_start_month",
            "first_semester_start_day",
            "second_semester_start_month",
            "second_semester_start_day",
        ]

    def clean(self):
        data = super().clean()
        names = [
            f"{p}_semester_start_{part}" for p in ("first", "second") for part in ("month", "day")
        ]
        values = [data.get(name) for name in names]
        if None not in values:
            try:
                roc.validate_term_starts((values[0], values[1]), (values[2], values[3]))
            except ValueError as error:
                self.add_error("first_semester_start_day", str(error))
        return data


class ContactEntryForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = ContactEntry
        fields = ["person", "name", "phone", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.active().order_by("name")
        self.fields["person"].required = False

    def clean(self):
        data = super().clean()
        person = data.get("person")
        if person is not None:
            data["name"] = data.get("name") or person.name
            data["phone"] = data.get("phone") or person.phone or person.extension
            data["email"] = data.get("email") or person.email
        return data


ContactFormSet = forms.modelformset_factory(
    ContactEntry, form=ContactEntryForm, extra=0, can_delete=False
)


class UserCreateForm(ModelForm):
    roles = forms.MultipleChoiceField(
        label=_("角色"),
        choices=[(code, label) for code, (label, _desc) in ROLES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta(ModelForm.Meta):
        model = User
        fields = ["username", "person", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.active().filter(user__isnull=True)
        self.fields["roles"].widget.attrs.pop("class", None)

    def save(self, commit=True):
        user, self.password = services.user_create(
            actor=self.request.user,
            username=self.cleaned_data["username"],
            person=self.cleaned_data.get("person"),
            email=self.cleaned_data.get("email", ""),
            roles=self.cleaned_data.get("roles", []),
        )
        return user


class UserEditForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = User
        fields = ["person", "email", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.active().filter(
            models.Q(user__isnull=True) | models.Q(user=self.instance)
        )


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=_("角色"),
        choices=[(code, label) for code, (label, _desc) in ROLES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("帳號或通行碼錯誤。"),
        "inactive": _("此帳號已停用。"),
        "default_expired": _("預設通行碼已逾期（條文 2.9.1），請洽系統管理人員重新設定。"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("帳號")
        self.fields["password"].label = _("通行碼")
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if services.default_password_expired(user):
            raise ValidationError(self.error_messages["default_expired"], code="default_expired")


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("目前通行碼"), strip=False, widget=forms.PasswordInput(render_value=False)
    )
    new_password1 = forms.CharField(
        label=_("新通行碼"), strip=False, widget=forms.PasswordInput(render_value=False)
    )
    new_password2 = forms.CharField(
        label=_("再輸入一次新通行碼"), strip=False, widget=forms.PasswordInput(render_value=False)
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"
            field.widget.attrs["autocomplete"] = "new-password"
        self.fields["old_password"].widget.attrs["autocomplete"] = "current-password"

    def clean_old_password(self):
        value = self.cleaned_data["old_password"]
        if not self.user.check_password(value):
            raise ValidationError(_("目前通行碼不正確。"), code="password_incorrect")
        return value

    def clean(self):
        data = super().clean()
        new1, new2 = data.get("new_password1"), data.get("new_password2")
        if new1 and new2 and new1 != new2:
            self.add_error("new_password2", _("兩次輸入的新通行碼不一致。"))
        elif new1:
            try:
                password_validation.validate_password(new1, self.user)
            except ValidationError as error:
                self.add_error("new_password1", error)
        return data

    def save(self):
        return services.password_change(self.user, new_password=self.cleaned_data["new_password1"])


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("用途名稱"), max_length=100, widget=forms.TextInput(attrs={"class": "form-control"})
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=_("檔案"), widget=forms.ClearableFileInput(attrs={"class": "form-control"})
    )
    description = forms.CharField(
        label=_("說明"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        services.check_upload(upload)
        return upload
