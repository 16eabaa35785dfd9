"""Pages of the core: the school, its units, people and logins, roles, passwords, API keys,
attachments and the A-6 contact table."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail

from . import services
from .access import SIGNED_IN, Access, can, restrict, user_roles
from .api import PersonSerializer, UnitSerializer, UserSerializer
from .filters import PersonFilterSet, UnitFilterSet, UserFilterSet
from .forms import (
    AttachmentForm,
    ContactFormSet,
    LoginForm,
    PasswordChangeForm,
    PersonForm,
    RolesForm,
    SchoolProfileForm,
    TokenCreateForm,
    UnitForm,
    UserCreateForm,
    UserEditForm,
)
from .generic import AddPage, DetailPage, ProtectedView, RegisterView
from .models import ApiToken, Attachment, ContactEntry, Person, SchoolProfile, Unit, User
from .passwords import clear_signin_screen_words
from .registers import NAV_LINKS, REGISTRY, Register
from .roles import (
    ALL_ROLES,
    EQUIPMENT_HEAD,
    MANAGERS,
    PERSONNEL,
    ROLES,
    SECURITY_OFFICER,
    SYSADMIN,
)
from .tables import PERSON_COLUMNS, UNIT_COLUMNS, USER_COLUMNS

# Who keeps the directory: 人事室 (on-boarding, leaving) and the security officer.
DIRECTORY_KEEPERS = frozenset({PERSONNEL, SECURITY_OFFICER})
# Who sees every person: the offices that act on people's accounts and equipment.
DIRECTORY_READERS = MANAGERS | {SYSADMIN, EQUIPMENT_HEAD, PERSONNEL}
ACCOUNT_KEEPERS = frozenset({SECURITY_OFFICER, SYSADMIN})


def own_person_only(queryset, user, action):
    """Staff without a directory role see only their own record (others are 404)."""
    if user_roles(user) & DIRECTORY_READERS:
        return queryset
    return queryset.filter(pk=user.person_id) if user.person_id else queryset.none()


class UnitRegister(Register):
    model = Unit
    access = Access(
        view=ALL_ROLES, add=DIRECTORY_KEEPERS, change=DIRECTORY_KEEPERS, delete=DIRECTORY_KEEPERS
    )
    columns = UNIT_COLUMNS
    filterset_class = UnitFilterSet
    form_class = UnitForm
    serializer_class = UnitSerializer
    select_related = ("parent",)
    ordering = ("name",)
    deletable = True
    attachments = False
    nav_group = gettext_lazy("學校與人員")
    nav_label = gettext_lazy("單位")


class PersonRegister(Register):
    model = Person
    clause = "2.7"
    access = Access(
        view=ALL_ROLES,
        add=DIRECTORY_KEEPERS,
        change=DIRECTORY_KEEPERS,
        void=DIRECTORY_KEEPERS,
        export=DIRECTORY_READERS,
        scope=own_person_only,
    )
    columns = PERSON_COLUMNS
    filterset_class = PersonFilterSet
    form_class = PersonForm
    serializer_class = PersonSerializer
    select_related = ("unit",)
    ordering = ("name", "id")
    detail_fields = [
        "name",
        "english_name",
        "kind",
        "unit",
        "title",
        "email",
        "extension",
        "phone",
        "organization",
        "status",
        "onboard_date",
        "leave_date",
        "notes",
    ]
    detail_template = "core/person_detail.html"
    nav_group = gettext_lazy("學校與人員")
    nav_label = gettext_lazy("人員")

    @classmethod
    def detail_rows(cls, obj):
        rows = super().detail_rows(obj)
        rows.insert(8, (_("生日"), _("已登錄") if obj.birthday else ""))
        rows.insert(9, (_("身分證字號"), obj.masked_national_id))
        return rows


class UserAdd(AddPage):
    """Creating a login shows its default password once, on the page itself (never stored)."""

    def post(self, request, pk=None):
        form = UserCreateForm(request.POST, request=request)
        if not form.is_valid():
            return render(request, self.template_name, self.context(form=form), status=400)
        try:
            user = form.save()
        except ValidationError as error:
            form.add_error(None, error)
            return render(request, self.template_name, self.context(form=form), status=400)
        return render(
            request,
            "core/default_password.html",
            self.context(object=user, password=form.password),
        )


class UserDetail(DetailPage):
    def get(self, request, pk):
        user = self.get_object()
        roles = RolesForm(initial={"roles": [g.name for g in user.groups.all()]})
        ctx = self.context(
            object=user,
            rows=self.register.detail_rows(user),
            roles_form=roles,
            tokens=user.api_tokens.all(),
            history=None,
        )
        from .generic import can_see_history, history_for

        if can_see_history(request.user, self.register):
            ctx["history"] = history_for(user)[:10]
        return render(request, "core/user_detail.html", ctx)


class UserRegister(Register):
    model = User
    clause = "2.9"
    access = Access(view=MANAGERS | ACCOUNT_KEEPERS, add=ACCOUNT_KEEPERS, change=ACCOUNT_KEEPERS)
    columns = USER_COLUMNS
    filterset_class = UserFilterSet
    form_class = UserEditForm
    add_form_class = UserCreateForm
    add_view = UserAdd
    serializer_class = UserSerializer
    viewset_read_only = True
    select_related = ("person",)
    prefetch_related = ("groups",)
    ordering = ("username",)
    route = "users"
    detail_view = UserDetail
    detail_fields = [
        "username",
        "person",
        "email",
        "is_active",
        "must_change_password",
        "password_changed_at",
        "default_password_expires_at",
        "last_login",
        "date_joined",
    ]
    attachments = False
    nav_group = gettext_lazy("學校與人員")
    nav_label = gettext_lazy("登入帳號與角色")


# ---------------------------------------------------------------------------------
# School profile and the A-6 contact table

SCHOOL_ACCESS = Access(view=ALL_ROLES, change=frozenset({SECURITY_OFFICER}))
CONTACT_ACCESS = Access(view=ALL_ROLES, change=frozenset({SECURITY_OFFICER}))


class HomeView(ProtectedView):
    """The landing page; modules above core (the compliance dashboard) extend it."""

    access = SIGNED_IN
    template_name = "core/home.html"

    def extra_context(self, request) -> dict:
        return {}

    def get(self, request):
        user = request.user
        ctx = {
            "contacts": ContactEntry.objects.select_related("person"),
            "roles": sorted(user_roles(user)),
            "password_age_left": services.password_days_left(user),
            "modules": navigation(user),
        }
        if user.is_superuser or user_roles(user) & MANAGERS:
            from isms.audit.models import AuditEntry

            ctx["recent"] = AuditEntry.objects.select_related("actor")[:10]
        ctx.update(self.extra_context(request))
        return render(request, self.template_name, ctx)


class SchoolView(ProtectedView):
    access = SCHOOL_ACCESS

    def get(self, request):
        school = SchoolProfile.load()
        return render(
            request,
            "core/school.html",
            {
                "school": school,
                "can_change": can(request.user, "change", self.access),
                "form": SchoolProfileForm(instance=school, request=request),
            },
        )


class SchoolEditView(ProtectedView):
    access = SCHOOL_ACCESS
    action = "change"

    def get(self, request):
        form = SchoolProfileForm(instance=SchoolProfile.load(), request=request)
        return render(request, "core/school_form.html", {"form": form})

    def post(self, request):
        form = SchoolProfileForm(request.POST, instance=SchoolProfile.load(), request=request)
        if form.is_valid():
            with transaction.atomic():
                form.save()
            clear_signin_screen_words()  # the sign-in screen shows the school's name (A-5 二.10)
            messages.success(request, _("已更新學校基本資料。"))
            return redirect("core:school")
        return render(request, "core/school_form.html", {"form": form}, status=400)


class ContactsView(ProtectedView):
    """The A-6 contact table (資安事件通報程序), shown to everyone who may need it."""

    access = CONTACT_ACCESS

    def get(self, request):
        return render(
            request,
            "core/contacts.html",
            {
                "contacts": ContactEntry.objects.select_related("person"),
                "school": SchoolProfile.load(),
                "can_change": can(request.user, "change", self.access),
            },
        )


class ContactsPrintView(ContactsView):
    def get(self, request):
        return render(
            request,
            "core/contacts_print.html",
            {
                "contacts": ContactEntry.objects.select_related("person"),
                "school": SchoolProfile.load(),
            },
        )


class ContactsEditView(ProtectedView):
    access = CONTACT_ACCESS
    action = "change"

    def get(self, request):
        formset = ContactFormSet(
            queryset=ContactEntry.objects.all(), form_kwargs={"request": request}
        )
        return render(request, "core/contacts_form.html", {"formset": formset})

    def post(self, request):
        formset = ContactFormSet(
            request.POST, queryset=ContactEntry.objects.all(), form_kwargs={"request": request}
        )
        if formset.is_valid():
            with transaction.atomic():
                formset.save()
            messages.success(request, _("已更新資安事件通報聯絡人。"))
            return redirect("core:contacts")
        return render(request, "core/contacts_form.html", {"formset": formset}, status=400)


# ---------------------------------------------------------------------------------
# Logins: roles, default passwords, API keys


class RolesOverviewView(ProtectedView):
    """The roles, who holds them, and what each may do in every register (the matrix)."""

    access = Access(view=MANAGERS | ACCOUNT_KEEPERS)

    def get(self, request):
        from django.contrib.auth.models import Group
        from django.db.models import Count, Q

        counts = dict(
            Group.objects.annotate(n=Count("user", filter=Q(user__is_active=True))).values_list(
                "name", "n"
            )
        )
        actions = [
            ("view", _("檢視")),
            ("add", _("新增")),
            ("change", _("修改")),
            ("void", _("作廢")),
            ("delete", _("刪除")),
            ("export", _("匯出")),
        ]
        matrix = []
        for reg in sorted(REGISTRY.values(), key=lambda r: (r.namespace(), r.verbose_name())):
            cells = []
            for action, _label in actions:
                roles = reg.access.roles(action)
                cells.append(
                    "、".join(str(ROLES[r][0]) for r in ROLES if r in roles) if roles else "—"
                )
            matrix.append((reg.verbose_name(), reg.clause, cells))
        roles = [(code, label, desc, counts.get(code, 0)) for code, (label, desc) in ROLES.items()]
        return render(
            request,
            "core/roles.html",
            {"roles": roles, "actions": [a[1] for a in actions], "matrix": matrix},
        )


class UserRolesView(RegisterView):
    register = UserRegister
    action = "change"

    def post(self, request, pk):
        user = self.get_object()
        form = RolesForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("角色選擇不正確。"))
            return redirect(user.get_absolute_url())
        if user == request.user and not request.user.is_superuser:
            kept = set(form.cleaned_data["roles"]) & ACCOUNT_KEEPERS
            if not kept:
                messages.error(request, _("不可移除自己管理帳號的角色，請由其他管理人員處理。"))
                return redirect(user.get_absolute_url())
        services.roles_set(user, roles=form.cleaned_data["roles"], actor=request.user)
        messages.success(request, _("已更新「%(user)s」的角色。") % {"user": user})
        return redirect(user.get_absolute_url())


class UserResetPasswordView(RegisterView):
    register = UserRegister
    action = "change"

    def post(self, request, pk):
        user = self.get_object()
        password = services.password_set_default(user, actor=request.user)
        return render(
            request,
            "core/default_password.html",
            self.context(object=user, password=password, reset=True),
        )


class PasswordChangeView(ProtectedView):
    access = SIGNED_IN

    def get(self, request):
        return render(
            request, "registration/password_change.html", self.ctx(PasswordChangeForm(request.user))
        )

    def ctx(self, form):
        from .passwords import PolicyPasswordValidator

        return {
            "form": form,
            "forced": services.password_expired(self.request.user),
            "rules": PolicyPasswordValidator().get_help_text(),
        }

    def post(self, request):
        form = PasswordChangeForm(request.user, request.POST)
        if form.is_valid():
            user = form.save()
            update_session_auth_hash(request, user)
            messages.success(request, _("通行碼已變更。"))
            return redirect("home")
        return render(request, "registration/password_change.html", self.ctx(form), status=400)


class TokensView(ProtectedView):
    """One's own API keys: create (the key is shown once) and revoke."""

    access = SIGNED_IN

    def get(self, request, form=None, key=None, status=200):
        return render(
            request,
            "core/tokens.html",
            {
                "tokens": request.user.api_tokens.all(),
                "form": form or TokenCreateForm(),
                "new_key": key,
            },
            status=status,
        )

    def post(self, request):
        form = TokenCreateForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        _token, key = services.token_create(
            user=request.user, name=form.cleaned_data["name"], actor=request.user
        )
        return self.get(request, key=key)


