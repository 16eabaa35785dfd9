"""The asset register (2.1, 2.2, 2.3.2, 2.6, 4): list, page, form, state action, export, API.

What the policy still asks of each asset (a server hosting several systems, a shared PC
without its controls, an unprotected notebook, a medium without control, stale antivirus
or updates, unconfirmed licences, no screen lock) is its 待處理 column and filter; the
rules are in ``services`` (``findings`` / ``finding_q``). The state changes only through
the page's state action (``services.change_state``: the A-1 rules), never through the form.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _

from isms.core.access import Access, can, user_roles
from isms.core.forms import add_service_errors
from isms.core.generic import AddPage, DetailPage, EditPage, url_or_none
from isms.core.registers import Column, Register, as_text, resolve
from isms.core.roles import EQUIPMENT_HEAD, MANAGERS, STAFF, SYSADMIN
from isms.identity.models import InformationSystem

from . import movements, services
from .api import AssetSerializer, AssetViewSet
from .filters import AssetFilterSet
from .forms import AssetForm, StateForm
from .models import Asset, CommissioningRecord, EquipmentMovement
from .nav import NAV

State = Asset.State
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}
KEEPERS = frozenset({EQUIPMENT_HEAD, SYSADMIN})


def own_assets_only(queryset, user, action):
    """Teachers see the equipment in their keeping (保管人); the office sees all."""
    if user_roles(user) & READERS:
        return queryset
    return queryset.filter(custodian_id=user.person_id) if user.person_id else queryset.none()


ASSET_ACCESS = Access(
    view=READERS | {STAFF},
    add=KEEPERS,
    change=KEEPERS,
    void=KEEPERS,
    export=READERS,
    scope=own_assets_only,
)


def choice_label(choices):
    """A choice's label from a table made once per language (the list's hot path: Django's
    ``get_FOO_display`` translates every label of the field for each row)."""
    tables = {}

    def label(obj, name):
        language = get_language()
        table = tables.get(language)
        if table is None:
            table = tables[language] = {value: str(text) for value, text in choices}
        value = getattr(obj, name)
        return table.get(value, value)

    return label


_kind = choice_label(Asset.Kind.choices)
_state = choice_label(State.choices)


def _systems(asset) -> str:
    return "、".join(s.name for s in asset.systems.all() if s.voided_at is None)


def _shared_controls(asset) -> str:
    if not asset.shared:
        return ""
    names = ("downloads_restricted", "installs_restricted", "data_access_restricted")
    return "、".join(
        str(Asset._meta.get_field(n).verbose_name) for n in names if getattr(asset, n)
    ) or _("未設定")


# The details each kind has, in the order its page shows them.
BASE_FIELDS = (
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
)
SHARED_FIELDS = ("shared", "downloads_restricted", "installs_restricted", "data_access_restricted")
COMPUTER_FIELDS = (
    "antivirus",
    "antivirus_updated_at",
    "auto_updates",
    "patched_at",
    "software_licensed",
    "licence_evidence",
    "screen_lock",
)


def detail_fields(asset) -> list[str]:
    names = list(BASE_FIELDS)
    if asset.kind == Asset.Kind.PC:
        names += SHARED_FIELDS if asset.shared else ("shared",)
    if asset.portable:
        names += ("official_use", "protection")
    if asset.medium:
        names += ("official_use", "sensitivity", "media_control")
    if asset.kind in Asset.COMPUTERS:
        names += COMPUTER_FIELDS
    return [*names, "notes", "created_at", "updated_at"]


class AssetRegister(Register):
    model = Asset
    clause = "2.1"
    access = ASSET_ACCESS
    columns = [
        Column("property_number", gettext_lazy("財產編號")),
        # The name opens the asset: a USB stick off the property list has no number.
        Column("name", gettext_lazy("名稱"), link=True),
        Column("kind", gettext_lazy("類別"), accessor=lambda a: _kind(a, "kind"), sort="kind"),
        Column("location", gettext_lazy("放置地點")),
        Column("unit", gettext_lazy("使用單位"), accessor="unit.name", sort="unit__name"),
        Column(
            "custodian", gettext_lazy("保管人"), accessor="custodian.name", sort="custodian__name"
        ),
        Column("state", gettext_lazy("狀態"), accessor=lambda a: _state(a, "state"), sort="state"),
        Column("findings", gettext_lazy("待處理"), accessor=services.findings_text, sort=None),
        Column("brand", gettext_lazy("廠牌"), page=False),
        Column("model", gettext_lazy("型號"), page=False),
        Column("serial", gettext_lazy("序號"), page=False),
        Column("purpose", gettext_lazy("用途"), page=False),
        Column("systems", gettext_lazy("承載的資訊系統"), accessor=_systems, page=False),
        Column("shared", gettext_lazy("共用電腦"), page=False),
        Column(
            "shared_controls", gettext_lazy("共用電腦管控"), accessor=_shared_controls, page=False
        ),
        Column("official_use", gettext_lazy("公務用"), page=False),
        Column("protection", gettext_lazy("保護機制"), page=False),
        Column("sensitivity", gettext_lazy("資料機敏性"), page=False),
        Column("media_control", gettext_lazy("控管措施"), page=False),
        Column("antivirus", gettext_lazy("已安裝防毒軟體"), page=False),
        Column("antivirus_updated_at", gettext_lazy("病毒碼更新時間"), page=False),
        Column("auto_updates", gettext_lazy("作業系統自動更新"), page=False),
        Column("patched_at", gettext_lazy("最近更新修補時間"), page=False),
        Column("software_licensed", gettext_lazy("軟體皆有授權"), page=False),
        Column("licence_evidence", gettext_lazy("授權證明"), page=False),
        Column("screen_lock", gettext_lazy("已設定螢幕保護或鎖定"), page=False),
        Column("stores_personal_data", gettext_lazy("存有個人資料"), page=False),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = AssetFilterSet
    form_class = AssetForm
    serializer_class = AssetSerializer
    viewset_base = AssetViewSet
    select_related = ("unit", "custodian")
    # The hosted systems (findings, export): only what they read.
    prefetch_related = (
        Prefetch("systems", queryset=InformationSystem.objects.only("id", "name", "voided_at")),
    )
    # The API gives the unit and custodian as ids, but reads the systems (findings).
    api_select_related = ()
    ordering = ("property_number", "id")
    route = "assets"
    url_prefix = "asset"
    nav_group = NAV
    nav_label = gettext_lazy("資產清冊")
    detail_template = "assets/asset_detail.html"

    @classmethod
    def detail_rows(cls, obj) -> list[tuple[str, str]]:
        """The fields the asset's kind has (a USB stick has no antivirus)."""
        rows = []
        for name in dict.fromkeys(detail_fields(obj)):
            label = Asset._meta.get_field(name).verbose_name
            rows.append((str(label), as_text(resolve(obj, name))))
        return rows


