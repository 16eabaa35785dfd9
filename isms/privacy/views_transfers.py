"""Pages of the paper personal-data transfers (紙本個資轉交紀錄; clause 7.6).

The register (list with its 「狀態」 flag — 逾期未確認 in red — filters, export,
``/api/paper-transfers/``), recording and correcting a transfer, the transfer's page with
「確認收件」, the recipient's page 待我確認收件 (one button per transfer) and the print of
the month's sheet. The rules are ``transfers``'s.
"""

import datetime as dt

import django_filters as df
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from isms.core import roc
from isms.core.access import Access
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import (
    AddPage,
    DetailAction,
    DetailPage,
    EditPage,
    ListPage,
    ProtectedView,
    RegisterView,
)
from isms.core.models import SchoolProfile
from isms.core.registers import Column, Register, nav_link
from isms.core.restapi import DateTimeField, ModelSerializer, RegisterViewSet, service_errors
from isms.core.roles import ALL_ROLES, MANAGERS

from . import transfers
from .models import PaperTransfer, PersonalDataFile
from .nav import NAV

Status = transfers.Status
# Anyone of the school records the transfers they send; the scope narrows what each reads
# (their own sent and received; the managers all) and changes (their own; the officer all).
TRANSFER_ACCESS = Access(
    view=ALL_ROLES,
    add=ALL_ROLES,
    change=ALL_ROLES,
    void=ALL_ROLES,
    export=MANAGERS,
    scope=transfers.scope,
)
# 確認收件 and 待我確認收件: whoever may read the transfer; the service decides who confirms.
CONFIRM_ACCESS = Access(view=ALL_ROLES, change=ALL_ROLES, scope=transfers.scope)
# Transfers (lines of the sheet) on one printed A4 page.
PRINT_PER_PAGE = 10


