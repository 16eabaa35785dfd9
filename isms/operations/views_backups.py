"""Pages and API of backups (2.4): backup plans, their runs and restore tests.

- 備份計畫 (2.4.1): the register of plans, with the last successful run, the next due
  moment and an overdue mark computed for the whole page at once (a subquery, not a query
  per row). A plan's page shows its runs and restore tests, and its job key: a system
  administrator creates (or replaces) and revokes it; a new key is shown once, on the page
  that answers the creation, with copy-paste examples for a POSIX shell script (curl) and
  Windows PowerShell (Invoke-RestMethod).
- 備份紀錄 (2.4.1): runs reported by the backup job (``POST /api/backup-runs/`` with the
  plan's key), recorded by hand by a system administrator, or by ``isms backup``; never
  edited once recorded.
- 備份還原測試 (2.4.2): recorded and corrected by the tester until the supervisor's review
  (on the test's page), voided with a reason.

Access: system administrators write; the security officer, the supervisor and the
principal read. The rules are in ``backups``; these views and the API only call it.
"""

import datetime as dt

import django_filters as df
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import OuterRef, Q, Subquery
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from isms.assets.models import Asset
from isms.audit import trail
from isms.core import devicekeys, roc
from isms.core.access import Access, MatrixPermission, can
from isms.core.devicekeys import DeviceKey
from isms.core.fields import ROCDateTimeField
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import AddPage, DetailAction, DetailPage, EditPage, url_or_none
from isms.core.registers import Column, Register, as_text, choice_label
from isms.core.restapi import (
    ModelSerializer,
    RegisterViewSet,
    ReviewSerializer,
    iso_moment,
    service_errors,
)
from isms.core.roles import MANAGERS, SUPERVISOR, SYSADMIN
from isms.identity.models import InformationSystem

from . import backups
from .models import BackupPlan, BackupRun, RestoreTest
from .nav import NAV

Content = BackupPlan.Content
Status = BackupRun.Status
Source = BackupRun.Source
Checksum = RestoreTest.Checksum

READERS = MANAGERS | {SYSADMIN}
KEEPERS = frozenset({SYSADMIN})
PLAN_ACCESS = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)
# A run is recorded, never changed nor voided (a wrong report stays, with what followed).
RUN_ACCESS = Access(view=READERS, add=KEEPERS)
# ``change``: and only the test's tester, before the review (backups.may_edit_test).
TEST_ACCESS = Access(view=READERS, add=KEEPERS, change=KEEPERS, void=KEEPERS)
REVIEW_ACCESS = Access(view=READERS, change=frozenset({SUPERVISOR}))
KEY_ACCESS = Access(view=READERS, change=KEEPERS)
# Runs shown on a plan's page; the list has them all.
PLAN_PAGE_RUNS = 20
# What the examples say where the key goes (ASCII: PowerShell 5.1 reads scripts as ANSI).
KEY_PLACEHOLDER = "PASTE-THE-KEY-HERE"


_content = choice_label(Content.choices)
_medium = choice_label(BackupPlan.Medium.choices)
_status = choice_label(Status.choices)
_source = choice_label(Source.choices)
_checksum = choice_label(Checksum.choices)


def human_size(size) -> str:
    """1536 → 1.5 KB (binary multiples, as backup tools show them)."""
    if size is None:
        return ""
    units = ("B", "KB", "MB", "GB", "TB", "PB")
    value, step = float(size), 0
    while value >= 1024 and step < len(units) - 1:
        value, step = value / 1024, step + 1
    return f"{int(value)} B" if step == 0 else f"{value:.1f} {units[step]}"