class TokenRevokeView(ProtectedView):
    access = SIGNED_IN
    action = "change"

    def post(self, request, pk):
        token = ApiToken.objects.filter(pk=pk).select_related("user").first()
        if token is None:
            raise Http404
        own = token.user_id == request.user.pk
        if not own and not can(request.user, "change", UserRegister.access):
            raise Http404
        services.token_revoke(token, actor=request.user)
        messages.success(request, _("已撤銷 API 金鑰「%(name)s」。") % {"name": token.name})
        return redirect("core:token_list" if own else token.user.get_absolute_url())


# ---------------------------------------------------------------------------------
# Attachments: stored outside the static root, served only after a permission check


def _target(request, label, pk, action):
    reg = REGISTRY.get(label)
    if reg is None or not reg.attachments:
        raise Http404
    qs = restrict(reg.base_queryset(), request.user, action, reg.access)
    try:
        return reg, qs.get(pk=pk)
    except (reg.model.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


class AttachmentAddView(ProtectedView):
    access = SIGNED_IN  # the target register's own "change" rule decides, below
    action = "change"

    def post(self, request, label, pk):
        reg, target = _target(request, label, pk, "view")
        if not can(request.user, "change", reg.access):
            raise PermissionDenied
        reg, target = _target(request, label, pk, "change")
        form = AttachmentForm(request.POST, request.FILES)
        if form.is_valid():
            services.attachment_add(
                target=target,
                upload=form.cleaned_data["file"],
                description=form.cleaned_data["description"],
                actor=request.user,
            )
            messages.success(request, _("已上傳附件。"))
            return redirect(target.get_absolute_url())
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        response = redirect(target.get_absolute_url())
        response.status_code = 303
        return response


def _attachment(request, pk, action):
    attachment = get_object_or_404(Attachment.objects.select_related("content_type"), pk=pk)
    label = f"{attachment.content_type.app_label}.{attachment.content_type.model}"
    reg, target = _target(request, label, attachment.object_id, action)
    return reg, target, attachment


class AttachmentDownloadView(ProtectedView):
    access = SIGNED_IN

    def get(self, request, pk):
        _reg, _target_obj, attachment = _attachment(request, pk, "view")
        trail.record(trail.Action.DOWNLOAD, attachment)
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        return FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.mime_type,
        )