# The state action: what each state may become, and the button that does it.
ACTIONS = {
    State.IN_USE: pgettext_lazy("action", "啟用"),
    State.STORAGE: pgettext_lazy("action", "庫存"),
    State.REPAIR: pgettext_lazy("action", "維修中"),
    State.DECOMMISSIONED: pgettext_lazy("action", "報廢"),
}


class AssetDetail(DetailPage):
    """An asset: its details, what the policy still asks, the hosted systems, its A-1
    records and movements, and the state action for those who keep the register."""

    register = AssetRegister

    def get(self, request, pk, *, status=200, **extra):
        asset = self.get_object("view")
        keeper = can(request.user, "change", self.access)
        state_open = keeper and asset.voided_at is None and asset.state != State.DECOMMISSIONED
        extra.setdefault(
            "actions",
            [(s.value, label) for s, label in ACTIONS.items() if s != asset.state]
            if state_open
            else [],
        )
        extra["findings"] = [
            (services.FINDINGS[code][1], services.FINDINGS[code][2])
            for code in services.findings(asset)
        ]
        extra["systems"] = list(
            InformationSystem.objects.filter(hosts=asset)
            .select_related("owner_unit")
            .order_by("name")
        )
        extra["records"] = [
            (r, url_or_none("assets:commissioningrecord_detail", r.pk))
            for r in CommissioningRecord.objects.filter(asset=asset).order_by(
                "-executed_on", "-id"
            )[:10]
        ]
        extra["movements"] = [
            (m, url_or_none("assets:equipmentmovement_detail", m.pk))
            for m in EquipmentMovement.objects.filter(asset=asset)
            .select_related("borrower")
            .order_by("-out_on", "-id")[:5]
        ]
        extra["links"] = {
            "commission": keeper
            and url_or_none(
                "assets:commissioningrecord_add", query=f"asset={asset.pk}&kind=commission"
            ),
            "decommission": keeper
            and url_or_none(
                "assets:commissioningrecord_add", query=f"asset={asset.pk}&kind=decommission"
            ),
            "reuse": keeper
            and url_or_none("assets:commissioningrecord_add", query=f"asset={asset.pk}&kind=reuse"),
            "records": url_or_none("assets:commissioningrecord_list", query=f"asset={asset.pk}"),
            # Anyone with a role may ask to take equipment out (3.6); repairs are the keepers'.
            "move": asset.state != State.DECOMMISSIONED
            and url_or_none("assets:equipmentmovement_add", query=f"asset={asset.pk}"),
            "movements": url_or_none("assets:equipmentmovement_list", query=f"asset={asset.pk}"),
            "repair": keeper
            and asset.state != State.DECOMMISSIONED
            and url_or_none("assets:repairvisit_add", query=f"asset={asset.pk}"),
            "repairs": keeper and url_or_none("assets:repairvisit_list", query=f"asset={asset.pk}"),
        }
        extra["out_with"] = movements.current(asset)
        extra["needs_commissioning"] = services.needs_commissioning(asset)
        return super().get(request, pk, status=status, **extra)


