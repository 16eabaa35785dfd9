"""Account request pages (帳號申請單, A-3): the register, filing, executing, review, print.

Who sees what (``requests.request_scope``): the office (security officer, supervisor,
principal, sysadmin, 設備組長, 人事室) sees every request; others see the requests they
filed or are the applicant of, and those with a line on a system they administer (they
execute it). A request outside one's scope is a 404.

Filing, one's own request page, its print-out and the password confirmation are open to
everyone signed in (one files for oneself even without a role); the list and export
follow the register's matrix.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit.models import AuditEntry
from isms.core.access import SIGNED_IN, Access, can, restrict
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import add_service_errors
from isms.core.generic import ProtectedView, RegisterView, can_see_history, safe_next
from isms.core.models import SchoolProfile
from isms.core.registers import Column, Register, nav_link
from isms.core.roles import ALL_ROLES, SECURITY_OFFICER, SUPERVISOR

from . import forms_requests as forms
from . import requests
from .api import AccountApplicationSerializer, AccountRequestViewSet
from .models import AccountRequest, AccountRequestLine

NAV = gettext_lazy("帳號與權限")
REQUEST_ACCESS = Access(
    view=ALL_ROLES,
    add=ALL_ROLES,
    void=frozenset({SECURITY_OFFICER}),
    export=requests.READERS,
    scope=requests.request_scope,
)
# One's own pages: anyone signed in, narrowed to the requests they may see.
OWN_ACCESS = Access(signed_in=True, scope=requests.request_scope)
REVIEW_ACCESS = Access(view=requests.READERS, change=frozenset({SUPERVISOR}))


class AccountRequestFilterSet(FilterSet):
    search_fields = ("number", "applicant__name", "extension")
    requested_from = ROCDateFilter(
        label=gettext_lazy("申請日期起"), field_name="requested_on", lookup_expr="gte"
    )
    requested_to = ROCDateFilter(
        label=gettext_lazy("申請日期迄"), field_name="requested_on", lookup_expr="lte"
    )

    class Meta:
        model = AccountRequest
        fields = ["status", "unit"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        by_line = AccountRequestLine.objects.filter(
            Q(account_name__icontains=value) | Q(system__name__icontains=value)
        ).values("request_id")
        query = Q(pk__in=by_line)
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": value})
        return queryset.filter(query)


def _lines(req) -> str:
    return "；".join(
        f"{line.system.name} {line.account_name} {line.get_action_display()}"
        for line in req.lines.all()
    )


def _progress(req) -> str:
    lines = list(req.lines.all())
    done = sum(1 for line in lines if line.executed_at is not None)
    return f"{done}/{len(lines)}"


def _execution(req) -> str:
    authorised = _("（已確認經系統管理單位授權）")
    return "；".join(
        f"{line.account_name}：{line.executed_by.display_name} "
        f"{requests._when(line.executed_at)} {line.execution_note}"
        + (authorised if line.authorisation_checked else "")
        for line in req.lines.all()
        if line.executed_at is not None and line.executed_by_id
    )


def _name(user) -> str:
    return user.display_name if user is not None else ""


class AccountRequestRegister(Register):
    model = AccountRequest
    clause = "2.7"
    access = REQUEST_ACCESS
    serializer_class = AccountApplicationSerializer
    viewset_base = AccountRequestViewSet
    columns = [
        Column("number", gettext_lazy("申請單編號"), link=True),
        Column("requested_on", gettext_lazy("申請日期")),
        Column(
            "applicant", gettext_lazy("申請人"), accessor="applicant.name", sort="applicant__name"
        ),
        Column("unit", gettext_lazy("單位"), accessor="unit.name", sort="unit__name"),
        Column("lines", gettext_lazy("申請項目"), accessor=_lines, sort=None),
        Column("progress", gettext_lazy("已執行"), accessor=_progress, sort=None),
        Column("status", gettext_lazy("狀態")),
        Column("extension", gettext_lazy("分機"), page=False),
        Column(
            "submitted_by",
            gettext_lazy("填單人"),
            accessor=lambda r: _name(r.submitted_by),
            sort=None,
            page=False,
        ),
        Column("execution", gettext_lazy("執行紀錄"), accessor=_execution, sort=None, page=False),
        Column(
            "reviewed_by",
            gettext_lazy("覆核主管"),
            accessor=lambda r: _name(r.reviewed_by),
            sort=None,
            page=False,
        ),
        Column("reviewed_at", gettext_lazy("覆核時間"), page=False),
        Column("review_note", gettext_lazy("覆核意見"), page=False),
    ]
    filterset_class = AccountRequestFilterSet
    form_class = forms.AccountRequestForm
    select_related = ("applicant", "unit", "submitted_by__person", "reviewed_by__person")
    prefetch_related = ("lines__system", "lines__executed_by__person")
    ordering = ("-requested_on", "-id")
    route = "requests"
    nav_group = NAV
    nav_label = gettext_lazy("帳號申請單")


def visible_request(request, pk):
    """The request if this person may see it, else 404."""
    qs = restrict(AccountRequestRegister.base_queryset(), request.user, "view", OWN_ACCESS)
    req = qs.filter(pk=pk).first()
    if req is None:
        raise Http404
    return req


def _request_lines(req):
    return list(
        req.lines.select_related("system", "account__person", "executed_by__person").order_by("id")
    )


# Filing ----------------------------------------------------------------------------------------
class AccountRequestAdd(RegisterView):
    """File an A-3 request: for oneself, or (人事室, security officer) for someone else."""

    access = OWN_ACCESS
    action = "add"
    template_name = "identity/requests/form.html"

    def render_page(self, form, formset, status=200, show_errors=True):
        user = self.request.user
        return render(
            self.request,
            self.template_name,
            self.context(
                form=form,
                formset=formset,
                show_errors=show_errors,
                applicant=None if form.for_others else getattr(user, "person", None),
                notes=requests.A3_NOTES,
            ),
            status=status,
        )

    def get(self, request):
        person = getattr(request.user, "person", None)
        form = forms.AccountRequestForm(
            initial={"requested_on": timezone.localdate()}, request=request
        )
        if person is not None and not form.for_others:  # one's own unit and extension
            form.initial.update(unit=person.unit_id, extension=person.extension)
        return self.render_page(form, forms.LineFormSet())

    def post(self, request):
        if "add_line" in request.POST:
            return self.add_line(request)
        form = forms.AccountRequestForm(request.POST, request=request)
        formset = forms.LineFormSet(request.POST)
        if not (form.is_valid() and formset.is_valid()):
            return self.render_page(form, formset, status=400)
        data = form.cleaned_data
        filled = formset.filled()
        applicant = data.get("applicant") if form.for_others else request.user.person
        try:
            req = requests.submit_request(
                actor=request.user,
                applicant=applicant,
                unit=data.get("unit"),
                extension=data.get("extension", ""),
                requested_on=data["requested_on"],
                lines=[f.cleaned_data for f in filled],
                remarks=data.get("remarks", ""),
            )
        except ValidationError as error:
            for key, messages_ in error.message_dict.items():
                where = requests.parse_line_key(key)
                if where is not None and where[0] < len(filled):
                    line_form, field = filled[where[0]], where[1]
                    line_form.add_error(field if field in line_form.fields else None, messages_)
                elif key == "lines":
                    formset._non_form_errors = formset.error_class(
                        messages_, error_class="nonform", renderer=formset.renderer
                    )
                else:
                    form.add_error(key if key in form.fields else None, messages_)
            return self.render_page(form, formset, status=400)
        messages.success(
            request,
            _("已送出帳號申請單 %(number)s，設備組長或系統管理人員執行後會通知您。")
            % {"number": req.number},
        )
        return redirect(req.get_absolute_url())

    def add_line(self, request):
        """Without JavaScript: one more empty line, nothing checked or saved yet."""
        data = request.POST.copy()
        key = f"{forms.LINE_PREFIX}-TOTAL_FORMS"
        try:
            total = int(data.get(key, "0"))
        except ValueError:
            total = 0
        data[key] = str(max(0, min(total + 1, requests.MAX_LINES)))
        head = {
            name: data.get(name)
            for name in ("applicant", "unit", "extension", "requested_on", "remarks")
            if name in data
        }
        form = forms.AccountRequestForm(initial=head, request=request)
        return self.render_page(form, forms.LineFormSet(data), show_errors=False)


class AccountRequestEdit(RegisterView):
    """A filed request is not edited: it is returned, or voided and filed again."""

    action = "change"

    def get(self, request, pk):
        req = self.get_object("view")
        messages.info(request, _("帳號申請單送出後不可修改；如有錯誤請作廢後重新申請。"))
        return redirect(req.get_absolute_url())

    post = get


# The request page ------------------------------------------------------------------------------
class LineRow:
    def __init__(self, n, line, *, may_execute, holder):
        self.n = n
        self.line = line
        self.may_execute = may_execute
        self.holder = holder
        self.awaits_password = requests.awaits_password_change(line)
        account = line.account
        self.expires_at = account.default_password_expires_at if account else None
        self.overdue = bool(
            self.awaits_password and self.expires_at and self.expires_at < timezone.now()
        )
        changed = account.password_changed_at if account else None
        self.confirmed_at = (
            changed
            if line.action in requests.ISSUES_PASSWORD
            and changed is not None
            and line.executed_at is not None
            and changed >= line.executed_at
            else None
        )


def line_rows(user, req, lines):
    administered = requests.administered_ids(user)
    open_ = requests.is_open(req)
    return [
        LineRow(
            n,
            line,
            may_execute=open_
            and line.executed_at is None
            and requests.may_execute(user, line, administered),
            holder=requests.is_holder(user, line.account),
        )
        for n, line in enumerate(lines, start=1)
    ]


def audit_entries(req, lines):
    """The audit trail of the request and its lines, newest first."""
    return (
        AuditEntry.objects.filter(
            Q(model_label=AccountRequest._meta.label_lower, object_id=str(req.pk))
            | Q(
                model_label=AccountRequestLine._meta.label_lower,
                object_id__in=[str(line.pk) for line in lines],
            )
        )
        .select_related("actor")
        .order_by("-timestamp", "-id")
    )


class AccountRequestDetail(RegisterView):
    access = OWN_ACCESS
    template_name = "identity/requests/detail.html"

    def get(self, request, pk):
        req = self.get_object()
        lines = _request_lines(req)
        user = request.user
        may_review = requests.may_review(user) and req.voided_at is None
        ctx = self.context(
            object=req,
            req=req,
            rows=line_rows(user, req, lines),
            timeline=requests.timeline(req, lines),
            can_review=may_review and req.status == AccountRequest.Status.EXECUTED,
            can_return=may_review
            and req.status in (AccountRequest.Status.SUBMITTED, AccountRequest.Status.EXECUTED),
            is_open=requests.is_open(req),
            history=list(audit_entries(req, lines)[:20])
            if can_see_history(user, self.register)
            else None,
            can_list=can(user, "view", self.register.access),
            valid_days=_valid_days(),
        )
        return render(request, self.template_name, ctx)


def _valid_days():
    from django.conf import settings

    return settings.ISMS_DEFAULT_PASSWORD_VALID_DAYS


AccountRequestRegister.add_view = AccountRequestAdd
AccountRequestRegister.edit_view = AccountRequestEdit
AccountRequestRegister.detail_view = AccountRequestDetail


# Actions ---------------------------------------------------------------------------------------
class RequestAction(ProtectedView):
    """One action on a request: a small form page (GET) and its service call (POST)."""

    access = OWN_ACCESS
    action = "view"
    form_class = None
    title = ""
    help_text = ""

    def request_object(self):
        return visible_request(self.request, self.kwargs["pk"])

    def check(self, req):
        """Raise PermissionDenied when this person may not take the action."""

    def initial(self, req):
        return {}

    def form_kwargs(self, req):
        return {}

    def extra(self, req):
        return {}

    def render_form(self, req, form, status=200):
        return render(
            self.request,
            "identity/requests/action.html",
            {
                "req": req,
                "form": form,
                "title": self.title,
                "help_text": self.help_text,
                **self.extra(req),
            },
            status=status,
        )

    def get(self, request, pk, **kwargs):
        req = self.request_object()
        self.check(req)
        return self.render_form(
            req, self.form_class(initial=self.initial(req), **self.form_kwargs(req))
        )

    def post(self, request, pk, **kwargs):
        req = self.request_object()
        self.check(req)
        form = self.form_class(request.POST, **self.form_kwargs(req))
        if form.is_valid():
            try:
                with transaction.atomic():
                    message = self.perform(req, form.cleaned_data, request.user)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, message)
                return redirect(req.get_absolute_url())
        return self.render_form(req, form, status=400)

    def perform(self, req, data, actor) -> str:
        raise NotImplementedError


def _now():
    return timezone.localtime().replace(second=0, microsecond=0)


class ExecuteLineView(RequestAction):
    """The 設備組長 or the system's administrator records how and when a line was done."""

    form_class = forms.ExecuteForm

    @property
    def title(self):
        return _("執行帳號申請項目")

    def line(self, req):
        line = getattr(self, "_line", None)
        if line is None:
            line = (
                AccountRequestLine.objects.filter(request=req, pk=self.kwargs["line"])
                .select_related("system")
                .first()
            )
            if line is None:
                raise Http404
            self._line = line
        return line

    def check(self, req):
        if not requests.may_execute(self.request.user, self.line(req)):
            raise PermissionDenied

    def initial(self, req):
        return {"executed_at": _now()}

    def form_kwargs(self, req):
        return {"line": self.line(req)}

    def extra(self, req):
        line = self.line(req)
        needs_authorisation = line.action in requests.NEEDS_AUTHORISATION
        return {
            "line": line,
            "needs_authorisation": needs_authorisation,
            "request_units": sorted(line.system.request_units.all(), key=lambda u: u.name)
            if needs_authorisation
            else [],
            "issues_password": line.action in requests.ISSUES_PASSWORD,
            "valid_days": _valid_days(),
        }

    def perform(self, req, data, actor):
        line = self.line(req)
        requests.execute_line(
            line,
            actor=actor,
            note=data["execution_note"],
            executed_at=data["executed_at"],
            authorisation_checked=data.get("authorisation_checked", False),
        )
        return _("已執行「%(line)s」並更新帳號登記簿。") % {
            "line": f"{line.system.name} {line.account_name} {line.get_action_display()}"
        }


