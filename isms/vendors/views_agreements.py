"""Pages of the confidentiality agreements (保密切結書; clauses 5.1, 6.1.2, 6.1.3; forms A-8,
A-9, A-10).

The register (list, filters, export, ``/api/agreements/``), the draft's form (A-8's ID
number and address sealed by the service), the agreement's page (masked ID number, the
security officer's 「顯示身分證字號」, 「登錄已簽署」 with the signed scan), the print of
each paper form and the 「應簽未簽」 page. The rules are ``agreements``'s.
"""

import django_filters as df
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from rest_framework import serializers

from isms.core import roc
from isms.core.access import Access, can
from isms.core.fields import ROCDateField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm, add_service_errors
from isms.core.generic import (
    AddPage,
    DetailAction,
    DetailPage,
    EditPage,
    ProtectedView,
    RegisterView,
)
from isms.core.models import Person, SchoolProfile
from isms.core.registers import Column, Register, nav_link
from isms.core.restapi import ModelSerializer, service_errors
from isms.core.roles import MANAGERS

from . import agreements
from .models import Agreement, Contract, Vendor
from .nav import NAV

Form = Agreement.Form
Status = Agreement.Status

AGREEMENT_ACCESS = Access(
    view=MANAGERS,
    add=agreements.WRITERS,
    change=agreements.WRITERS,
    void=agreements.WRITERS,
)
SIGN_ACCESS = Access(view=MANAGERS, change=agreements.WRITERS)
REVEAL_ACCESS = Access(view=agreements.REVEALERS, change=agreements.REVEALERS)
FINDINGS_ACCESS = Access(view=MANAGERS)
CHINESE_NUMERALS = "一二三四五六七八九十"


# Labels ---------------------------------------------------------------------------------
def who(agreement) -> str:
    """切結人 (A-8, A-10) or the company (A-9)."""
    if agreement.person_id:
        return agreement.person.name
    return agreement.vendor.name if agreement.vendor_id else ""


def company(agreement) -> str:
    if agreement.vendor_id:
        return agreement.vendor.name
    if agreement.form == Form.A10 and agreement.person_id:
        return agreement.person.organization
    return ""


class State:
    DRAFT = "draft"
    VALID = "valid"
    LAPSED = "lapsed"

    choices = [
        (DRAFT, gettext_lazy("待簽署")),
        (VALID, gettext_lazy("有效")),
        (LAPSED, gettext_lazy("已逾有效期限")),
    ]


STATE_LABELS = dict(State.choices)


def state(agreement, today=None) -> str:
    if agreement.status != Status.SIGNED:
        return State.DRAFT
    if agreement.valid_until and agreement.valid_until < (today or timezone.localdate()):
        return State.LAPSED
    return State.VALID


def _state_label(agreement) -> str:
    return str(STATE_LABELS[state(agreement)])


def _contract(agreement) -> str:
    return agreement.contract.title if agreement.contract_id else ""


def _services(agreement) -> str:
    return "；".join(agreements.service_lines(agreement.services))


def _recorded_by(agreement) -> str:
    return agreement.recorded_by.display_name if agreement.recorded_by_id else ""


def _tax_id(agreement) -> str:
    return agreement.vendor.tax_id if agreement.vendor_id else ""


# Columns (page, CSV, XLSX, the evidence binder): never the sealed values.
COLUMNS = [
    Column("form", gettext_lazy("表單"), link=True),
    Column("who", gettext_lazy("切結人或廠商"), accessor=who, sort=None),
    Column("company", gettext_lazy("任職或委外公司"), accessor=company, sort=None),
    Column("tax_id", gettext_lazy("統一編號"), accessor=_tax_id, sort=None, page=False),
    Column("contract", gettext_lazy("委外合約"), accessor=_contract, sort=None, page=False),
    Column("position", gettext_lazy("職務或工作")),
    Column("services", gettext_lazy("服務項目"), accessor=_services, sort=None, page=False),
    Column("status", gettext_lazy("狀態")),
    Column("signed_on", gettext_lazy("簽署日期")),
    Column("valid_until", gettext_lazy("有效期限")),
    Column("state", gettext_lazy("效力"), accessor=_state_label, sort=None),
    Column("recorded_by", gettext_lazy("登錄者"), accessor=_recorded_by, sort=None, page=False),
    Column("notes", gettext_lazy("備註"), page=False),
]
BINDER_COLUMNS = tuple(c for c in COLUMNS if c.export)