# The list's filters ----------------------------------------------------------------------------
class TransferFilterSet(FilterSet):
    search_fields = ("what", "external_recipient", "protection", "receipt_note", "notes")
    state = df.ChoiceFilter(
        label=gettext_lazy("狀態"), choices=Status.choices, method="filter_state"
    )
    sealed = df.ChoiceFilter(
        label=gettext_lazy("傳遞方式"),
        choices=[("1", gettext_lazy("彌封")), ("0", gettext_lazy("其他保密方式"))],
        method="filter_sealed",
    )
    file = df.ModelChoiceFilter(
        label=gettext_lazy("所屬個人資料檔案"), queryset=PersonalDataFile.objects.order_by("name")
    )
    handed_from = ROCDateFilter(
        label=gettext_lazy("轉交日期起"), field_name="handed_at", lookup_expr="date__gte"
    )
    handed_to = ROCDateFilter(
        label=gettext_lazy("轉交日期迄"), field_name="handed_at", lookup_expr="date__lte"
    )

    class Meta:
        model = PaperTransfer
        fields = ["state", "sealed", "file"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(transfers.status_filter(value)) if value else queryset

    def filter_sealed(self, queryset, name, value):
        return queryset.filter(sealed=value == "1") if value in {"0", "1"} else queryset


# Columns (page, CSV, XLSX, the evidence binder) ---------------------------------------------------
def _sender(transfer) -> str:
    return transfers.person_name(transfer.sender)


def _file(transfer) -> str:
    return transfer.file.name if transfer.file_id else ""


COLUMNS = [
    Column("handed_at", gettext_lazy("轉交時間"), link=True),
    Column("what", gettext_lazy("文件內容")),
    Column("copies", gettext_lazy("份數")),
    Column("way", gettext_lazy("傳遞方式"), accessor=transfers.protection_label, sort="sealed"),
    Column("sender", gettext_lazy("轉交人"), accessor=_sender, sort="sender__username"),
    Column("recipient", gettext_lazy("收件人"), accessor=transfers.recipient_label, sort=None),
    Column("state", gettext_lazy("狀態"), accessor=transfers.status_label, sort=None),
    Column(
        "receipt", gettext_lazy("收件確認"), accessor=transfers.receipt_label, sort="received_at"
    ),
    Column("file", gettext_lazy("所屬個人資料檔案"), accessor=_file, sort=None, page=False),
    Column("notes", gettext_lazy("備註"), page=False),
]


# The form ---------------------------------------------------------------------------------------
class LoginChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return str(obj)


def logins(*keep):
    """Active logins of the school (holding a role), and those a transfer already names."""
    people = get_user_model().objects.filter(is_active=True, groups__name__in=ALL_ROLES)
    return (
        get_user_model()
        .objects.filter(Q(pk__in=people.values("pk")) | Q(pk__in=[pk for pk in keep if pk]))
        .select_related("person")
        .order_by("username")
    )


class TransferForm(ModelForm):
    """A line of the sheet: what, how sealed, from whom to whom, when. After the receipt only
    the notes are open; the sender is chosen only by the security officer."""

    handed_at = ROCDateTimeField(
        label=gettext_lazy("轉交時間"),
        required=False,
        help_text=gettext_lazy("民國年/月/日 時:分，例如 115/11/28 14:05（24 小時制）。"),
    )
    sealed = forms.TypedChoiceField(
        label=gettext_lazy("傳遞方式"),
        choices=[("True", gettext_lazy("彌封")), ("False", gettext_lazy("其他保密方式"))],
        coerce=lambda value: value == "True",
        empty_value=True,
        required=False,
        initial="True",
        widget=forms.RadioSelect,
        help_text=gettext_lazy("須採取彌封或其他具備保密機制之傳遞方式（條文 7.6）。"),
    )

    class Meta(ModelForm.Meta):
        model = PaperTransfer
        fields = [
            "what",
            "file",
            "copies",
            "sealed",
            "protection",
            "sender",
            "recipient",
            "external_recipient",
            "handed_at",
            "notes",
        ]
        field_classes = {"sender": LoginChoiceField, "recipient": LoginChoiceField}
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "what": gettext_lazy("例如：101 班學生緊急聯絡名冊、教師甄選口試評分表。"),
            "file": gettext_lazy("這份文件屬於個資清冊中的哪個個人資料檔案（可不選）。"),
            "protection": gettext_lazy("未彌封時必填，例如：裝入機密公文袋由專人遞送。"),
            "sender": gettext_lazy("資安業務承辦人可代他人登錄；其他人登錄自己轉交的文件。"),
            "recipient": gettext_lazy("本校人員收件：收件人會收到通知，並在平台上確認收件。"),
            "external_recipient": gettext_lazy(
                "校外機關或人員收件時填寫（與本校收件人擇一），例如：新北市政府教育局。"
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        transfer = self.instance
        fields = self.fields
        fields["sealed"].widget.attrs["class"] = "form-check-input"
        user = self.request.user if self.request is not None else None
        if user is not None and transfers.is_officer(user):
            fields["sender"].queryset = logins(transfer.sender_id)
            fields["sender"].required = False
        else:
            del fields["sender"]
        fields["recipient"].queryset = logins(transfer.recipient_id)
        fields["file"].queryset = PersonalDataFile.objects.filter(
            Q(voided_at__isnull=True) | Q(pk=transfer.file_id or 0)
        ).order_by("name", "id")
        # The service says what is missing, citing 7.6 (not Django's generic text).
        for name in ("what", "copies"):
            fields[name].required = False
        if transfer.pk is None and user is not None and not self.is_bound:
            self.initial.setdefault(
                "handed_at", timezone.localtime().replace(second=0, microsecond=0)
            )
            if "sender" in fields:
                self.initial.setdefault("sender", user.pk)
        if transfer.pk is not None and transfers.locked(transfer):
            for name, field in fields.items():
                if name not in transfers.OPEN_AFTER_RECEIPT:
                    field.disabled = True

    def save(self, commit=True):
        transfer = super().save(commit=False)
        return transfers.transfer_save(transfer, actor=self.request.user)


class ConfirmForm(forms.Form):
    """確認收件; for an outside recipient: when and how the receipt was confirmed."""

    received_at = ROCDateTimeField(
        label=gettext_lazy("收件時間"),
        required=False,
        help_text=gettext_lazy("校外收件人簽收的時間；留空為現在。"),
    )
    receipt_note = forms.CharField(
        label=gettext_lazy("收件說明"),
        required=False,
        max_length=300,
        help_text=gettext_lazy("如何確認收件，例如：簽收單、回覆郵件。校外收件人必填。"),
    )


# The API ------------------------------------------------------------------------------------------
class TransferSerializer(ModelSerializer):
    serializer_field_mapping = {
        **ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }
    id = serializers.IntegerField(read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = PaperTransfer
        fields = [
            "id",
            *transfers.ENTRY_FIELDS,
            "received_at",
            "received_by",
            "receipt_note",
            "status",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            "received_at",
            "received_by",
            "receipt_note",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        extra_kwargs = {
            "what": {"required": False, "allow_blank": True},
            "sender": {"required": False},
            "handed_at": {"required": False, "allow_null": True},
            "copies": {"required": False},
        }

    def get_status(self, obj) -> str:
        return transfers.status(obj)

    def _save(self, transfer):
        try:
            return transfers.transfer_save(transfer, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(PaperTransfer(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class ConfirmSerializer(serializers.Serializer):
    received_at = DateTimeField(label=gettext_lazy("收件時間"), required=False, allow_null=True)
    receipt_note = serializers.CharField(
        label=gettext_lazy("收件說明"), required=False, allow_blank=True, max_length=300
    )


class TransferViewSet(RegisterViewSet):
    """The register; ``confirm`` records the receipt (the school recipient; for an outside
    recipient the sender or the officer, with how it was confirmed)."""

    @property
    def access(self):
        if getattr(self, "action", None) == "confirm":
            return CONFIRM_ACCESS
        return self.register.access

    @extend_schema(request=ConfirmSerializer, responses={200: TransferSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        transfer = self.get_object()
        data = ConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            transfer = transfers.transfer_confirm(
                transfer,
                actor=request.user,
                received_at=data.validated_data.get("received_at"),
                receipt_note=data.validated_data.get("receipt_note", ""),
            )
        except ValidationError as error:
            raise service_errors(error) from None
        return Response(TransferSerializer(transfer, context={"request": request}).data)


# The register -------------------------------------------------------------------------------------
class TransferRegister(Register):
    model = PaperTransfer
    clause = transfers.CLAUSE
    access = TRANSFER_ACCESS
    columns = COLUMNS
    filterset_class = TransferFilterSet
    form_class = TransferForm
    serializer_class = TransferSerializer
    viewset_base = TransferViewSet
    serializer_reads_related = False
    select_related = ("sender__person", "recipient__person", "received_by__person", "file")
    ordering = ("-handed_at", "-id")
    route = "transfers"
    nav_group = NAV
    nav_label = gettext_lazy("紙本個資轉交")
    detail_template = "privacy/transfers/detail.html"

    # An open transfer past its confirmation day is red (逾期未確認).
    late_column = "state"

    @classmethod
    def row_late(cls, obj, now, state=None):
        return transfers.status(obj, now) == Status.OVERDUE

    @classmethod
    def cell_attrs(cls, obj, name, now):
        return f' data-status="{transfers.status(obj, now)}"' if name == "state" else ""

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return transfers.transfer_void(obj, actor=actor, reason=reason)


def month_param(day: dt.date) -> str:
    """A month as the print view takes it: ``115-11``."""
    return f"{roc.roc_year(day)}-{day.month:02d}"


def print_url(day: dt.date | None = None) -> str:
    params = {"month": month_param(day or timezone.localdate())}
    return f"{reverse('privacy:papertransfer_print')}?{urlencode(params)}"


# The list ---------------------------------------------------------------------------------------
class TransferList(ListPage):
    register = TransferRegister
    template_name = "privacy/transfers/list.html"

    def extra_context(self) -> dict:
        return {
            "print_url": print_url(),
            "print_month": month_param(timezone.localdate()),
            "awaiting_count": transfers.awaiting(self.request.user).count(),
            "confirm_days": transfers.confirm_days(),
        }


# The transfer's page: 確認收件 ------------------------------------------------------------------
class TransferDetail(DetailPage):
    register = TransferRegister

    def get(self, request, pk, *, status=200, **extra):
        transfer = self.get_object("view")
        user = request.user
        editable = transfers.may_edit(user, transfer)
        extra.setdefault("confirm_form", ConfirmForm())
        return super().get(
            request,
            pk,
            status=status,
            transfer=transfer,
            state=transfers.status(transfer),
            state_label=transfers.status_label(transfer),
            due=transfers.confirm_due(transfer.handed_at),
            way=transfers.protection_label(transfer),
            locked=transfers.locked(transfer),
            can_edit=editable,
            can_change=editable,
            can_void=editable,
            can_confirm=transfers.may_confirm(user, transfer),
            external=not transfer.recipient_id,
            print_url=print_url(timezone.localtime(transfer.handed_at).date()),
            **extra,
        )


class ConfirmView(DetailAction, TransferDetail):
    """確認收件 from the transfer's page or from 待我確認收件; refused → that page again
    with the reason (400); only the recipient (for an outside one the sender or the
    officer) may: else 403."""

    access = CONFIRM_ACCESS
    form_class = ConfirmForm
    form_context = "confirm_form"

    def perform(self, transfer, form, user):
        transfers.transfer_confirm(
            transfer,
            actor=user,
            received_at=form.cleaned_data.get("received_at"),
            receipt_note=form.cleaned_data.get("receipt_note", ""),
        )

    def success_message(self, transfer):
        return _("已確認收件：「%(what)s」。") % {"what": transfer.what}

    def post(self, request, pk):
        if request.POST.get("from") != "awaiting":
            return super().post(request, pk)
        transfer = self.get_object("view")
        try:
            transfers.transfer_confirm(transfer, actor=request.user)
        except ValidationError as error:
            return AwaitingView().page(request, errors=error.messages, status=400)
        messages.success(request, self.success_message(transfer))
        return redirect(reverse("privacy:papertransfer_awaiting"))


# 待我確認收件 -------------------------------------------------------------------------------------
class AwaitingView(ProtectedView):
    """The open transfers to the signed-in person, one 「確認收件」 button each."""

    access = CONFIRM_ACCESS

    def page(self, request, *, errors=(), status=200):
        now = timezone.now()
        rows = [
            (t, transfers.status(t, now), transfers.confirm_due(t.handed_at))
            for t in transfers.awaiting(request.user)
        ]
        return render(
            request,
            "privacy/transfers/awaiting.html",
            {
                "rows": rows,
                "errors": errors,
                "clause": transfers.CLAUSE,
                "list_url": reverse(TransferRegister.url_name("list")),
            },
            status=status,
        )

    def get(self, request):
        return self.page(request)


nav_link(NAV, gettext_lazy("待我確認收件"), "privacy:papertransfer_awaiting", CONFIRM_ACCESS)


# The month's sheet ------------------------------------------------------------------------------
def parse_month(params) -> tuple[int, int]:
    """(Western year, month) from ``month=115-11`` (also 115/11, 11511); the current month
    when none is given. ValueError with a zh-TW message otherwise."""
    text = (params.get("month") or "").strip().replace("/", "-").replace(".", "-")
    today = timezone.localdate()
    if not text:
        return today.year, today.month
    try:
        if "-" in text:
            first, second = text.split("-", 1)
            year, month = int(first), int(second)
        elif text.isdigit() and len(text) in (4, 5):
            year, month = int(text[:-2]), int(text[-2:])
        else:
            raise ValueError
    except ValueError:
        raise ValueError(_("月份請以民國年-月填寫，例如 115-11。")) from None
    if year > roc.MAX_ROC_YEAR:  # a Western year
        year -= roc.ROC_OFFSET
    if not (roc.MIN_ROC_YEAR <= year <= roc.MAX_ROC_YEAR) or not (1 <= month <= 12):
        raise ValueError(_("月份請以民國年-月填寫，例如 115-11。"))
    return year + roc.ROC_OFFSET, month


def sheet_line(transfer) -> dict:
    local = timezone.localtime(transfer.handed_at)
    return {
        "transfer": transfer,
        "date": local.date(),
        "time": f"{local.hour:02d}:{local.minute:02d}",
        "recipient": transfers.recipient_label(transfer),
        "external": not transfer.recipient_id,
        "received": timezone.localtime(transfer.received_at) if transfer.received_at else None,
    }


class PrintView(RegisterView):
    """紙本個資轉交紀錄 of one month, filled from the transfers the person may read; voided
    ones left out, empty lines to fill the last page."""

    register = TransferRegister

    def get(self, request):
        from isms.compliance.models import PolicyRevision

        errors = []
        try:
            year, month = parse_month(request.GET)
        except ValueError as error:
            errors.append(str(error))
            year, month = timezone.localdate().year, timezone.localdate().month
        lines = []
        if not errors:
            first = dt.date(year, month, 1)
            after = dt.date(year + (month == 12), month % 12 + 1, 1)
            start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
            end = timezone.make_aware(dt.datetime.combine(after, dt.time.min))
            found = (
                self.scoped("view")
                .filter(handed_at__gte=start, handed_at__lt=end, voided_at__isnull=True)
                .order_by("handed_at", "id")
            )
            lines = [sheet_line(t) for t in found]
        count = max(1, -(-len(lines) // PRINT_PER_PAGE))
        padded = lines + [None] * (count * PRINT_PER_PAGE - len(lines))
        pages = [padded[i : i + PRINT_PER_PAGE] for i in range(0, len(padded), PRINT_PER_PAGE)]
        school = SchoolProfile.load()
        return render(
            request,
            "privacy/transfers/print.html",
            {
                "pages": pages,
                "transfer_count": len(lines),
                "roc_year": year - roc.ROC_OFFSET,
                "month": month,
                "month_value": f"{year - roc.ROC_OFFSET}-{month:02d}",
                "errors": errors,
                "school": school,
                "policy_version": PolicyRevision.current(),
                "now": timezone.now(),
                "everyone": transfers.is_manager(request.user),
                "back": reverse(TransferRegister.url_name("list")),
            },
            status=400 if errors else 200,
        )


class TransferAdd(AddPage):
    template_name = "privacy/transfers/form.html"


class TransferEdit(EditPage):
    template_name = "privacy/transfers/form.html"


TransferRegister.add_view = TransferAdd
TransferRegister.edit_view = TransferEdit
TransferRegister.detail_view = TransferDetail


def _without_list(patterns):
    return [p for p in patterns if p.name != "papertransfer_list"]


urlpatterns = [
    path("transfers/", TransferList.as_view(), name="papertransfer_list"),
    path("transfers/awaiting/", AwaitingView.as_view(), name="papertransfer_awaiting"),
    path("transfers/print/", PrintView.as_view(), name="papertransfer_print"),
    path("transfers/<int:pk>/confirm/", ConfirmView.as_view(), name="papertransfer_confirm"),
    *_without_list(TransferRegister.urls()),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(TransferRegister, "paper-transfers")]