class ReviewView(RequestAction):
    access = REVIEW_ACCESS
    action = "change"
    form_class = forms.ReviewForm
    title = gettext_lazy("主管覆核")
    help_text = gettext_lazy("確認各項目已依申請執行、申請人經授權使用該系統（條文 2.7）。")

    def perform(self, req, data, actor):
        requests.review_request(req, actor=actor, note=data.get("note", ""))
        return _("已覆核帳號申請單。")


class ReturnView(RequestAction):
    access = REVIEW_ACCESS
    action = "change"
    form_class = forms.ReturnForm
    title = gettext_lazy("退回申請單")
    help_text = gettext_lazy(
        "退回後未執行的項目不再執行；已執行的異動仍保留在帳號登記簿，需要時請另行申請。"
    )

    def perform(self, req, data, actor):
        requests.return_request(req, actor=actor, reason=data["reason"])
        return _("已退回帳號申請單。")


class PasswordChangedView(ProtectedView):
    """The holder confirms they changed the default password of a new or reset account."""

    access = OWN_ACCESS
    http_method_names = ["post"]

    def post(self, request, pk, line):
        req = visible_request(request, pk)
        item = (
            AccountRequestLine.objects.filter(request=req, pk=line)
            .select_related("account")
            .first()
        )
        if item is None:
            raise Http404
        if not requests.is_holder(request.user, item.account):
            raise PermissionDenied
        try:
            requests.confirm_password(item, actor=request.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("已確認變更預設通行碼，謝謝。"))
        return redirect(safe_next(request, req.get_absolute_url()))