# The list's filters ---------------------------------------------------------------------
class AgreementFilterSet(FilterSet):
    search_fields = ("person__name", "vendor__name", "position", "services", "notes")
    state = df.ChoiceFilter(
        label=gettext_lazy("效力"), choices=State.choices, method="filter_state"
    )
    signed_from = ROCDateFilter(
        label=gettext_lazy("簽署日期起"), field_name="signed_on", lookup_expr="gte"
    )
    signed_to = ROCDateFilter(
        label=gettext_lazy("簽署日期迄"), field_name="signed_on", lookup_expr="lte"
    )

    class Meta:
        model = Agreement
        fields = ["form", "status", "state"]

    def filter_state(self, queryset, name, value):
        today = timezone.localdate()
        if value == State.DRAFT:
            return queryset.filter(status=Status.DRAFT)
        if value == State.VALID:
            return queryset.filter(status=Status.SIGNED).filter(
                Q(valid_until__isnull=True) | Q(valid_until__gte=today)
            )
        if value == State.LAPSED:
            return queryset.filter(status=Status.SIGNED, valid_until__lt=today)
        return queryset


# The form -------------------------------------------------------------------------------
class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.get_kind_display()}）"


class ContractChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        start, end = roc.format_roc(obj.start_on), roc.format_roc(obj.end_on)
        return f"{obj.vendor.name}：{obj.title}（{start}–{end}）"


