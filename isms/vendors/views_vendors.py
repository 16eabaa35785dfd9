"""Pages and API of vendors and contracts (6.1, 6.2).

- 委外廠商 (``/vendors/vendors/``, ``/api/vendors/``): the register of outsourced service
  companies, with their contacts edited on the vendor's form (an inline formset) or on
  the contacts page (``vendors/<id>/contacts/``), one save, all or nothing. The API gives
  the contacts nested, read only.
- 委外合約 (``/vendors/contracts/``, ``/api/contracts/``): contracts with their services,
  security and confidentiality terms (6.1.1: a contract lacking either is a finding,
  filtered by 「未訂資安或保密條款」 and shown red on its page), the systems they serve and
  the vendor's people. A contract's page shows its people, their accounts and their
  account-removal tasks (6.2).

Access: the security officer and system administrators keep them; the supervisor and the
principal read. The rules are in ``vendors``; these views only call it.
"""

import html

import django_filters as df
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.forms.utils import flatatt
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from rest_framework import serializers

from isms.core.access import Access, can
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm, add_service_errors
from isms.core.generic import AddPage, DetailPage, EditPage, RegisterView, url_or_none
from isms.core.models import Person
from isms.core.registers import Column, Register
from isms.core.restapi import ModelSerializer, service_errors
from isms.core.roles import MANAGERS, SECURITY_OFFICER, SYSADMIN
from isms.facilities.views_visits import VISIT_ACCESS

from . import vendors
from .models import Contract, Vendor, VendorContact
from .nav import NAV

KEEPERS = frozenset({SECURITY_OFFICER, SYSADMIN})
READERS = MANAGERS | KEEPERS
# Server-room visits listed on a vendor's page.
VISITS_SHOWN = 10
VENDOR_ACCESS = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)
CONTRACT_ACCESS = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)

STATE_CHOICES = [
    ("running", gettext_lazy("執行中")),
    ("upcoming", gettext_lazy("尚未開始")),
    ("ended", gettext_lazy("已終止")),
]


def _labels(choices):
    tables = {}

    def label(value):
        language = get_language()
        table = tables.get(language)
        if table is None:
            table = tables[language] = {v: str(text) for v, text in choices}
        return table.get(value, value)

    return label


_state = _labels(STATE_CHOICES)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.display_name}（{obj.username}）"


class PersonChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.organization}）" if obj.organization else obj.name


class ServiceCheckedForm(ModelForm):
    """A form whose record is checked by the service: the model's own constraint checks
    (generic English messages) are left to the service's zh-TW ones."""

    service_checked: tuple[str, ...] = ()

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        exclude.update(self.service_checked)
        return exclude


# Vendors (6.1) -----------------------------------------------------------------------------------
def _vendor_count(rows):
    """How many of ``rows`` (a vendor's, through their ``vendor`` column) each vendor has:
    a correlated subquery, 0 when none."""
    counted = rows.filter(vendor=OuterRef("pk")).order_by().values("vendor")
    return Coalesce(
        Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
        Value(0),
        output_field=IntegerField(),
    )


def with_vendor_figures(qs):
    """Each vendor with its contacts and its contracts not ended, in the same query: both
    counted by correlated subqueries, so that the page counts its 50 vendors and the
    paginator's COUNT does not wrap a join of every vendor grouped."""
    today = timezone.localdate()
    current = Contract.objects.filter(voided_at__isnull=True, end_on__gte=today)
    return qs.annotate(
        contact_count=_vendor_count(VendorContact.objects.all()),
        current_contracts=_vendor_count(current),
    )


class VendorFilterSet(FilterSet):
    search_fields = ("name", "tax_id", "representative", "contacts__name", "notes")

    class Meta:
        model = Vendor
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        contacts = VendorContact.objects.filter(name__icontains=value).values("vendor")
        return queryset.filter(
            Q(name__icontains=value)
            | Q(tax_id__icontains=value)
            | Q(representative__icontains=value)
            | Q(notes__icontains=value)
            | Q(pk__in=contacts)
        )


