"""The systems and accounts registers, off-boarding tasks and departures (2.7–2.9, 6.2)."""

import django_filters as df
from django import forms as djforms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from isms.core.access import Access, can, user_roles
from isms.core.fields import ROCDateField
from isms.core.filters import FilterSet
from isms.core.forms import ModelForm, add_service_errors
from isms.core.generic import DetailPage, ProtectedView, safe_next
from isms.core.models import Person
from isms.core.registers import Column, Register, nav_link
from isms.core.roles import (
    EQUIPMENT_HEAD,
    MANAGERS,
    PERSONNEL,
    SECURITY_OFFICER,
    SYSADMIN,
)

from . import services
from .api import AccountSerializer, OffboardingTaskSerializer, SystemSerializer
from .models import Account, InformationSystem, OffboardingTask

NAV = gettext_lazy("帳號與權限")
KEEPERS = frozenset({SECURITY_OFFICER, SYSADMIN})
READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD}


# Systems ---------------------------------------------------------------------------------------
class SystemFilterSet(FilterSet):
    search_fields = ("name", "purpose", "url", "hosting")

    class Meta:
        model = InformationSystem
        fields = ["core_business", "holds_personal_data", "sign_in", "owner_unit"]


class SystemForm(ModelForm):
    class Meta(ModelForm.Meta):
        model = InformationSystem
        fields = [
            "name",
            "purpose",
            "owner_unit",
            "administrators",
            "core_business",
            "hosting",
            "url",
            "sign_in",
            "holds_personal_data",
            "requests_open",
            "request_units",
            "notes",
        ]
        widgets = {"notes": djforms.Textarea(attrs={"rows": 3})}


class SystemRegister(Register):
    model = InformationSystem
    clause = "2.7"
    access = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)
    columns = [
        Column("name", gettext_lazy("系統名稱"), link=True),
        Column("purpose", gettext_lazy("用途")),
        Column(
            "owner_unit",
            gettext_lazy("權責單位"),
            accessor="owner_unit.name",
            sort="owner_unit__name",
        ),
        Column("core_business", gettext_lazy("核心業務")),
        Column("sign_in", gettext_lazy("登入方式")),
        Column("holds_personal_data", gettext_lazy("存有個人資料")),
        Column("url", gettext_lazy("網址"), page=False),
        Column("hosting", gettext_lazy("主機或代管"), page=False),
        Column(
            "administrators",
            gettext_lazy("系統管理人員"),
            accessor=lambda s: "、".join(u.display_name for u in s.administrators.all()),
            sort=None,
            page=False,
        ),
        Column("requests_open", gettext_lazy("開放帳號申請"), page=False),
        Column(
            "request_units",
            gettext_lazy("可申請單位"),
            accessor=lambda s: "、".join(u.name for u in s.request_units.all()),
            sort=None,
            page=False,
        ),
    ]
    filterset_class = SystemFilterSet
    form_class = SystemForm
    serializer_class = SystemSerializer
    select_related = ("owner_unit",)
    prefetch_related = ("administrators__person", "request_units")
    ordering = ("name",)
    route = "systems"
    url_prefix = "system"
    nav_group = NAV
    nav_label = gettext_lazy("資訊系統")


# Accounts --------------------------------------------------------------------------------------
def own_accounts_only(queryset, user, action):
    """Staff see the accounts registered to them; the office sees all."""
    if user_roles(user) & READERS:
        return queryset
    return queryset.filter(person_id=user.person_id) if user.person_id else queryset.none()


class AccountFilterSet(FilterSet):
    search_fields = ("username", "display_name", "email", "person__name")
    finding = df.ChoiceFilter(
        label=gettext_lazy("待處理"),
        method="findings",
        choices=[
            ("shared", gettext_lazy("共用帳號未說明理由")),
            ("departed", gettext_lazy("離職人員仍有帳號")),
            ("default_password", gettext_lazy("預設通行碼未變更")),
            ("privileged_rights", gettext_lazy("特權帳號未列權限")),
        ],
    )

    class Meta:
        model = Account
        fields = ["system", "kind", "status"]

    def findings(self, queryset, name, value):
        today = timezone.localdate()
        if value == "shared":
            return queryset.filter(kind=Account.Kind.SHARED, shared_justification="")
        if value == "departed":
            return queryset.exclude(status=Account.Status.REMOVED).filter(
                Q(person__status=Person.Status.LEFT) | Q(person__leave_date__lte=today)
            )
        if value == "default_password":
            return queryset.filter(
                default_password_expires_at__isnull=False, password_changed_at__isnull=True
            )
        if value == "privileged_rights":
            return queryset.filter(kind=Account.Kind.PRIVILEGED, rights="")
        return queryset