class AssetStateView(AssetDetail):
    """Put in use, store, send to repair or decommission; a refusal shows the rule (400)."""

    action = "change"

    def post(self, request, pk):
        asset = self.get_object()
        form = StateForm(request.POST)
        if asset.voided_at is not None:
            form.add_error(None, _("此筆資料已作廢。"))
        if form.is_valid():
            try:
                asset = services.change_state(asset, form.cleaned_data["state"], actor=request.user)
            except ValidationError as error:
                add_service_errors(form, error)
        if form.errors:
            return self.get(request, pk, status=400, state_form=form)
        messages.success(
            request,
            _("「%(asset)s」已改為%(state)s。")
            % {"asset": asset, "state": asset.get_state_display()},
        )
        return redirect(asset.get_absolute_url())


class AssetFormMixin:
    """Add and edit through the services; a rule broken meanwhile is shown, not a 500."""

    template_name = "assets/asset_form.html"

    def context(self, **extra):
        obj = extra.get("object")
        if obj is not None and obj.pk is not None:
            extra.setdefault(
                "transfer_url",
                url_or_none("assets:commissioningrecord_add", query=f"asset={obj.pk}&kind=reuse"),
            )
        return super().context(groups=AssetForm.groups(), **extra)

    def post(self, request, pk=None):
        form = self.make_form(self.get_instance(), request.POST, request.FILES)
        if form.is_valid():
            try:
                with transaction.atomic():
                    asset = form.save()
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("已儲存「%(obj)s」。") % {"obj": asset})
                return redirect(asset.get_absolute_url())
        ctx = self.context(form=form, object=form.instance)
        return render(request, self.template_name, ctx, status=400)


class AssetAdd(AssetFormMixin, AddPage):
    pass


class AssetEdit(AssetFormMixin, EditPage):
    pass


AssetRegister.detail_view = AssetDetail
AssetRegister.add_view = AssetAdd
AssetRegister.edit_view = AssetEdit

urlpatterns = [
    path("assets/<int:pk>/state/", AssetStateView.as_view(), name="asset_state"),
    *AssetRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(AssetRegister, "assets")]


def _asset_void_error(cls, asset) -> str | None:
    """Only a record entered by mistake is voided: never equipment that was put to use."""
    return services.void_error(asset)


AssetRegister.void_error = classmethod(_asset_void_error)