# One's own requests ----------------------------------------------------------------------------
class MyRequestsView(ProtectedView):
    """The requests one filed or is the applicant of, and the passwords to confirm."""

    access = SIGNED_IN

    def get(self, request):
        user = request.user
        mine = Q(submitted_by=user)
        if user.person_id:
            mine |= Q(applicant_id=user.person_id)
        reqs = (
            AccountRequest.objects.filter(mine)
            .select_related("applicant")
            .prefetch_related("lines__system")
            .order_by("-requested_on", "-id")[:100]
        )
        pending = []
        if user.person_id:
            seen = set()
            lines = (
                AccountRequestLine.objects.filter(
                    account__person_id=user.person_id,
                    action__in=requests.ISSUES_PASSWORD,
                    executed_at__isnull=False,
                    account__default_password_expires_at__isnull=False,
                    account__password_changed_at__isnull=True,
                    account__voided_at__isnull=True,
                )
                .select_related("account", "system", "request")
                .order_by("-executed_at")
            )
            for line in lines:
                if line.account_id not in seen:
                    seen.add(line.account_id)
                    pending.append(line)
        return render(
            request,
            "identity/requests/mine.html",
            {"requests": reqs, "pending": pending, "now": timezone.now()},
        )


# The paper form --------------------------------------------------------------------------------
# The paper A-3 has five numbered lines (☐ 1. … ☐ 5.); a longer request just goes on.
PAPER_LINES = 5


