"""The asset register's forms: the asset (its kind's details) and the state action (A-1)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from isms.core.fields import ROCDateTimeField
from isms.core.forms import ModelForm
from isms.core.models import Person, Unit
from isms.identity.models import InformationSystem

from . import services
from .models import Asset

State = Asset.State
Kind = Asset.Kind

# The kinds each group of fields applies to (the form shows a group for its kinds only).
GROUPS = {
    "server": (Kind.SERVER,),
    "shared": (Kind.PC,),
    "official": tuple(sorted(Asset.PORTABLE | Asset.MEDIA)),
    "portable": tuple(sorted(Asset.PORTABLE)),
    "media": tuple(sorted(Asset.MEDIA)),
    "computer": tuple(sorted(Asset.COMPUTERS)),
}
# States a new asset may be registered in; later changes go through the state action.
ENTRY_STATES = (State.NEW, State.IN_USE, State.STORAGE)


class AssetForm(ModelForm):
    """Add or edit an asset. Its state is chosen when it is registered and changed later
    only by the state action of its page (A-1 rules), never by this form."""

    antivirus_updated_at = ROCDateTimeField(label=_("病毒碼更新時間"), required=False)
    patched_at = ROCDateTimeField(label=_("最近更新修補時間"), required=False)
    # 7.10: shown for equipment holding personal data that has been in service.
    correction = forms.CharField(
        label=_("更正說明（非移轉他用）"),
        required=False,
        max_length=300,
        help_text=_(
            "存有個人資料的設備，變更用途、保管人或使用單位須經啟用與報廢紀錄單（A-1）"
            "「移轉他用」（條文 7.10）。僅更正登記錯誤（例如錯字、誤植保管人）時，請說明更正原因；"
            "說明記入稽核軌跡。"
        ),
    )

    class Meta(ModelForm.Meta):
        model = Asset
        fields = [
            "kind",
            "property_number",
            "name",
            "brand",
            "model",
            "serial",
            "location",
            "unit",
            "custodian",
            "purpose",
            "state",
            "stores_personal_data",
            "systems",
            "shared",
            "downloads_restricted",
            "installs_restricted",
            "data_access_restricted",
            "official_use",
            "protection",
            "sensitivity",
            "media_control",
            "antivirus",
            "antivirus_updated_at",
            "auto_updates",
            "patched_at",
            "software_licensed",
            "licence_evidence",
            "screen_lock",
            "notes",
        ]
        widgets = {
            "licence_evidence": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "systems": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "systems": _("建議依應用系統設置專屬主機（條文 2.1）；可按 Ctrl 複選。"),
            "shared": _("電腦教室、教師休息室等共用電腦，應以特定功能為目的（條文 2.6）。"),
            "sensitivity": _("儲存媒體必填：依資料機敏性實施控管（條文 4.3）。"),
            "licence_evidence": _("授權合約、序號或採購文號（條文 2.2.2）。"),
        }

    @staticmethod
    def groups() -> dict[str, str]:
        """Each group of fields with the kinds it applies to, for the page's script."""
        return {name: " ".join(kinds) for name, kinds in GROUPS.items()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        if self.instance.pk is not None:
            del fields["state"]  # see the class docstring
        else:
            fields["state"].choices = [(s.value, s.label) for s in ENTRY_STATES]
            fields["state"].help_text = _(
                "伺服器與公務用可攜式設備須先有經主管覆核的啟用紀錄（A-1）才能設為使用中。"
            )
        if self.instance.pk is None or not services.in_transfer_scope(self.instance.state, True):
            del fields["correction"]  # nothing registered in service to correct
        fields["unit"].queryset = Unit.objects.order_by("name")
        fields["custodian"].queryset = Person.objects.active().order_by("name")
        fields["systems"].queryset = InformationSystem.objects.active().order_by("name")
        fields["systems"].required = False
        for name in ("antivirus_updated_at", "patched_at"):
            fields[name].widget.attrs.setdefault("class", "form-control")

    def clean(self):
        """Blank what the kind does not have, then the register's rules (services)."""
        data = super().clean()
        kind = data.get("kind")
        if kind != Kind.SERVER:
            data["systems"] = []  # hidden for other kinds: not a mistake of the person
        if kind != Kind.PC:
            data["shared"] = False
        if kind is None:
            return data
        names = {f.name for f in Asset._meta.concrete_fields} & set(data)
        probe = Asset(pk=self.instance.pk, **{n: data[n] for n in names})
        if self.instance.pk is not None:
            probe.state = self.instance.state
        services.clear_unrelated(probe)
        for name in services.CLEARED_FIELDS:
            if name in data:
                data[name] = getattr(probe, name)
        errors = services.register_errors(
            probe, systems=data.get("systems"), correction=data.get("correction", "")
        )
        for name, message in errors.items():
            field = name if name in self.fields else None
            if field is None or field not in self.errors:
                self.add_error(field, message)
        return data

    def save(self, commit=True):
        asset = super().save(commit=False)
        return services.save_asset_entry(
            asset,
            actor=self.request.user,
            systems=self.cleaned_data.get("systems"),
            correction=self.cleaned_data.get("correction", ""),
        )


class StateForm(forms.Form):
    """The state action of an asset's page: 啟用, 庫存, 維修中, 報廢 (A-1 rules)."""

    state = forms.ChoiceField(
        label=_("狀態"), choices=[(s.value, s.label) for s in State if s != State.NEW]
    )
