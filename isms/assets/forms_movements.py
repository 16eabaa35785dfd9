"""Forms of equipment movements (A-7, 3.6) and outside repairs (7.9).

The forms check shapes only (a date that parses, a choice that exists); the rules are
:mod:`isms.assets.movements`', whose errors the views put on these forms' fields.
"""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from isms.core.fields import ROCDateField, ROCDateTimeField
from isms.core.forms import ModelForm
from isms.core.models import Person

from . import movements
from .models import Asset, EquipmentMovement, RepairVisit

# What a teacher takes out: portable devices, storage media and other equipment. A PC or a
# server is taken out from its own page (the add link names it), so the list stays short.
LENDABLE = Asset.PORTABLE | Asset.MEDIA | {Asset.Kind.OTHER}


def _bootstrap(form):
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


def _pk(value):
    value = getattr(value, "pk", value)
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def asset_choices(kinds=None, selected=None):
    """The assets a form offers, grouped by kind: those not decommissioned (of ``kinds``
    when given) and the one already chosen; those out or under repair say so."""
    offered = Q(voided_at__isnull=True) & ~Q(state=Asset.State.DECOMMISSIONED)
    if kinds is not None:
        offered &= Q(kind__in=kinds)
    chosen = _pk(selected)
    if chosen:
        offered |= Q(pk=chosen)
    qs = Asset.objects.filter(offered)
    out = set(
        EquipmentMovement.objects.active()
        .filter(status=EquipmentMovement.Status.OUT)
        .values_list("asset_id", flat=True)
    )
    order = {value: n for n, value in enumerate(Asset.Kind.values)}
    groups: dict[str, list] = {}
    for asset in sorted(qs, key=lambda a: (order.get(a.kind, 99), a.property_number, a.name)):
        label = str(asset)
        if asset.pk in out:
            label += str(_("（已攜出）"))
        elif asset.state == Asset.State.REPAIR:
            label += str(_("（維修中）"))
        groups.setdefault(str(asset.get_kind_display()), []).append((asset.pk, label))
    return [("", "---------"), *groups.items()]


class AssetField(forms.ModelChoiceField):
    """Any asset of the register is accepted (the service says why one may not be used,
    citing the clause); the list shown is set by the form."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Asset.objects.all())
        kwargs.setdefault("label", _("設備"))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def label_from_instance(self, obj):
        return str(obj)


class MovementForm(forms.Form):
    """A request to take equipment out (設備進出紀錄表, A-7)."""

    asset = AssetField(
        help_text=_(
            "清單列出筆記型電腦、平板等可攜式設備與儲存媒體；其他設備請洽設備組長，"
            "或由該設備的頁面申請。"
        )
    )
    borrower = forms.ModelChoiceField(
        label=_("攜出人"),
        queryset=Person.objects.active().order_by("name"),
        required=False,
        help_text=_("實際攜出並負責保管的人員。"),
    )
    reason = forms.CharField(label=_("攜出事由"), max_length=300, required=False)
    repair = forms.BooleanField(
        label=_("送修"),
        required=False,
        help_text=_("設備送出維修：維修中的設備只能因送修攜出（條文 3.6）。"),
    )
    destination = forms.CharField(label=_("攜往地點"), max_length=200, required=False)
    out_on = ROCDateField(label=_("攜出日期"), required=False)
    due_on = ROCDateField(label=_("預定歸還日期"), required=False)

    field_order = ["asset", "borrower", "reason", "repair", "destination", "out_on", "due_on"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        user = getattr(request, "user", None)
        self.for_others = user is not None and movements.files_for_others(user)
        if not self.for_others:
            del self.fields["borrower"]
        selected = self.data.get("asset") if self.is_bound else self.initial.get("asset")
        self.fields["asset"].widget.choices = asset_choices(LENDABLE, selected)
        self.fields["due_on"].help_text = _("最長 %(n)d 天。") % {"n": movements.max_days()}
        for name in ("asset", "reason", "destination", "out_on", "due_on"):
            self.fields[name].widget.attrs["required"] = True
        _bootstrap(self)


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("核准說明"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class RefuseForm(NoteForm):
    note = forms.CharField(
        label=_("不核准理由"),
        max_length=300,
        required=False,  # the service refuses without it, with its own message
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CheckOutForm(forms.Form):
    checked_out_at = ROCDateTimeField(
        label=_("攜出時間"), error_messages={"required": _("請填寫攜出時間。")}
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class ReturnForm(forms.Form):
    returned_at = ROCDateTimeField(
        label=_("歸還時間"), error_messages={"required": _("請填寫歸還時間。")}
    )
    return_condition = forms.CharField(
        label=_("歸還狀況"),
        max_length=300,
        required=False,  # the service refuses without it, with its own message
        help_text=_("例如：良好；有損壞：螢幕刮傷。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class RepairVisitForm(ModelForm):
    """An outside repair or maintenance (7.9); saved through the service."""

    asset = AssetField(required=True)

    class Meta(ModelForm.Meta):
        model = RepairVisit
        fields = ["asset", "visited_on", "party", "work", "offsite", "present", "data_protection"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        selected = self.data.get("asset") if self.is_bound else self.initial.get("asset")
        if selected is None and self.instance.pk:
            selected = self.instance.asset_id
        self.fields["asset"].widget.choices = asset_choices(None, selected)
        self.fields["asset"].widget.attrs["class"] = "form-select"
        self.fields["present"].queryset = (
            Person.objects.active().exclude(kind=Person.Kind.VENDOR).order_by("name")
        )
        self.fields["present"].help_text = _(
            "儲存個人資料的設備由外部人員維修或更新時，須指派本校專人在場（條文 7.9）。"
        )

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        for name, message in movements.check_repair(self.instance).items():
            self.add_error(name if name in self.fields else None, message)

    def save(self, commit=True):
        return movements.save_repair(self.instance, actor=self.request.user)