class AgreementForm(ModelForm):
    """The draft: which paper, for whom, and what it says. A-8's ID number and address are
    entered here and sealed by the service; an edit left blank keeps them."""

    national_id = forms.CharField(
        label=gettext_lazy("身分證字號（A-8）"),
        required=False,
        max_length=10,
        help_text=gettext_lazy("加密保存，頁面只顯示末四碼；僅資安業務承辦人可檢視完整內容。"),
    )
    address = forms.CharField(
        label=gettext_lazy("戶籍地址（A-8）"),
        required=False,
        max_length=agreements.ADDRESS_MAX,
        help_text=gettext_lazy("加密保存；僅資安業務承辦人可檢視。"),
    )

    class Meta(ModelForm.Meta):
        model = Agreement
        fields = [
            "form",
            "person",
            "vendor",
            "contract",
            "position",
            "services",
            "national_id",
            "address",
            "valid_until",
            "notes",
        ]
        field_classes = {"person": PersonChoiceField, "contract": ContractChoiceField}
        widgets = {
            "services": forms.Textarea(attrs={"rows": 4}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "person": gettext_lazy(
                "A-8：身分為約聘(僱)人員者（條文 5.1）；A-10：身分為委外廠商人員者（條文 6.1.3）。"
            ),
            "vendor": gettext_lazy(
                "A-9：簽署的委外廠商（條文 6.1.2）；A-10：切結人任職的公司，"
                "留空時依合約或人員的所屬公司帶入。"
            ),
            "contract": gettext_lazy("A-9、A-10 可選；A-9 的服務項目留空時由合約帶入。"),
            "services": gettext_lazy("A-9：每行一項，列印時依序編號為一、二、三……"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        agreement = self.instance
        fields = self.fields
        fields["form"].choices = Form.choices
        fields["person"].queryset = Person.objects.filter(
            Q(kind__in=[Person.Kind.CONTRACT, Person.Kind.VENDOR], voided_at__isnull=True)
            & ~Q(status=Person.Status.LEFT)
            | Q(pk=agreement.person_id or 0)
        ).order_by("kind", "name", "id")
        fields["vendor"].queryset = Vendor.objects.filter(
            Q(voided_at__isnull=True) | Q(pk=agreement.vendor_id or 0)
        ).order_by("name", "id")
        fields["contract"].queryset = (
            Contract.objects.filter(Q(voided_at__isnull=True) | Q(pk=agreement.contract_id or 0))
            .select_related("vendor")
            .order_by("vendor__name", "-start_on", "id")
        )
        for name in ("position", "services"):
            fields[name].required = False  # the service says what the form needs
        if agreement.pk is not None and agreement.national_id_sealed:
            fields["national_id"].help_text = _("已登錄 %(masked)s；留空則保留，填寫則更換。") % {
                "masked": agreements.masked_id(agreement)
            }
            fields["address"].help_text = _("已登錄（加密保存）；留空則保留，填寫則更換。")
        if agreement.pk is None and self.request is not None and not self.is_bound:
            for name in ("form", "person", "vendor", "contract"):
                value = self.request.GET.get(name)
                if value:
                    self.initial.setdefault(name, value)
        if agreement.pk is not None and agreement.status == Status.SIGNED:
            for name, field in fields.items():
                if name not in agreements.OPEN_AFTER_SIGNING:
                    field.disabled = True

    def save(self, commit=True):
        agreement = super().save(commit=False)
        data = self.cleaned_data
        national_id = data.get("national_id") or ""
        address = data.get("address") or ""
        keep = agreement.pk is not None
        return agreements.save_agreement(
            agreement,
            actor=self.request.user,
            national_id=None if (keep and not national_id) else national_id,
            address=None if (keep and not address) else address,
        )


class SignForm(forms.Form):
    signed_on = ROCDateField(
        label=gettext_lazy("簽署日期"),
        required=False,
        help_text=gettext_lazy("切結書上的「日期：　年　月　日」，例如 115/11/28。"),
    )
    valid_until = ROCDateField(
        label=gettext_lazy("有效期限"),
        required=False,
        help_text=gettext_lazy("留空為服務期間持續有效。"),
    )
    scan = forms.FileField(
        label=gettext_lazy("已簽署切結書掃描檔"),
        required=False,
        help_text=gettext_lazy("已在「附件」上傳者可不再選擇。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


# The API --------------------------------------------------------------------------------
class AgreementSerializer(ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    national_id = serializers.CharField(
        label=gettext_lazy("身分證字號（A-8）"),
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=10,
    )
    address = serializers.CharField(
        label=gettext_lazy("戶籍地址（A-8）"),
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=agreements.ADDRESS_MAX,
    )
    national_id_masked = serializers.SerializerMethodField()

    class Meta:
        model = Agreement
        fields = [
            "id",
            "form",
            "person",
            "vendor",
            "contract",
            "position",
            "services",
            "national_id",
            "address",
            "national_id_masked",
            "status",
            "signed_on",
            "valid_until",
            "recorded_by",
            "notes",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            "status",
            "signed_on",
            "recorded_by",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        extra_kwargs = {
            "position": {"required": False, "allow_blank": True},
            "services": {"required": False, "allow_blank": True},
        }

    def get_national_id_masked(self, obj) -> str:
        return agreements.masked_id(obj)

    def _save(self, agreement, validated):
        creating = agreement.pk is None
        national_id = validated.pop("national_id", "")
        address = validated.pop("address", "")
        for name, value in validated.items():
            setattr(agreement, name, value)
        try:
            return agreements.save_agreement(
                agreement,
                actor=self.context["request"].user,
                national_id=national_id if creating or national_id else None,
                address=address if creating or address else None,
            )
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(Agreement(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


# The register ---------------------------------------------------------------------------
class AgreementRegister(Register):
    model = Agreement
    clause = "5.1"
    access = AGREEMENT_ACCESS
    columns = COLUMNS
    filterset_class = AgreementFilterSet
    form_class = AgreementForm
    serializer_class = AgreementSerializer
    serializer_reads_related = False
    select_related = ("person", "vendor", "contract", "recorded_by__person")
    ordering = ("-created_at", "-id")
    route = "agreements"
    nav_group = NAV
    nav_label = gettext_lazy("保密切結書")
    detail_template = "vendors/agreements/detail.html"

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return agreements.void_agreement(obj, actor=actor, reason=reason)


# The agreement's page -------------------------------------------------------------------
def print_url(agreement, *, full=False) -> str:
    url = reverse("vendors:agreement_print", args=[agreement.pk])
    return f"{url}?full=1" if full else url


class AgreementDetail(DetailPage):
    register = AgreementRegister

    def get(self, request, pk, *, status=200, **extra):
        agreement = self.get_object("view")
        user = request.user
        open_ = agreement.voided_at is None
        extra.setdefault("sign_form", SignForm())
        bound, why = agreements.earliest_signing(agreement)
        return super().get(
            request,
            pk,
            status=status,
            agreement=agreement,
            heading=str(agreement),
            state=state(agreement),
            state_label=_state_label(agreement),
            company=company(agreement),
            services=agreements.service_lines(agreement.services),
            masked_id=agreements.masked_id(agreement),
            masked_address=agreements.masked_address(agreement),
            has_personal_data=bool(agreement.national_id_sealed or agreement.address_sealed),
            can_edit=open_ and agreements.may_write(user),
            can_sign=open_
            and agreement.status == Status.DRAFT
            and can(user, "change", SIGN_ACCESS),
            can_reveal=open_ and can(user, "change", REVEAL_ACCESS),
            earliest=bound,
            earliest_why=why,
            print_url=print_url(agreement),
            print_full_url=print_url(agreement, full=True),
            clause=agreements.clause_of(agreement.form),
            **extra,
        )


class SignView(DetailAction, AgreementDetail):
    """「登錄已簽署」: the signed date, the validity and the signed scan (or one already
    attached); refused → the agreement's page with the reasons, 400."""

    access = SIGN_ACCESS
    form_class = SignForm
    form_context = "sign_form"

    def post(self, request, pk):
        agreement = self.get_object("view")
        form = SignForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                agreements.sign(
                    agreement,
                    actor=request.user,
                    signed_on=data.get("signed_on"),
                    valid_until=data.get("valid_until"),
                    scan=data.get("scan"),
                )
            except ValidationError as error:
                add_service_errors(form, error)
        if form.errors:
            return self.get(request, pk, status=400, sign_form=form)
        agreement.refresh_from_db()
        messages.success(request, self.success_message(agreement))
        return redirect(agreement.get_absolute_url())

    def success_message(self, agreement):
        return _("已登錄「%(agreement)s」為已簽署。") % {"agreement": agreement}


@method_decorator(never_cache, name="dispatch")
class RevealView(AgreementDetail):
    """「顯示身分證字號」: the security officer's explicit POST shows the A-8's ID number and
    address once, on this answer only (not cached), and is audited."""

    access = REVEAL_ACCESS
    action = "change"

    def get(self, request, pk, **kwargs):
        if kwargs:
            return super().get(request, pk, **kwargs)
        return redirect(self.get_object("view").get_absolute_url())

    def post(self, request, pk):
        agreement = self.get_object("view")
        revealed = agreements.reveal(agreement, actor=request.user)
        response = super().get(request, pk, revealed=revealed)
        response["Cache-Control"] = "no-store"
        return response


# The paper forms ------------------------------------------------------------------------
def numbered(lines) -> list[tuple[str, str]]:
    """一、二、三… before each service (十 and beyond as digits)."""
    out = []
    for i, line in enumerate(lines, start=1):
        mark = CHINESE_NUMERALS[i - 1] if i <= len(CHINESE_NUMERALS) else str(i)
        out.append((mark, line))
    return out


@method_decorator(never_cache, name="dispatch")
class PrintView(RegisterView):
    """The paper form (A-8, A-9 or A-10) filled from the agreement; A-8's ID number and
    address in clear only for the security officer who asks (``?full=1``), audited."""

    register = AgreementRegister

    TEMPLATES = {
        Form.A8: "vendors/agreements/print_a8.html",
        Form.A9: "vendors/agreements/print_a9.html",
        Form.A10: "vendors/agreements/print_a10.html",
    }

    def get(self, request, pk):
        from isms.compliance.models import PolicyRevision

        agreement = self.get_object("view")
        school = SchoolProfile.load()
        full = (
            request.GET.get("full") == "1"
            and agreement.form == Form.A8
            and agreements.may_reveal(request.user)
        )
        personal = {
            "national_id": agreements.masked_id(agreement),
            "address": agreements.masked_address(agreement),
        }
        if full:
            personal = agreements.reveal(agreement, actor=request.user, printing=True)
        day = agreement.signed_on if agreement.status == Status.SIGNED else None
        services = agreements.service_lines(agreement.services)
        response = render(
            request,
            self.TEMPLATES[agreement.form],
            {
                "agreement": agreement,
                "school": school,
                "personal": personal,
                "full": full,
                "can_full": agreement.form == Form.A8
                and agreements.may_reveal(request.user)
                and bool(agreement.national_id_sealed),
                "company": company(agreement),
                # The paper reads 「＿＿公司」: a registered name that already ends in 公司
                # is not followed by a second one.
                "company_suffix": "" if company(agreement).endswith("公司") else _("公司"),
                "tax_id": _tax_id(agreement),
                "services": numbered(services) or numbered(["", "", ""]),
                "roc_year": roc.roc_year(day) if day else "",
                "month": day.month if day else "",
                "day": day.day if day else "",
                "policy_version": PolicyRevision.current(),
                "now": timezone.now(),
                "back": agreement.get_absolute_url(),
            },
        )
        if full:
            response["Cache-Control"] = "no-store"
        return response


# 應簽未簽 -----------------------------------------------------------------------------------
class FindingsView(ProtectedView):
    """Who should have a valid signed agreement and has none (or a lapsed one), per form."""

    access = FINDINGS_ACCESS

    def get(self, request):
        today = timezone.localdate()
        return render(
            request,
            "vendors/agreements/findings.html",
            {
                "sections": agreements.findings(today),
                "today": today,
                "grace_days": agreements.GRACE_DAYS,
                "can_add": can(request.user, "add", AGREEMENT_ACCESS),
                "add_url": reverse("vendors:agreement_add"),
                "list_url": reverse("vendors:agreement_list"),
            },
        )


nav_link(NAV, gettext_lazy("保密切結書應簽未簽"), "vendors:agreement_findings", FINDINGS_ACCESS)


class AgreementAdd(AddPage):
    template_name = "vendors/agreements/form.html"


class AgreementEdit(EditPage):
    template_name = "vendors/agreements/form.html"


AgreementRegister.add_view = AgreementAdd
AgreementRegister.edit_view = AgreementEdit
AgreementRegister.detail_view = AgreementDetail

urlpatterns = [
    path("agreements/findings/", FindingsView.as_view(), name="agreement_findings"),
    path("agreements/<int:pk>/sign/", SignView.as_view(), name="agreement_sign"),
    path("agreements/<int:pk>/reveal/", RevealView.as_view(), name="agreement_reveal"),
    path("agreements/<int:pk>/print/", PrintView.as_view(), name="agreement_print"),
    *AgreementRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(AgreementRegister, "agreements")]
