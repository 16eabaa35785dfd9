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

from isms.core.access import Access
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ROC_MOMENT_HELP, LoginChoiceField, ModelForm, boolean_radio
from isms.core.generic import (
    AddPage,
    DetailAction,
    DetailPage,
    EditPage,
    ListPage,
    MonthSheetView,
    ProtectedView,
    month_param,
)
from isms.core.registers import Column, Register, nav_link
from isms.core.restapi import DateTimeField, RegisterViewSet, ServiceSerializer
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
        help_text=ROC_MOMENT_HELP,
    )
    sealed = boolean_radio(
        gettext_lazy("傳遞方式"),
        [(True, gettext_lazy("彌封")), (False, gettext_lazy("其他保密方式"))],
        initial=True,
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
class TransferSerializer(ServiceSerializer):
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

    def save_record(self, transfer, *, actor):
        return transfers.transfer_save(transfer, actor=actor)


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
        data = self.body(ConfirmSerializer)
        return self.service_answer(
            transfers.transfer_confirm,
            transfer,
            actor=request.user,
            received_at=data.get("received_at"),
            receipt_note=data.get("receipt_note", ""),
        )


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


class PrintView(MonthSheetView):
    """紙本個資轉交紀錄 of one month, filled from the transfers the person may read; voided
    ones left out, empty lines to fill the last page."""

    register = TransferRegister
    template_name = "privacy/transfers/print.html"
    date_field = "handed_at"
    per_page = PRINT_PER_PAGE
    count_name = "transfer_count"

    def sheet_line(self, transfer) -> dict:
        return sheet_line(transfer)

    def sheet_context(self) -> dict:
        return {"everyone": transfers.is_manager(self.request.user)}


class TransferAdd(AddPage):
    template_name = "privacy/transfers/form.html"


class TransferEdit(EditPage):
    template_name = "privacy/transfers/form.html"


TransferRegister.add_view = TransferAdd
TransferRegister.edit_view = TransferEdit
TransferRegister.detail_view = TransferDetail


urlpatterns = [
    path("transfers/", TransferList.as_view(), name="papertransfer_list"),
    path("transfers/awaiting/", AwaitingView.as_view(), name="papertransfer_awaiting"),
    path("transfers/print/", PrintView.as_view(), name="papertransfer_print"),
    path("transfers/<int:pk>/confirm/", ConfirmView.as_view(), name="papertransfer_confirm"),
    *TransferRegister.urls(without=("list",)),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(TransferRegister, "paper-transfers")]