class PrintView(ProtectedView):
    """A-3 on A4 as on paper: the head, the numbered lines (ticked, padded with empty ones
    to five), 備註, 執行紀錄, the 設備組長 and 主管覆核 lines, 帳號使用注意事項."""

    access = OWN_ACCESS

    def get(self, request, pk):
        from isms.compliance.models import PolicyRevision

        req = visible_request(request, pk)
        lines = _request_lines(req)
        school = SchoolProfile.load()
        reviewed = req.status == AccountRequest.Status.REVIEWED
        returned = req.status == AccountRequest.Status.REJECTED
        return render(
            request,
            "identity/requests/print.html",
            {
                "req": req,
                "lines": lines,
                "blank_rows": range(len(lines) + 1, PAPER_LINES + 1),
                "actions": AccountRequestLine.Action.choices,
                "notes": requests.A3_NOTES,
                "executors": requests.executors(lines),
                "reviewed": reviewed,
                "returned": returned,
                "school": school,
                "school_profile": school,  # the layout's, so that it is read once
                "policy_version": PolicyRevision.current(),
                "now": timezone.now(),
            },
        )


nav_link(NAV, gettext_lazy("帳號申請"), "identity:accountrequest_add", SIGNED_IN)
nav_link(NAV, gettext_lazy("我的帳號申請"), "identity:accountrequest_mine", SIGNED_IN)