class AttachmentVoidView(ProtectedView):
    access = SIGNED_IN
    action = "change"

    def post(self, request, pk):
        reg, target, attachment = _attachment(request, pk, "view")
        if not can(request.user, "change", reg.access):
            raise PermissionDenied
        reg, target, attachment = _attachment(request, pk, "change")
        reason = request.POST.get("reason", "").strip()
        try:
            services.record_void(attachment, actor=request.user, reason=reason)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("已作廢附件。"))
        return redirect(target.get_absolute_url())


# ---------------------------------------------------------------------------------
# Sign-in


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["school"] = SchoolProfile.load()
        return ctx


class LogoutView(auth_views.LogoutView):
    pass


LoginView.isms_public = True
LogoutView.isms_public = True


def navigation(user):
    """Modules and their pages that exist and that this person may open, in menu order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for reg in REGISTRY.values():
        if reg.nav_group and can(user, "view", reg.access):
            groups.setdefault(str(reg.nav_group), []).append(
                (str(reg.nav_label or reg.verbose_name()), reverse(reg.url_name("list")))
            )
    fixed = groups.setdefault(str(gettext_lazy("學校與人員")), [])
    if can(user, "view", SCHOOL_ACCESS):
        fixed.insert(0, (_("學校基本資料"), reverse("core:school")))
        fixed.insert(1, (_("資安事件通報聯絡人（A-6）"), reverse("core:contacts")))
    if can(user, "view", RolesOverviewView.access):
        fixed.append((_("角色與權限"), reverse("core:roles")))
    for group, label, url_name, access in NAV_LINKS:
        if can(user, "view", access):
            groups.setdefault(str(group), []).append((str(label), reverse(url_name)))
    from isms.audit.views import AUDIT_ACCESS

    if can(user, "view", AUDIT_ACCESS):
        groups.setdefault(_("稽核"), []).append((_("稽核軌跡"), reverse("audit:entry_list")))
    return [(name, items) for name, items in groups.items() if items]