class VendorForm(ServiceCheckedForm):
    """A vendor; its rules (統一編號 check digit, unique in use) are ``vendors.vendor_errors``."""

    service_checked = ("tax_id",)

    class Meta(ModelForm.Meta):
        model = Vendor
        fields = ["name", "tax_id", "representative", "address", "phone", "email", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tax_id"].widget.attrs.update({"inputmode": "numeric", "maxlength": "8"})


class ContactForm(forms.ModelForm):
    class Meta:
        model = VendorContact
        fields = ["name", "title", "phone", "email"]
        error_messages = {"name": {"required": gettext_lazy("請填寫聯絡人姓名。")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control form-control-sm")


ContactFormSet = forms.inlineformset_factory(
    Vendor, VendorContact, form=ContactForm, extra=1, can_delete=True
)


def contact_formset(vendor, data=None):
    return ContactFormSet(data=data, instance=vendor, prefix="contacts")


def contacts_from(formset) -> tuple[list[dict], list]:
    """The formset as the service's ``contacts`` (and the form of each, for its errors)."""
    wanted, owners = [], []
    for form in formset.forms:
        if form.instance.pk is None and not form.has_changed():
            continue
        data = form.cleaned_data
        wanted.append(
            {
                "id": form.instance.pk,
                **{name: data.get(name, "") for name in vendors.CONTACT_FIELDS},
                "delete": bool(data.get("DELETE")),
            }
        )
        owners.append(form)
    return wanted, owners


def put_contact_errors(formset, forms_, error) -> None:
    """A service's ``contacts.<i>.<field>`` errors on the forms they came from."""
    for key, messages_ in error.message_dict.items():
        if not key.startswith("contacts."):
            continue
        _prefix, index, field = key.split(".", 2)
        form = forms_[int(index)]
        form.add_error(field if field in form.fields else None, messages_)


def vendor_error_only(error) -> ValidationError:
    """The vendor's own errors of a service error (contacts' errors go on their forms)."""
    kept = {k: v for k, v in error.message_dict.items() if not k.startswith("contacts.")}
    return ValidationError(kept or {"__all__": [_("聯絡人資料有誤，請修正。")]})


class VendorSerializer(ModelSerializer):
    """A vendor with its contacts (read only); writes go through the service."""

    id = serializers.IntegerField(read_only=True)
    contacts = serializers.SerializerMethodField(label=gettext_lazy("聯絡人"))

    class Meta:
        model = Vendor
        fields = [
            "id",
            "name",
            "tax_id",
            "representative",
            "address",
            "phone",
            "email",
            "notes",
            "contacts",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = ["created_at", "updated_at", "voided_at"]
        extra_kwargs = {"tax_id": {"validators": []}, "email": {"validators": []}}

    def get_contacts(self, obj) -> list[dict]:
        return [
            {"id": c.pk, "name": c.name, "title": c.title, "phone": c.phone, "email": c.email}
            for c in obj.contacts.all()
        ]

    def _save(self, vendor):
        try:
            return vendors.save_vendor(vendor, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(Vendor(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class VendorRegister(Register):
    model = Vendor
    clause = "6.1"
    access = VENDOR_ACCESS
    columns = [
        Column("name", gettext_lazy("公司名稱"), link=True),
        Column("tax_id", gettext_lazy("統一編號")),
        Column("representative", gettext_lazy("負責人")),
        Column("phone", gettext_lazy("電話")),
        Column("email", gettext_lazy("電子郵件"), page=False),
        Column("address", gettext_lazy("地址"), page=False),
        Column(
            "contact_count",
            gettext_lazy("聯絡人"),
            accessor=lambda v: v.contact_count,
            sort="contact_count",
        ),
        Column(
            "current_contracts",
            gettext_lazy("未終止合約"),
            accessor=lambda v: v.current_contracts,
            sort="current_contracts",
        ),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = VendorFilterSet
    form_class = VendorForm
    serializer_class = VendorSerializer
    ordering = ("name", "id")
    route = "vendors"
    nav_group = NAV
    nav_label = gettext_lazy("委外廠商")
    detail_template = "vendors/vendors/vendor_detail.html"

    @classmethod
    def base_queryset(cls):
        return with_vendor_figures(super().base_queryset())

    @classmethod
    def api_queryset(cls):
        return super().api_queryset().prefetch_related("contacts")

    @classmethod
    def void_error(cls, obj):
        return vendors.vendor_void_error(obj)

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return vendors.void_vendor(obj, actor=actor, reason=reason)


class VendorFormPage:
    """The vendor and its contacts on one form; one save through the service."""

    template_name = "vendors/vendors/vendor_form.html"

    def page(self, form, formset, status=200):
        ctx = self.context(form=form, formset=formset, object=form.instance)
        return render(self.request, self.template_name, ctx, status=status)

    def get(self, request, pk=None):
        form = self.make_form(self.get_instance())
        return self.page(form, contact_formset(form.instance))

    def post(self, request, pk=None):
        form = self.make_form(self.get_instance(), request.POST)
        formset = contact_formset(form.instance, request.POST)
        form_ok = form.is_valid()
        if formset.is_valid() and form_ok:
            wanted, owners = contacts_from(formset)
            try:
                vendor = vendors.save_vendor(form.instance, actor=request.user, contacts=wanted)
            except ValidationError as error:
                add_service_errors(form, vendor_error_only(error))
                put_contact_errors(formset, owners, error)
            else:
                messages.success(request, _("已儲存「%(obj)s」。") % {"obj": vendor})
                return redirect(vendor.get_absolute_url())
        return self.page(form, formset, status=400)


class VendorAdd(VendorFormPage, AddPage):
    pass


class VendorEdit(VendorFormPage, EditPage):
    pass


class VendorContactsView(RegisterView):
    """編輯聯絡人: the vendor's contacts alone, one save, all or nothing."""

    register = VendorRegister
    action = "change"
    template_name = "vendors/vendors/contacts_form.html"

    def vendor(self):
        vendor = self.get_object("change")
        if vendor.voided_at is not None:
            raise PermissionDenied
        return vendor

    def page(self, vendor, formset, status=200):
        ctx = self.context(object=vendor, vendor=vendor, formset=formset)
        return render(self.request, self.template_name, ctx, status=status)

    def get(self, request, pk):
        vendor = self.vendor()
        return self.page(vendor, contact_formset(vendor))

    def post(self, request, pk):
        vendor = self.vendor()
        formset = contact_formset(vendor, request.POST)
        if formset.is_valid():
            wanted, owners = contacts_from(formset)
            try:
                vendors.save_vendor(vendor, actor=request.user, contacts=wanted)
            except ValidationError as error:
                put_contact_errors(formset, owners, error)
                others = vendor_error_only(error).messages
                formset._non_form_errors = formset.error_class(others)
            else:
                messages.success(request, _("已儲存聯絡人。"))
                return redirect(vendor.get_absolute_url())
        return self.page(vendor, formset, status=400)


class VendorDetail(DetailPage):
    register = VendorRegister

    def get(self, request, pk, *, status=200, **extra):
        vendor = self.get_object("view")
        today = timezone.localdate()
        contracts = list(
            Contract.objects.filter(vendor=vendor, voided_at__isnull=True).order_by(
                "-start_on", "id"
            )
        )
        for c in contracts:
            c.state = vendors.state_of(c, today)
            c.state_label = _state(c.state)
            c.terms_missing = vendors.terms_missing(c)
        keeper = can(request.user, "change", VENDOR_ACCESS) and vendor.voided_at is None
        # The vendor's people in the server rooms (人員進出資訊機房登記表), latest first.
        sees_visits = can(request.user, "view", VISIT_ACCESS)
        recent_visits = (
            list(
                vendor.visits.filter(voided_at__isnull=True)
                .select_related("room", "escort__person")
                .order_by("-entered_at", "-id")[:VISITS_SHOWN]
            )
            if sees_visits
            else []
        )
        extra.update(
            vendor=vendor,
            contacts=list(vendor.contacts.all()),
            contracts=contracts,
            can_keep=keeper,
            sees_visits=sees_visits,
            visits=recent_visits,
            can_add_contract=keeper and can(request.user, "add", CONTRACT_ACCESS),
            links={
                "contacts": reverse("vendors:vendor_contacts", args=[vendor.pk]),
                "add_contract": reverse("vendors:contract_add") + f"?vendor={vendor.pk}",
                "contracts": reverse("vendors:contract_list") + f"?vendor={vendor.pk}",
                "agreements": url_or_none("vendors:agreement_list", query=f"vendor={vendor.pk}"),
                "visits": url_or_none("facilities:visit_list", query=f"vendor={vendor.pk}"),
            },
        )
        return super().get(request, pk, status=status, **extra)


# Contracts (6.1.1, 6.2) --------------------------------------------------------------------------
def _terms_text(contract) -> str:
    if vendors.terms_missing(contract):
        return str(_("未訂資安或保密條款"))
    return str(_("已訂定"))


class OwnerFilter(df.ModelChoiceFilter):
    """承辦人: its choices are labelled from the person read with the login (no query each)."""

    field_class = UserChoiceField


def owner_choices(request=None):
    """The logins who may own a contract, and those who own a contract now (a former
    officer's contracts stay findable), each with their person: one query, whatever the
    number of logins."""
    return (
        get_user_model()
        .objects.filter(
            Q(pk__in=vendors.owners().values("pk"))
            | Q(pk__in=Contract.objects.filter(voided_at__isnull=True).values("owner_id"))
        )
        .select_related("person")
        .order_by("username")
    )


class QuickSelect(forms.Select):
    """A select of many rows (a model choice field's) whose options are written in Python
    from ``(pk, label_field)`` rows, not through one widget template and one model instance
    each: 2,000 vendors take a few ms instead of about 150 ms."""

    label_field = "name"

    def option_rows(self):
        choices = self.choices
        queryset = getattr(choices, "queryset", None)
        if queryset is None:
            return list(choices)
        empty = choices.field.empty_label
        rows = [("", empty)] if empty is not None else []
        return rows + list(queryset.values_list("pk", self.label_field))

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        chosen = set(self.format_value(value))
        options = []
        for option_value, label in self.option_rows():
            text = "" if option_value is None else str(option_value)
            value_attr = text if isinstance(option_value, int) else html.escape(text)
            selected = " selected" if text in chosen else ""
            options.append(
                f'<option value="{value_attr}"{selected}>{html.escape(str(label))}</option>'
            )
        return mark_safe(f"<select{flatatt(final)}>{''.join(options)}</select>")


class ContractFilterSet(FilterSet):
    search_fields = ("title", "number", "vendor__name", "services", "notes")
    vendor = df.ModelChoiceFilter(
        label=gettext_lazy("委外廠商"),
        queryset=Vendor.objects.order_by("name", "id"),
        widget=QuickSelect,
    )
    owner = OwnerFilter(label=gettext_lazy("承辦人"), queryset=owner_choices)
    state = df.ChoiceFilter(label=gettext_lazy("狀態"), choices=STATE_CHOICES, method="by_state")
    terms_missing = df.ChoiceFilter(
        label=gettext_lazy("未訂資安或保密條款"),
        choices=[("yes", gettext_lazy("是")), ("no", gettext_lazy("否"))],
        method="by_terms",
    )
    ends_from = ROCDateFilter(
        label=gettext_lazy("終止日起"), field_name="end_on", lookup_expr="gte"
    )
    ends_to = ROCDateFilter(label=gettext_lazy("終止日迄"), field_name="end_on", lookup_expr="lte")

    class Meta:
        model = Contract
        fields = ["vendor", "state", "terms_missing", "owner", "ends_from", "ends_to"]

    def by_state(self, queryset, name, value):
        today = timezone.localdate()
        if value == "running":
            return queryset.filter(start_on__lte=today, end_on__gte=today)
        if value == "upcoming":
            return queryset.filter(start_on__gt=today)
        if value == "ended":
            return queryset.filter(end_on__lt=today)
        return queryset

    def by_terms(self, queryset, name, value):
        missing = Q(security_terms=False) | Q(confidentiality_terms=False)
        if value == "yes":
            return queryset.filter(missing)
        if value == "no":
            return queryset.exclude(missing)
        return queryset


class ContractForm(ServiceCheckedForm):
    """A contract; its rules (6.1.1, people and owner) are ``vendors.contract_errors``."""

    service_checked = ("start_on", "end_on")
    owner = UserChoiceField(label=gettext_lazy("承辦人"), queryset=get_user_model().objects.none())
    people = PersonChoiceField(
        label=gettext_lazy("到校服務人員"),
        queryset=Person.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "人員名錄中身分為「委外廠商人員」且在職者。自合約移除的人員，若未在其他執行中的合約，"
            "其系統帳號將立即開立移除工作（條文 6.2）。"
        ),
    )

    class Meta(ModelForm.Meta):
        model = Contract
        fields = [
            "vendor",
            "title",
            "number",
            "start_on",
            "end_on",
            "services",
            "security_terms",
            "confidentiality_terms",
            "systems",
            "people",
            "owner",
            "notes",
        ]
        widgets = {
            "services": forms.Textarea(attrs={"rows": 4}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "systems": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from isms.identity.models import InformationSystem

        contract = self.instance
        fields = self.fields
        current_vendor = contract.vendor_id if contract.pk else None
        fields["vendor"].queryset = Vendor.objects.filter(
            Q(voided_at__isnull=True) | Q(pk=current_vendor or 0)
        ).order_by("name")
        fields["owner"].queryset = (
            get_user_model()
            .objects.filter(
                Q(groups__name__in=vendors.KEEPER_ROLES, is_active=True)
                | Q(pk=contract.owner_id or 0)
            )
            .select_related("person")
            .distinct()
            .order_by("username")
        )
        fields["owner"].widget.attrs["class"] = "form-select"
        had_people = list(contract.people.values_list("pk", flat=True)) if contract.pk else []
        fields["people"].queryset = Person.objects.filter(
            Q(pk__in=vendors.vendor_people().values("pk")) | Q(pk__in=had_people)
        ).order_by("organization", "name")
        had_systems = list(contract.systems.values_list("pk", flat=True)) if contract.pk else []
        fields["systems"].queryset = InformationSystem.objects.filter(
            Q(voided_at__isnull=True) | Q(pk__in=had_systems)
        ).order_by("name")
        for name in ("systems", "people"):
            fields[name].widget.attrs.pop("class", None)
        if contract.pk is None:
            request = self.request
            if request is not None and vendors.is_owner_role(request.user):
                self.initial.setdefault("owner", request.user.pk)
            wanted = request.GET.get("vendor", "") if request is not None else ""
            if wanted.isdigit() and len(wanted) < 19:
                self.initial.setdefault("vendor", int(wanted))

    def save(self, commit=True):
        contract = super().save(commit=False)
        return vendors.save_contract(
            contract,
            actor=self.request.user,
            people=list(self.cleaned_data.get("people") or []),
            systems=list(self.cleaned_data.get("systems") or []),
        )


class ContractSerializer(ModelSerializer):
    """A contract with its systems and people (ids); writes go through the service."""

    id = serializers.IntegerField(read_only=True)
    terms_missing = serializers.SerializerMethodField(label=gettext_lazy("未訂資安或保密條款"))

    class Meta:
        model = Contract
        fields = [
            "id",
            "vendor",
            "title",
            "number",
            "start_on",
            "end_on",
            "services",
            "security_terms",
            "confidentiality_terms",
            "terms_missing",
            "systems",
            "people",
            "owner",
            "access_removal_opened_at",
            "notes",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = ["access_removal_opened_at", "created_at", "updated_at", "voided_at"]
        validators = []

    def get_terms_missing(self, obj) -> bool:
        return vendors.terms_missing(obj)

    def _save(self, contract, people, systems):
        try:
            return vendors.save_contract(
                contract, actor=self.context["request"].user, people=people, systems=systems
            )
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        people = validated_data.pop("people", [])
        systems = validated_data.pop("systems", [])
        return self._save(Contract(**validated_data), people, systems)

    def update(self, instance, validated_data):
        people = validated_data.pop("people", None)
        systems = validated_data.pop("systems", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, people, systems)


class ContractRegister(Register):
    model = Contract
    clause = "6.1.1"
    access = CONTRACT_ACCESS
    columns = [
        Column("title", gettext_lazy("合約名稱"), link=True),
        Column("vendor", gettext_lazy("委外廠商"), accessor="vendor.name", sort="vendor__name"),
        Column("number", gettext_lazy("合約編號")),
        Column("start_on", gettext_lazy("起始日")),
        Column("end_on", gettext_lazy("終止日")),
        Column(
            "state",
            gettext_lazy("狀態"),
            accessor=lambda c: _state(vendors.state_of(c)),
            sort=None,
        ),
        Column("terms", gettext_lazy("資安及保密條款"), accessor=_terms_text, sort=None),
        Column(
            "owner",
            gettext_lazy("承辦人"),
            accessor=lambda c: c.owner.display_name,
            sort="owner__username",
        ),
        Column("services", gettext_lazy("服務項目"), page=False),
        Column("access_removal_opened_at", gettext_lazy("帳號移除工作開立時間"), page=False),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = ContractFilterSet
    form_class = ContractForm
    serializer_class = ContractSerializer
    select_related = ("vendor", "owner__person")
    api_select_related = ()
    ordering = ("-start_on", "id")
    route = "contracts"
    nav_group = NAV
    nav_label = gettext_lazy("委外合約")
    detail_template = "vendors/vendors/contract_detail.html"

    @classmethod
    def api_queryset(cls):
        return super().api_queryset().prefetch_related("people", "systems")

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return vendors.void_contract(obj, actor=actor, reason=reason)


class ContractFormPage:
    template_name = "vendors/vendors/contract_form.html"


class ContractAdd(ContractFormPage, AddPage):
    pass


class ContractEdit(ContractFormPage, EditPage):
    pass


def people_access(contract) -> list[dict]:
    """The contract's people, each with their accounts and account-removal tasks (6.2):
    three queries whatever the number of people."""
    from isms.identity.models import Account, OffboardingTask

    people = list(contract.people.order_by("name", "id"))
    ids = [p.pk for p in people]
    accounts, tasks = {}, {}
    for account in (
        Account.objects.filter(person_id__in=ids, voided_at__isnull=True)
        .select_related("system")
        .order_by("system__name", "username")
    ):
        accounts.setdefault(account.person_id, []).append(account)
    for task in (
        OffboardingTask.objects.filter(person_id__in=ids)
        .select_related("account__system")
        .order_by("-effective_on", "-id")
    ):
        tasks.setdefault(task.person_id, []).append(task)
    today = timezone.localdate()
    for items in tasks.values():
        for task in items:
            task.overdue = task.done_at is None and task.due_on < today
    return [
        {
            "person": p,
            "accounts": accounts.get(p.pk, []),
            "open_tasks": [t for t in tasks.get(p.pk, []) if t.done_at is None],
            "done_tasks": [t for t in tasks.get(p.pk, []) if t.done_at is not None],
        }
        for p in people
    ]


class ContractDetail(DetailPage):
    register = ContractRegister

    def get(self, request, pk, *, status=200, **extra):
        contract = self.get_object("view")
        today = timezone.localdate()
        state = vendors.state_of(contract, today)
        rows = people_access(contract)
        keeper = can(request.user, "change", CONTRACT_ACCESS) and contract.voided_at is None
        extra.update(
            contract=contract,
            state=state,
            state_label=_state(state),
            terms_missing=vendors.terms_missing(contract),
            services=vendors.service_lines(contract.services),
            systems=list(contract.systems.order_by("name")),
            people_rows=rows,
            open_task_count=sum(len(r["open_tasks"]) for r in rows),
            access_due=vendors.access_due(contract) if state == "ended" else None,
            can_keep=keeper,
            links={
                "vendor": contract.vendor.get_absolute_url(),
                "agreements": url_or_none(
                    "vendors:agreement_list", query=f"contract={contract.pk}"
                ),
                "tasks": url_or_none("identity:offboardingtask_list"),
            },
        )
        return super().get(request, pk, status=status, **extra)


VendorRegister.add_view = VendorAdd
VendorRegister.edit_view = VendorEdit
VendorRegister.detail_view = VendorDetail
ContractRegister.add_view = ContractAdd
ContractRegister.edit_view = ContractEdit
ContractRegister.detail_view = ContractDetail


urlpatterns = [
    path("vendors/<int:pk>/contacts/", VendorContactsView.as_view(), name="vendor_contacts"),
    *VendorRegister.urls(),
    *ContractRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [
    (VendorRegister, "vendors"),
    (ContractRegister, "contracts"),
]