# Plans (2.4.1) -----------------------------------------------------------------------------------
def with_last_success(qs):
    """Each plan with the end of its last successful run, in the same query (a subquery on
    the index ``plan, status, -finished_at``)."""
    last = (
        BackupRun.objects.filter(
            plan=OuterRef("pk"), status=Status.SUCCEEDED, finished_at__isnull=False
        )
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    return qs.annotate(last_success_at=Subquery(last))


def _last(plan):
    """The annotation, or (a plan read without it) the one query for it."""
    if not hasattr(plan, "last_success_at"):
        plan.last_success_at = backups.last_success([plan]).get(plan.pk)
    return plan.last_success_at


def next_due(plan):
    return backups.due_at(plan, _last(plan))


def overdue(plan, now=None) -> bool:
    return plan.voided_at is None and next_due(plan) <= (now or timezone.now())


def _target(plan) -> str:
    parts = [plan.system.name if plan.system_id else "", str(plan.server) if plan.server_id else ""]
    if plan.is_product and not any(parts):
        parts = [str(_("本平台"))]
    return "、".join(p for p in parts if p)


def _contents(plan) -> str:
    names = [_content(c) for c in plan.contents or ()]
    if plan.contents_other:
        names = [n for c, n in zip(plan.contents, names, strict=False) if c != Content.OTHER]
        names.append(plan.contents_other)
    return "、".join(names)


def _rhythm(plan) -> str:
    return _("每 %(days)d 天") % {"days": plan.rhythm_days}


def _offsite(plan) -> str:
    if not plan.offsite:
        return str(_("否"))
    return f"{plan.offsite_location}（{_medium(plan.offsite_medium)}）"


def _overdue_mark(plan) -> str:
    if plan.voided_at is not None or not overdue(plan):
        return ""
    return str(_("逾期")) if _last(plan) else str(_("逾期（尚無成功備份）"))


class BackupPlanFilterSet(FilterSet):
    search_fields = (
        "name",
        "method",
        "destination",
        "offsite_location",
        "system__name",
        "server__name",
        "server__property_number",
    )
    system = df.ModelChoiceFilter(
        label=gettext_lazy("資訊系統"), queryset=InformationSystem.objects.order_by("name")
    )
    responsible = df.ModelChoiceFilter(
        label=gettext_lazy("負責系統管理人員"),
        queryset=get_user_model()
        .objects.filter(groups__name=SYSADMIN)
        .distinct()
        .order_by("username"),
    )
    content = df.ChoiceFilter(
        label=gettext_lazy("備份內容"), choices=Content.choices, method="filter_content"
    )
    offsite = df.BooleanFilter(label=gettext_lazy("異地備份"))
    due = df.ChoiceFilter(
        label=gettext_lazy("備份狀態"),
        choices=[("overdue", gettext_lazy("逾期")), ("ok", gettext_lazy("未逾期"))],
        method="filter_due",
    )

    class Meta:
        model = BackupPlan
        fields = ["system", "responsible", "content", "offsite", "due"]

    def filter_content(self, queryset, name, value):
        # The JSON list as text: '"database"' is in it (SQLite and PostgreSQL alike).
        return queryset.filter(contents__icontains=f'"{value}"') if value else queryset

    def filter_due(self, queryset, name, value):
        if value not in ("overdue", "ok"):
            return queryset
        now = timezone.now()
        rows = with_last_success(queryset.model.objects.active()).values_list(
            "pk", "created_at", "rhythm_days", "last_success_at"
        )
        late = [
            pk
            for pk, created, days, last in rows
            if (last or created) + dt.timedelta(days=days) <= now
        ]
        if value == "overdue":
            return queryset.filter(pk__in=late, voided_at__isnull=True)
        return queryset.exclude(pk__in=late)


class BackupPlanForm(ModelForm):
    """A plan; the rules (and their messages citing 2.4.1) are ``backups.plan_errors``."""

    contents = forms.MultipleChoiceField(
        label=gettext_lazy("備份內容"),
        choices=Content.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("重要電腦系統及資料，如系統檔案、網站、資料庫等（條文 2.4.1）。"),
    )

    class Meta(ModelForm.Meta):
        model = BackupPlan
        fields = [
            "name",
            "system",
            "server",
            "contents",
            "contents_other",
            "method",
            "destination",
            "offsite",
            "offsite_location",
            "offsite_medium",
            "rhythm_days",
            "responsible",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "system": gettext_lazy("備份的資訊系統或主機，至少選一項。"),
            "method": gettext_lazy(
                "例如：每日以 mysqldump 完整備份資料庫、以 rsync 同步網站目錄。"
            ),
            "destination": gettext_lazy("例如：NAS \\\\nas01\\backup\\web、備份主機 /srv/backup。"),
            "offsite": gettext_lazy(
                "建議使用設備執行異地備份，或使用光碟、隨身碟或外接式硬碟異地存放（條文 2.4.1）。"
            ),
            "offsite_location": gettext_lazy("例如：總務處保險櫃、分校機房、雲端儲存服務名稱。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        plan = self.instance
        fields["contents"].widget.attrs.pop("class", None)
        fields["system"].queryset = InformationSystem.objects.filter(
            Q(voided_at__isnull=True) | Q(pk=plan.system_id or 0)
        ).order_by("name")
        fields["server"].queryset = (
            Asset.objects.filter(kind=Asset.Kind.SERVER)
            .filter(
                Q(voided_at__isnull=True) & ~Q(state=Asset.State.DECOMMISSIONED)
                | Q(pk=plan.server_id or 0)
            )
            .order_by("property_number", "id")
        )
        fields["responsible"].queryset = (
            get_user_model()
            .objects.filter(
                Q(groups__name=SYSADMIN, is_active=True) | Q(pk=plan.responsible_id or 0)
            )
            .select_related("person")
            .distinct()
            .order_by("username")
        )
        rhythm = fields["rhythm_days"]
        message = _("備份頻率須為 1 到 7 天：條文 2.4.1 規定每週至少備份一次。")
        rhythm.error_messages.update(
            {"min_value": message, "max_value": message, "invalid": message}
        )
        if (
            plan.pk is None
            and self.request is not None
            and backups.is_administrator(self.request.user)
        ):
            self.initial.setdefault("responsible", self.request.user.pk)
        if plan.is_product:
            fields["system"].help_text = _("本平台自身的備份（isms backup）。")

    def save(self, commit=True):
        plan = super().save(commit=False)
        return backups.save_plan(plan, actor=self.request.user)


class BackupPlanSerializer(ModelSerializer):
    """A plan; the job key's hash never leaves the server (``has_key`` and its prefix do)."""

    id = serializers.IntegerField(read_only=True)
    contents = serializers.ListField(
        child=serializers.ChoiceField(choices=Content.choices),
        label=gettext_lazy("備份內容"),
        required=False,
    )
    # The service's message cites 2.4.1; DRF's own would not.
    rhythm_days = serializers.IntegerField(label=gettext_lazy("備份頻率（天）"), required=False)
    has_key = serializers.SerializerMethodField(label=gettext_lazy("已設定備份程式金鑰"))
    last_success_at = serializers.DateTimeField(
        label=gettext_lazy("最近成功備份"), read_only=True, allow_null=True
    )
    next_due_at = serializers.SerializerMethodField(label=gettext_lazy("下次應備份期限"))

    class Meta:
        model = BackupPlan
        fields = [
            "id",
            "name",
            "system",
            "server",
            "contents",
            "contents_other",
            "method",
            "destination",
            "offsite",
            "offsite_location",
            "offsite_medium",
            "rhythm_days",
            "responsible",
            "notes",
            "is_product",
            "has_key",
            "token_prefix",
            "token_created_at",
            "last_success_at",
            "next_due_at",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = [
            "is_product",
            "token_prefix",
            "token_created_at",
            "created_at",
            "updated_at",
            "voided_at",
        ]

    def get_has_key(self, obj) -> bool:
        return bool(obj.token_hash)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_next_due_at(self, obj):
        return iso_moment(next_due(obj))

    def _save(self, plan):
        try:
            backups.save_plan(plan, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None
        plan.last_success_at = backups.last_success([plan]).get(plan.pk)
        return plan

    def create(self, validated_data):
        return self._save(BackupPlan(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class BackupPlanRegister(Register):
    model = BackupPlan
    clause = "2.4.1"
    access = PLAN_ACCESS
    columns = [
        Column("name", gettext_lazy("名稱"), link=True),
        Column("target", gettext_lazy("資訊系統／主機"), accessor=_target, sort="system__name"),
        Column("contents", gettext_lazy("備份內容"), accessor=_contents, sort=None),
        Column("rhythm_days", gettext_lazy("備份頻率"), accessor=_rhythm),
        Column(
            "responsible",
            gettext_lazy("負責系統管理人員"),
            accessor=lambda p: p.responsible.display_name,
            sort="responsible__username",
        ),
        Column(
            "last_success",
            gettext_lazy("最近成功備份"),
            accessor=lambda p: p.last_success_at,
            sort="last_success_at",
        ),
        Column("next_due", gettext_lazy("下次應備份期限"), accessor=next_due, sort=None),
        Column("overdue", gettext_lazy("逾期"), accessor=_overdue_mark, sort=None),
        Column("method", gettext_lazy("備份方式"), page=False),
        Column("destination", gettext_lazy("備份位置"), page=False),
        Column("offsite", gettext_lazy("異地備份或異地存放"), accessor=_offsite, page=False),
        Column("notes", gettext_lazy("備註"), page=False),
    ]
    filterset_class = BackupPlanFilterSet
    form_class = BackupPlanForm
    serializer_class = BackupPlanSerializer
    select_related = ("system", "server", "responsible__person")
    serializer_reads_related = False
    ordering = ("name", "id")
    route = "backup-plans"
    nav_group = NAV
    nav_label = gettext_lazy("備份計畫")
    detail_template = "operations/backups/plan_detail.html"

    @classmethod
    def base_queryset(cls):
        return with_last_success(super().base_queryset())

    @classmethod
    def api_queryset(cls):
        return with_last_success(super().api_queryset())


class PlanFormMixin:
    template_name = "operations/backups/plan_form.html"


class PlanAdd(PlanFormMixin, AddPage):
    pass


class PlanEdit(PlanFormMixin, EditPage):
    pass


def shell_example(api_url: str, plan_id: int) -> str:
    """A POSIX shell script that runs a backup and reports it (curl, no other tools)."""
    return f"""#!/bin/sh
# Report a backup run to Campus ISMS (clause 2.4.1). Run it from cron, e.g. daily at 01:30:
#   30 1 * * * /usr/local/sbin/backup-report.sh
ISMS_URL='{api_url}'
ISMS_KEY='{KEY_PLACEHOLDER}'
PLAN={plan_id}
BACKUP_FILE=/var/backups/site-$(date +%Y%m%d).tar.gz
LOG_FILE=/var/log/isms-backup.log

STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Your backup command: its output goes to the log, its exit status decides the result.
if tar -czf "$BACKUP_FILE" /var/www >"$LOG_FILE" 2>&1; then
  STATUS=succeeded
else
  STATUS=failed
fi
FINISHED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
SIZE=$(wc -c 2>/dev/null <"$BACKUP_FILE" | tr -d ' ')
SUM=$(sha256sum "$BACKUP_FILE" 2>/dev/null | cut -d ' ' -f 1)
# The log's last 200 lines as JSON text: valid UTF-8, no control characters, escaped.
LOG=$(tail -n 200 "$LOG_FILE" | iconv -c -f UTF-8 -t UTF-8 | tr '\\t' ' ' \\
  | tr -d '\\000-\\010\\013-\\037' | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g' \\
  | awk '{{printf "%s\\\\n", $0}}')

curl -sS -X POST "$ISMS_URL" \\
  -H "Authorization: Token $ISMS_KEY" \\
  -H 'Content-Type: application/json' \\
  --data-binary @- <<EOF
{{"plan": $PLAN, "started_at": "$STARTED", "finished_at": "$FINISHED",
 "status": "$STATUS", "size_bytes": ${{SIZE:-null}}, "checksum": "${{SUM:+sha256:$SUM}}",
 "location": "$BACKUP_FILE", "log": "$LOG"}}
EOF
"""


def powershell_example(api_url: str, plan_id: int) -> str:
    """A Windows PowerShell script (5.1 or 7) that runs a backup and reports it."""
    return f"""# Report a backup run to Campus ISMS (clause 2.4.1).
# Task Scheduler: powershell.exe -NoProfile -ExecutionPolicy Bypass -File backup-report.ps1
$IsmsUrl = '{api_url}'
$IsmsKey = '{KEY_PLACEHOLDER}'
$Plan = {plan_id}
$BackupFile = 'D:\\Backup\\site-' + (Get-Date -Format 'yyyyMMdd') + '.zip'

$started = (Get-Date).ToUniversalTime().ToString('o')
try {{
    # Your backup command; an error sets the result to failed.
    $log = Compress-Archive -Path 'C:\\inetpub\\wwwroot' -DestinationPath $BackupFile `
        -Force -ErrorAction Stop -Verbose 4>&1 | Out-String
    $status = 'succeeded'
}} catch {{
    $log = $_ | Out-String
    $status = 'failed'
}}
$finished = (Get-Date).ToUniversalTime().ToString('o')
$run = @{{
    plan = $Plan; started_at = $started; finished_at = $finished; status = $status
    log = [string]$log
}}
if (Test-Path $BackupFile) {{
    $run.size_bytes = (Get-Item $BackupFile).Length
    $run.checksum = 'sha256:' + (Get-FileHash $BackupFile -Algorithm SHA256).Hash.ToLower()
    $run.location = $BackupFile
}}
$body = [Text.Encoding]::UTF8.GetBytes(($run | ConvertTo-Json))
Invoke-RestMethod -Method Post -Uri $IsmsUrl -Headers @{{ Authorization = "Token $IsmsKey" }} `
    -ContentType 'application/json; charset=utf-8' -Body $body
"""


def runs_api_url(request) -> str:
    """The absolute address of ``/api/backup-runs/`` as this request reached the server."""
    try:
        path_ = reverse("operations-backuprun-list")
    except NoReverseMatch:
        path_ = "/api/backup-runs/"
    return request.build_absolute_uri(path_)


class PlanDetail(DetailPage):
    """A plan: its fields, due state, last runs, restore tests and its job key."""

    register = BackupPlanRegister

    def get(self, request, pk, *, status=200, **extra):
        plan = self.get_object("view")
        user = request.user
        now = timezone.now()
        last = _last(plan)
        api_url = runs_api_url(request)
        keeper = can(user, "change", PLAN_ACCESS) and plan.voided_at is None
        extra.update(
            plan=plan,
            target=_target(plan),
            contents=_contents(plan),
            last_success=last,
            next_due=next_due(plan),
            is_overdue=overdue(plan, now),
            runs=list(
                plan.runs.select_related("recorded_by__person").order_by("-started_at", "-id")[
                    :PLAN_PAGE_RUNS
                ]
            ),
            run_count=plan.runs.count(),
            tests=list(
                plan.tests.select_related("tester__person", "reviewed_by__person", "run").order_by(
                    "-tested_on", "-id"
                )[:PLAN_PAGE_RUNS]
            ),
            can_key=keeper,
            can_record=keeper and can(user, "add", RUN_ACCESS),
            can_test=keeper and can(user, "add", TEST_ACCESS),
            api_url=api_url,
            key_placeholder=KEY_PLACEHOLDER,
            shell_example=shell_example(api_url, plan.pk),
            powershell_example=powershell_example(api_url, plan.pk),
            links={
                "runs": url_or_none("operations:backuprun_list", query=f"plan={plan.pk}"),
                "run_add": url_or_none("operations:backuprun_add", query=f"plan={plan.pk}"),
                "tests": url_or_none("operations:restoretest_list", query=f"plan={plan.pk}"),
                "test_add": url_or_none("operations:restoretest_add", query=f"plan={plan.pk}"),
            },
        )
        return devicekeys.no_store(super().get(request, pk, status=status, **extra), extra)


class PlanKeyView(devicekeys.KeyPageMixin, PlanDetail):
    """Create (or replace) and revoke the plan's job key; a new key is shown once, here."""

    access = KEY_ACCESS
    no_key_message = gettext_lazy("此備份計畫沒有金鑰。")
    revoked_message = gettext_lazy("已撤銷備份程式金鑰，使用此金鑰的回報將被拒絕。")

    def create_key(self, record, actor):
        return backups.job_key_create(record, actor=actor)

    def revoke_key(self, record, actor):
        return backups.job_key_revoke(record, actor=actor)


# Runs (2.4.1) ------------------------------------------------------------------------------------
def _recorder(run) -> str:
    if run.recorded_by_id:
        return run.recorded_by.display_name
    return _source(run.source)


class BackupRunFilterSet(FilterSet):
    search_fields = ("plan__name", "location", "checksum")
    plan = df.ModelChoiceFilter(
        label=gettext_lazy("備份計畫"), queryset=BackupPlan.objects.order_by("name", "id")
    )
    started_from = ROCDateFilter(
        label=gettext_lazy("開始日期起"), field_name="started_at", lookup_expr="date__gte"
    )
    started_to = ROCDateFilter(
        label=gettext_lazy("開始日期迄"), field_name="started_at", lookup_expr="date__lte"
    )

    class Meta:
        model = BackupRun
        fields = ["plan", "status", "source", "started_from", "started_to"]


class BackupRunForm(ModelForm):
    """A run recorded by hand (``backups.record_run``, source 人工登錄)."""

    started_at = ROCDateTimeField(label=gettext_lazy("開始時間"))
    finished_at = ROCDateTimeField(
        label=gettext_lazy("結束時間"),
        required=False,
        help_text=gettext_lazy("成功的備份必填。"),
    )

    class Meta(ModelForm.Meta):
        model = BackupRun
        fields = [
            "plan",
            "started_at",
            "finished_at",
            "status",
            "size_bytes",
            "checksum",
            "location",
            "log",
        ]
        widgets = {"status": forms.RadioSelect, "log": forms.Textarea(attrs={"rows": 6})}
        help_texts = {
            "checksum": gettext_lazy("例如：sha256:9f86d08…（備份檔的雜湊值）。"),
            "location": gettext_lazy(
                "備份檔的存放位置或媒體，例如 \\\\nas01\\backup\\web-1151128.zip。"
            ),
            "log": gettext_lazy("備份程式的輸出；超過長度時只保留最後一段。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["plan"].queryset = BackupPlan.objects.active().order_by("name", "id")
        fields["status"].choices = Status.choices  # no empty choice
        fields["status"].widget.attrs.pop("class", None)
        fields["size_bytes"].min_value = 0
        fields["size_bytes"].widget.attrs["min"] = 0
        for name in ("started_at", "finished_at"):
            fields[name].widget.attrs.setdefault("class", "form-control")
        plan = self.request.GET.get("plan", "") if self.request is not None else ""
        if plan.isdigit() and len(plan) < 19 and not self.is_bound:
            self.initial.setdefault("plan", int(plan))

    def save(self, commit=True):
        run = super().save(commit=False)
        return backups.record_run(run, actor=self.request.user, source=Source.MANUAL)


class LogField(serializers.CharField):
    """A job's output: NUL characters are dropped by the service, not refused."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


class BackupRunSerializer(ModelSerializer):
    """A run. ``plan`` may be left out when the plan's job key sends it."""

    id = serializers.IntegerField(read_only=True)
    plan = serializers.PrimaryKeyRelatedField(
        label=gettext_lazy("備份計畫"),
        queryset=BackupPlan.objects.all(),
        required=False,
        allow_null=True,
        help_text=gettext_lazy("以備份程式金鑰回報時可省略（即金鑰所屬的備份計畫）。"),
    )
    log = LogField(
        label=gettext_lazy("執行紀錄"),
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=gettext_lazy("超過 20000 字時只保留最後一段。"),
    )

    class Meta:
        model = BackupRun
        fields = [
            "id",
            "plan",
            "started_at",
            "finished_at",
            "status",
            "size_bytes",
            "checksum",
            "location",
            "log",
            "source",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = ["source", "recorded_by", "created_at"]
        extra_kwargs = {
            "checksum": {"help_text": gettext_lazy("例如 sha256:9f86d08…")},
            "location": {"help_text": gettext_lazy("備份檔的存放位置")},
        }


def _audit_refusal(message: str, plan=None, *, label: str) -> None:
    devicekeys.audit_refusal(backups.JOB_KEY, message, plan, label=label)


class JobKeyAuthentication(devicekeys.KeyAuthentication):
    """``Authorization: Token isms_bk_…``: a plan's job key (2.4.1), before the user tokens.

    Any other header is left to the next authentication. An unknown or revoked key (or the
    key of a voided plan) is refused with 401 and audited (at most once an hour per key).
    """

    kind = backups.JOB_KEY

    def queryset(self):
        return BackupPlan.objects.select_related("responsible")


class JobKeyScheme(OpenApiAuthenticationExtension):
    target_class = "isms.operations.views_backups.JobKeyAuthentication"
    name = "backupJobKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token isms_bk_…` — a backup plan's job key (its page): POST "
                "/api/backup-runs/ for that plan only."
            ),
        }


class RunPermission(MatrixPermission):
    """A job key may only report a run (POST); people go by the access matrix."""

    def has_permission(self, request, view):
        job = request.auth if isinstance(request.auth, DeviceKey) else None
        if job is None:
            return super().has_permission(request, view)
        if view.action == "create":
            return True
        _audit_refusal(
            _("備份程式金鑰只能用於回報備份紀錄（POST /api/backup-runs/）。"),
            job.record,
            label=job.label,
        )
        return False


def _plan_pk(value):
    """A plan id from JSON or a form: an integer or its digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        return int(value.strip())
    return None


class BackupRunViewSet(RegisterViewSet):
    """Runs: read by the office; reported by the plan's job key or a system administrator.

    ``POST /api/backup-runs/`` with ``Authorization: Token isms_bk_…`` records a run of the
    key's plan (``plan`` may be left out; another plan's id is 403, an unknown one 404,
    both audited). With a system administrator's own token it is recorded as by hand.
    A run is never changed (no PUT/PATCH).
    """

    authentication_classes = [JobKeyAuthentication, *api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    permission_classes = [RunPermission]

    def __init_subclass__(cls, **kwargs):
        # The router names the methods of every register; a run has no update.
        super().__init_subclass__(**kwargs)
        cls.http_method_names = [m for m in cls.http_method_names if m not in {"put", "patch"}]

    def _job_data(self, job: DeviceKey, data):
        raw = data.get("plan")
        if raw not in (None, ""):
            pk = _plan_pk(raw)
            if pk is None:
                raise exceptions.ValidationError({"plan": [_("備份計畫須為編號。")]})
            if pk != job.record.pk:
                if BackupPlan.objects.filter(pk=pk).exists():
                    _audit_refusal(
                        _("備份程式金鑰不能回報其他備份計畫（編號 %(pk)d）的備份。") % {"pk": pk},
                        job.record,
                        label=job.label,
                    )
                    raise exceptions.PermissionDenied(_("此金鑰只能回報所屬備份計畫的備份。"))
                _audit_refusal(
                    _("備份程式金鑰回報了不存在的備份計畫（編號 %(pk)d）。") % {"pk": pk},
                    job.record,
                    label=job.label,
                )
                raise exceptions.NotFound(_("查無此備份計畫。"))
        data = data.copy()
        data["plan"] = job.record.pk
        return data

    def create(self, request, *args, **kwargs):
        job = request.auth if isinstance(request.auth, DeviceKey) else None
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [_("請以 JSON 物件傳送一筆備份紀錄。")]}
            )
        if job is not None:
            data = self._job_data(job, data)
        serializer = self.get_serializer(data=data)
        serializer.is_valid(raise_exception=True)
        run = BackupRun(**serializer.validated_data)
        try:
            if job is not None:
                with trail.acting_as(None, label=job.label):
                    backups.record_run(run, actor=None, source=Source.JOB)
            else:
                backups.record_run(run, actor=request.user, source=Source.MANUAL)
        except ValidationError as error:
            raise service_errors(error) from None
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)


def _run_label(run) -> str:
    return f"{run.plan.name} · {roc.format_roc_datetime(run.started_at)}"


class BackupRunRegister(Register):
    model = BackupRun
    clause = "2.4.1"
    access = RUN_ACCESS
    columns = [
        Column("started_at", gettext_lazy("開始時間"), link=True),
        Column("plan", gettext_lazy("備份計畫"), accessor="plan.name", sort="plan__name"),
        Column("status", gettext_lazy("結果"), accessor=lambda r: _status(r.status), sort="status"),
        Column("finished_at", gettext_lazy("結束時間")),
        Column(
            "size",
            gettext_lazy("大小"),
            accessor=lambda r: human_size(r.size_bytes),
            sort="size_bytes",
            export=False,
        ),
        Column("size_bytes", gettext_lazy("大小（位元組）"), page=False),
        Column("source", gettext_lazy("來源"), accessor=lambda r: _source(r.source), sort="source"),
        Column("recorded_by", gettext_lazy("登錄者"), accessor=_recorder, sort=None),
        Column("location", gettext_lazy("存放位置"), page=False),
        Column("checksum", gettext_lazy("檢查碼"), page=False),
        Column("created_at", gettext_lazy("建立時間"), page=False),
    ]
    filterset_class = BackupRunFilterSet
    form_class = BackupRunForm
    serializer_class = BackupRunSerializer
    viewset_base = BackupRunViewSet
    select_related = ("plan", "recorded_by__person")
    serializer_reads_related = False
    ordering = ("-started_at", "-id")
    route = "backup-runs"
    nav_group = NAV
    nav_label = gettext_lazy("備份紀錄")
    detail_template = "operations/backups/run_detail.html"

    @classmethod
    def urls(cls):
        # A recorded run is never edited: no edit page at all.
        return [p for p in super().urls() if p.name != f"{cls.prefix()}_edit"]


class RunFormMixin:
    template_name = "operations/backups/form.html"


class RunAdd(RunFormMixin, AddPage):
    pass


def _duration(run) -> str:
    """How long the run took, as H:MM:SS."""
    if run.finished_at is None or run.started_at is None:
        return ""
    total = max(int((run.finished_at - run.started_at).total_seconds()), 0)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


class RunDetail(DetailPage):
    register = BackupRunRegister

    def get(self, request, pk, *, status=200, **extra):
        run = self.get_object("view")
        extra.update(
            run=run,
            heading=_run_label(run),
            size=human_size(run.size_bytes),
            duration=_duration(run),
            tests=list(run.tests.select_related("tester__person").order_by("-tested_on", "-id")),
            can_test=run.status == Status.SUCCEEDED
            and run.plan.voided_at is None
            and can(request.user, "add", TEST_ACCESS),
        )
        return super().get(request, pk, status=status, **extra)


# Restore tests (2.4.2) ---------------------------------------------------------------------------
def _test_label(test) -> str:
    return f"{test.plan.name} · {roc.format_roc(test.tested_on)}"


def _passed(test) -> str:
    return str(_("通過")) if test.passed else str(_("未通過"))


def _review(test) -> str:
    if test.reviewed_at is None:
        return str(_("待覆核"))
    return f"{test.reviewed_by.display_name} {as_text(test.reviewed_at)}"


class RestoreTestFilterSet(FilterSet):
    search_fields = ("plan__name", "restored_what", "restored_to", "note")
    plan = df.ModelChoiceFilter(
        label=gettext_lazy("備份計畫"), queryset=BackupPlan.objects.order_by("name", "id")
    )
    result = df.ChoiceFilter(
        label=gettext_lazy("測試結果"),
        choices=[("passed", gettext_lazy("通過")), ("failed", gettext_lazy("未通過"))],
        method="filter_result",
    )
    reviewed = df.ChoiceFilter(
        label=gettext_lazy("主管覆核"),
        choices=[("yes", gettext_lazy("已覆核")), ("no", gettext_lazy("待覆核"))],
        method="filter_reviewed",
    )
    tested_from = ROCDateFilter(
        label=gettext_lazy("測試日期起"), field_name="tested_on", lookup_expr="gte"
    )
    tested_to = ROCDateFilter(
        label=gettext_lazy("測試日期迄"), field_name="tested_on", lookup_expr="lte"
    )

    class Meta:
        model = RestoreTest
        fields = ["plan", "result", "reviewed", "tested_from", "tested_to"]

    def filter_result(self, queryset, name, value):
        passed = Q(usable=True, complete=True) & ~Q(checksum=Checksum.MISMATCHED)
        if value == "passed":
            return queryset.filter(passed)
        if value == "failed":
            return queryset.exclude(passed)
        return queryset

    def filter_reviewed(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(reviewed_at__isnull=False)
        if value == "no":
            return queryset.filter(reviewed_at__isnull=True)
        return queryset


class RunChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _run_label(obj)


# A restore test picks its run from the latest this many successful runs (the form's list).
RUN_CHOICES = 100


class RestoreTestForm(ModelForm):
    """A restore test; the tester is the person signed in (``backups.save_test``)."""

    run = RunChoiceField(
        label=gettext_lazy("還原的備份"),
        queryset=BackupRun.objects.none(),
        required=False,
        help_text=gettext_lazy("所還原的備份紀錄（成功的備份）；備份未登錄於本平台時可留空。"),
    )

    class Meta(ModelForm.Meta):
        model = RestoreTest
        fields = [
            "plan",
            "run",
            "tested_on",
            "restored_what",
            "restored_to",
            "usable",
            "complete",
            "checksum",
            "note",
        ]
        widgets = {"checksum": forms.RadioSelect, "note": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "restored_what": gettext_lazy("例如：學務系統資料庫 115/11/27 完整備份。"),
            "restored_to": gettext_lazy("例如：測試主機 vm-test01 的暫存資料庫。"),
            "usable": gettext_lazy("還原後系統可正常開啟、查詢（條文 2.4.2 可用性）。"),
            "complete": gettext_lazy("資料筆數、檔案數與原系統相符（條文 2.4.2 完整性）。"),
            "note": gettext_lazy("資料不可用、不完整或檢查碼不符時必填：原因與後續處理。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        test = self.instance
        fields["checksum"].choices = Checksum.choices
        fields["checksum"].widget.attrs.pop("class", None)
        plan_id = test.plan_id
        if test.pk is not None:
            fields["plan"].queryset = BackupPlan.objects.filter(pk=test.plan_id)
            fields["plan"].disabled = True
            fields["plan"].empty_label = None
        else:
            fields["plan"].queryset = BackupPlan.objects.active().order_by("name", "id")
            self.initial.setdefault("tested_on", timezone.localdate())
            query = self.request.GET.get("plan", "") if self.request is not None else ""
            if query.isdigit() and len(query) < 19:
                plan_id = int(query)
                if not self.is_bound:
                    self.initial.setdefault("plan", plan_id)
        runs = BackupRun.objects.filter(status=Status.SUCCEEDED).select_related("plan")
        if plan_id:
            runs = runs.filter(plan_id=plan_id)
        field = fields["run"]
        field.queryset = runs.order_by("-started_at", "-id")
        recent = list(field.queryset[:RUN_CHOICES])
        if test.run_id and all(r.pk != test.run_id for r in recent):
            recent.insert(0, test.run)
        field.widget.choices = [("", "---------")] + [
            (r.pk, field.label_from_instance(r)) for r in recent
        ]
        run = self.request.GET.get("run", "") if self.request is not None else ""
        if run.isdigit() and len(run) < 19 and not self.is_bound and test.pk is None:
            self.initial.setdefault("run", int(run))

    def save(self, commit=True):
        test = super().save(commit=False)
        return backups.save_test(test, actor=self.request.user)


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("覆核意見"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


class RestoreTestSerializer(ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    passed = serializers.BooleanField(label=gettext_lazy("測試通過"), read_only=True)

    class Meta:
        model = RestoreTest
        fields = [
            "id",
            "plan",
            "run",
            "tested_on",
            "restored_what",
            "restored_to",
            "usable",
            "complete",
            "checksum",
            "passed",
            "note",
            "tester",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = [
            "tester",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "created_at",
            "updated_at",
            "voided_at",
        ]

    def validate_plan(self, plan):
        if self.instance is not None and plan.pk != self.instance.plan_id:
            raise serializers.ValidationError(_("測試紀錄的備份計畫不能變更。"))
        return plan

    def _save(self, test):
        try:
            return backups.save_test(test, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(RestoreTest(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class RestoreTestViewSet(RegisterViewSet):
    """Restore tests; ``POST …/{id}/review/`` is the supervisor's review (not the tester's)."""

    def matrix_action(self, request):
        if self.action == "review":
            return "view"  # who may review is the service's rule (a supervisor, not the tester)
        return super().matrix_action(request)

    @extend_schema(request=ReviewSerializer, responses={200: RestoreTestSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        test = self.get_object()
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            backups.review_test(test, actor=request.user, note=data.validated_data.get("note", ""))
        except ValidationError as error:
            raise service_errors(error) from None
        test.refresh_from_db()
        return Response(self.get_serializer(test).data)


class RestoreTestRegister(Register):
    model = RestoreTest
    clause = "2.4.2"
    access = TEST_ACCESS
    columns = [
        Column("tested_on", gettext_lazy("測試日期"), link=True),
        Column("plan", gettext_lazy("備份計畫"), accessor="plan.name", sort="plan__name"),
        Column(
            "run",
            gettext_lazy("還原的備份"),
            accessor=lambda t: t.run.started_at if t.run_id else None,
            sort="run__started_at",
        ),
        Column("restored_what", gettext_lazy("還原內容")),
        Column("restored_to", gettext_lazy("還原至"), page=False),
        Column("usable", gettext_lazy("資料可用")),
        Column("complete", gettext_lazy("資料完整")),
        Column(
            "checksum",
            gettext_lazy("檢查碼比對"),
            accessor=lambda t: _checksum(t.checksum),
            sort="checksum",
        ),
        Column("passed", gettext_lazy("測試結果"), accessor=_passed, sort=None),
        Column(
            "tester",
            gettext_lazy("測試人員"),
            accessor=lambda t: t.tester.display_name,
            sort="tester__username",
        ),
        Column("review", gettext_lazy("主管覆核"), accessor=_review, sort="reviewed_at"),
        Column("note", gettext_lazy("說明"), page=False),
        Column("review_note", gettext_lazy("覆核意見"), page=False),
    ]
    filterset_class = RestoreTestFilterSet
    form_class = RestoreTestForm
    serializer_class = RestoreTestSerializer
    viewset_base = RestoreTestViewSet
    select_related = ("plan", "run", "tester__person", "reviewed_by__person")
    serializer_reads_related = False
    ordering = ("-tested_on", "-id")
    route = "restore-tests"
    nav_group = NAV
    nav_label = gettext_lazy("備份還原測試")
    detail_template = "operations/backups/test_detail.html"


class TestFormMixin:
    template_name = "operations/backups/form.html"


class TestAdd(TestFormMixin, AddPage):
    pass


class TestEdit(TestFormMixin, EditPage):
    """Only the tester corrects a test, until it is reviewed or voided."""

    def get_instance(self):
        test = self.get_object()
        if test.tester_id != self.request.user.pk:
            raise PermissionDenied
        return test

    def get(self, request, pk=None):
        test = self.get_instance()
        if not backups.may_edit_test(request.user, test):
            messages.info(
                request, _("已覆核或已作廢的測試紀錄不能修改；如有錯誤請作廢後重新登錄。")
            )
            return redirect(test.get_absolute_url())
        return super().get(request, pk)


class TestDetail(DetailPage):
    register = RestoreTestRegister

    def get(self, request, pk, *, status=200, **extra):
        test = self.get_object("view")
        user = request.user
        extra.setdefault("review_form", ReviewForm())
        extra.update(
            test=test,
            heading=_test_label(test),
            can_edit=backups.may_edit_test(user, test),
            may_review=backups.may_review(user),
            can_review=backups.may_review_test(user, test),
            is_tester=test.tester_id == user.pk,
        )
        return super().get(request, pk, status=status, **extra)


class TestReviewView(DetailAction, TestDetail):
    """主管覆核: a refused review shows the test again with the reason (400)."""

    access = REVIEW_ACCESS
    form_class = ReviewForm
    form_context = "review_form"

    def perform(self, test, form, user):
        backups.review_test(test, actor=user, note=form.cleaned_data["note"])

    def success_message(self, test):
        return _("已覆核「%(test)s」。") % {"test": _test_label(test)}


BackupPlanRegister.add_view = PlanAdd
BackupPlanRegister.edit_view = PlanEdit
BackupPlanRegister.detail_view = PlanDetail
BackupRunRegister.add_view = RunAdd
BackupRunRegister.detail_view = RunDetail
RestoreTestRegister.add_view = TestAdd
RestoreTestRegister.edit_view = TestEdit
RestoreTestRegister.detail_view = TestDetail


urlpatterns = [
    path("backup-plans/<int:pk>/key/", PlanKeyView.as_view(), name="backupplan_key"),
    path("restore-tests/<int:pk>/review/", TestReviewView.as_view(), name="restoretest_review"),
    *BackupPlanRegister.urls(),
    *BackupRunRegister.urls(),
    *RestoreTestRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [
    (BackupPlanRegister, "backup-plans"),
    (BackupRunRegister, "backup-runs"),
    (RestoreTestRegister, "restore-tests"),
]