class AccountForm(ModelForm):
    created_on = ROCDateField(label=gettext_lazy("建立日期"), required=False)

    class Meta(ModelForm.Meta):
        model = Account
        fields = [
            "system",
            "username",
            "person",
            "display_name",
            "email",
            "kind",
            "rights",
            "shared_justification",
            "status",
            "created_on",
            "notes",
        ]
        widgets = {
            "rights": djforms.Textarea(attrs={"rows": 2}),
            "shared_justification": djforms.Textarea(attrs={"rows": 2}),
            "notes": djforms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = InformationSystem.objects.active()
        self.fields["person"].queryset = Person.objects.active().order_by("name")

    def clean(self):
        data = super().clean()
        probe = Account(
            pk=self.instance.pk,
            **{k: v for k, v in data.items() if k in {f.name for f in Account._meta.fields}},
        )
        for name, message in services.check_account(probe).items():
            if name in self.fields and name not in self.errors:
                self.add_error(name, message)
        return data

    def save(self, commit=True):
        account = super().save(commit=False)
        if account.pk is None:
            account.source = Account.Source.MANUAL
        return services.save_account(account, actor=self.request.user)


def _findings(account) -> str:
    notes = []
    if account.unjustified_shared:
        notes.append(_("共用未說明"))
    if account.kind == Account.Kind.PRIVILEGED and not account.rights:
        notes.append(_("特權未列權限"))
    person = account.person
    if person is not None and account.status != Account.Status.REMOVED:
        today = timezone.localdate()
        if person.status == Person.Status.LEFT or (
            person.leave_date and person.leave_date <= today
        ):
            notes.append(_("使用人已離職"))
    if account.default_password_expires_at and account.password_changed_at is None:
        notes.append(_("預設通行碼未變更"))
    return "、".join(notes)


class AccountRegister(Register):
    model = Account
    clause = "2.7"
    access = Access(
        view=READERS | {PERSONNEL} | frozenset({"staff", "guard"}),
        add=KEEPERS | {EQUIPMENT_HEAD},
        change=KEEPERS | {EQUIPMENT_HEAD},
        void=KEEPERS,
        export=READERS,
        scope=own_accounts_only,
    )
    columns = [
        Column("system", gettext_lazy("系統"), accessor="system.name", sort="system__name"),
        Column("username", gettext_lazy("帳號"), link=True, sort="username_key"),
        Column("person", gettext_lazy("使用人"), accessor="person.name", sort="person__name"),
        Column("kind", gettext_lazy("類型")),
        Column("status", gettext_lazy("狀態")),
        Column("last_sign_in", gettext_lazy("最後登入")),
        Column("findings", gettext_lazy("待處理"), accessor=_findings, sort=None),
        Column("display_name", gettext_lazy("顯示名稱"), page=False),
        Column("email", gettext_lazy("電子郵件"), page=False),
        Column("rights", gettext_lazy("特權權限"), page=False),
        Column("shared_justification", gettext_lazy("共用理由"), page=False),
        Column("created_on", gettext_lazy("建立日期"), page=False),
        Column("disabled_on", gettext_lazy("停用日期"), page=False),
        Column("removed_on", gettext_lazy("刪除日期"), page=False),
        Column("source", gettext_lazy("來源"), page=False),
    ]
    filterset_class = AccountFilterSet
    form_class = AccountForm
    serializer_class = AccountSerializer
    serializer_reads_related = False  # ids only
    select_related = ("system", "person")
    ordering = ("system__name", "username_key")
    route = "accounts"
    url_prefix = "account"
    nav_group = NAV
    nav_label = pgettext_lazy("records", "帳號")


# Off-boarding ------------------------------------------------------------------------------------
class OffboardingTaskFilterSet(FilterSet):
    search_fields = ("account__username", "person__name", "note")
    open = df.BooleanFilter(
        label=gettext_lazy("未完成"), field_name="done_at", lookup_expr="isnull"
    )

    class Meta:
        model = OffboardingTask
        fields = ["reason", "outcome"]


class OffboardingTaskRegister(Register):
    model = OffboardingTask
    clause = "6.2"
    access = Access(view=READERS | {PERSONNEL}, change=KEEPERS | {EQUIPMENT_HEAD})
    columns = [
        Column("person", gettext_lazy("人員"), accessor="person.name", sort="person__name"),
        Column(
            "account", gettext_lazy("帳號"), accessor=lambda t: str(t.account), link=True, sort=None
        ),
        Column("reason", gettext_lazy("原因")),
        Column("effective_on", gettext_lazy("生效日期")),
        Column("due_on", gettext_lazy("完成期限")),
        Column("done_at", gettext_lazy("完成時間")),
        Column("outcome", gettext_lazy("處理結果")),
        Column("note", gettext_lazy("說明"), page=False),
    ]
    filterset_class = OffboardingTaskFilterSet
    serializer_class = OffboardingTaskSerializer
    viewset_read_only = True
    select_related = ("person", "account__system")
    ordering = ("done_at", "due_on", "id")
    attachments = False
    route = "offboarding"
    nav_group = NAV
    nav_label = gettext_lazy("帳號移除工作")
    detail_template = "identity/offboardingtask_detail.html"


class FinishForm(djforms.Form):
    outcome = djforms.ChoiceField(
        label=gettext_lazy("處理結果"),
        choices=[
            ("removed", gettext_lazy("已刪除")),
            ("disabled", gettext_lazy("已停用")),
            ("kept", gettext_lazy("保留（說明）")),
        ],
        widget=djforms.Select(attrs={"class": "form-select"}),
    )
    note = djforms.CharField(
        label=gettext_lazy("說明"),
        max_length=300,
        required=False,
        widget=djforms.TextInput(attrs={"class": "form-control"}),
    )


class OffboardingTaskDetail(DetailPage):
    """A removal task, with the form that finishes it for those who may."""

    register = OffboardingTaskRegister

    def get(self, request, pk, *, status=200, **extra):
        extra.setdefault("can_finish", can(request.user, "change", self.access))
        return super().get(request, pk, status=status, **extra)


OffboardingTaskRegister.detail_view = OffboardingTaskDetail


class FinishTaskView(OffboardingTaskDetail):
    """Finish a removal task; a refused outcome shows the task again with the reason (400)."""

    action = "change"

    def post(self, request, pk):
        task = self.get_object()
        form = FinishForm(request.POST)
        if form.is_valid():
            try:
                services.finish_task(task, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
        if not form.is_valid() or form.errors:
            return self.get(request, pk, status=400, finish_form=form)
        messages.success(request, _("已完成帳號移除工作。"))
        return redirect(task.get_absolute_url())


# Departures (人事室) -------------------------------------------------------------------------
class DepartureForm(djforms.Form):
    person = djforms.ModelChoiceField(
        label=gettext_lazy("人員"),
        queryset=Person.objects.active().order_by("name"),
        widget=djforms.Select(attrs={"class": "form-select"}),
    )
    reason = djforms.ChoiceField(
        label=gettext_lazy("原因"),
        choices=OffboardingTask.Reason.choices,
        widget=djforms.Select(attrs={"class": "form-select"}),
    )
    effective_on = ROCDateField(label=gettext_lazy("生效日期"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_on"].widget.attrs["class"] = "form-control"


DEPARTURE_ACCESS = Access(view=READERS | {PERSONNEL}, add=frozenset({PERSONNEL, SECURITY_OFFICER}))


class DepartureView(ProtectedView):
    """人事室 records a departure; every account of the person gets a removal task."""

    access = DEPARTURE_ACCESS
    action = "add"

    def get(self, request, form=None, status=200):
        form = form or DepartureForm(initial={"effective_on": timezone.localdate()})
        open_tasks = OffboardingTask.objects.filter(done_at__isnull=True).select_related(
            "person", "account__system"
        )[:100]
        return render(
            request,
            "identity/departure.html",
            {"form": form, "open_tasks": open_tasks, "today": timezone.localdate()},
            status=status,
        )

    def post(self, request):
        form = DepartureForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        data = form.cleaned_data
        try:
            tasks = services.record_departure(
                data["person"],
                actor=request.user,
                reason=data["reason"],
                effective_on=data["effective_on"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
            return self.get(request, form=form, status=400)
        if tasks:
            messages.success(
                request,
                _("已建立 %(n)d 項帳號移除工作。") % {"n": len(tasks)},
            )
        else:
            messages.info(request, _("已記錄；目前沒有需要移除的帳號（或將於生效日建立工作）。"))
        return redirect("identity:departure")


class PasswordChangedView(ProtectedView):
    """The holder (or the office) confirms a default password was changed (2.9.1)."""

    access = Access(signed_in=True)

    def post(self, request, pk):
        account = Account.objects.filter(pk=pk).select_related("person").first()
        if account is None:
            raise Http404
        mine = account.person_id is not None and account.person_id == request.user.person_id
        if not (mine or can(request.user, "change", AccountRegister.access)):
            raise Http404
        try:
            services.confirm_password_changed(account, actor=request.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("已確認變更通行碼。"))
        return redirect(safe_next(request, account.get_absolute_url()))


nav_link(NAV, gettext_lazy("人員異動（帳號移除）"), "identity:departure", DEPARTURE_ACCESS)
