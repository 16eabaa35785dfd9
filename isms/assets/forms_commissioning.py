"""Forms of the 啟用與報廢紀錄單 (A-1): filing a record and the supervisor's review.

The rules are ``commissioning.check_record``'s; the view puts its errors on these fields.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from isms.core.forms import ModelForm
from isms.core.models import Person, Unit

from .models import Asset, CommissioningRecord


class AssetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj}（{obj.get_kind_display()}）"


class CommissioningRecordForm(ModelForm):
    """執行人 is the person signed in; the asset is fixed once the record is filed."""

    asset = AssetChoiceField(label=_("資產"), queryset=Asset.objects.none())

    class Meta(ModelForm.Meta):
        model = CommissioningRecord
        fields = [
            "asset",
            "kind",
            "executed_on",
            "use",
            "model_text",
            "virus_scan",
            "default_password_changed",
            "system_updated",
            "wiped",
            "wipe_method",
            "new_custodian",
            "new_unit",
            "other",
        ]
        widgets = {"kind": forms.RadioSelect}
        help_texts = {
            "wipe_method": _("例如：以工具覆寫全磁碟、消磁、實體破壞。"),
            "new_custodian": _("設備移交他人保管時填寫；空白表示保管人不變。"),
            "new_unit": _("設備移交其他單位使用時填寫；空白表示使用單位不變。"),
            "other": _(
                "其他已執行的檢查；伺服器或公務用可攜式設備未勾選的啟用檢查項目，"
                "請寫明項目名稱及原因（例如「系統更新：廠商尚未釋出更新，已排定 115/12/1 更新」）。"
            ),
        }

    def __init__(self, *args, asset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs["class"] = "form-check-input"
        self.fields["kind"].choices = CommissioningRecord.Kind.choices  # no empty choice
        self.fields["new_custodian"].queryset = Person.objects.active().exclude(
            status=Person.Status.LEFT
        )
        self.fields["new_unit"].queryset = Unit.objects.order_by("name")
        field = self.fields["asset"]
        if self.instance.pk is not None:
            # A filed record keeps its asset: shown, not changed.
            field.queryset = Asset.objects.filter(pk=self.instance.asset_id)
            field.disabled = True
            field.empty_label = None
        elif asset is not None:
            # Opened from the asset's page (?asset=): that asset only.
            field.queryset = Asset.objects.filter(pk=asset.pk)
            field.empty_label = None
        else:
            field.queryset = (
                Asset.objects.active()
                .exclude(state=Asset.State.DECOMMISSIONED)
                .order_by("property_number", "id")
            )

    @property
    def commission_fields(self):
        return [self[name] for name in ("virus_scan", "default_password_changed", "system_updated")]

    @property
    def exit_fields(self):
        return [self["wiped"], self["wipe_method"]]

    @property
    def transfer_fields(self):
        return [self["new_custodian"], self["new_unit"]]

    @property
    def head_fields(self):
        return [self[name] for name in ("asset", "executed_on", "use", "model_text")]


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=_("覆核意見"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
