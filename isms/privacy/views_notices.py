"""Pages of the activity notices (活動個資告知事項; clause 7.3; PDPA art. 8).

The register (list, filters, export, ``/api/activity-notices/``), the short form, the
notice's page with the generated notice, its print (A4, for the activity rules and the
sign-up form) and its copy view (plain text with a 複製 button and a .txt download, the
full notice and the short one for a sign-up form's foot). The rules are ``notices``'s.

Everyone with a role reads the notices; anyone with a role writes one for a unit they
belong to (the security officer for any unit); its creator and the officer correct or
void it (others are refused with 403).
"""

import django_filters as df
from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from isms.core.access import Access, can
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import AddPage, DetailPage, EditPage, RegisterView, url_or_none
from isms.core.models import Unit
from isms.core.registers import Column, Register
from isms.core.restapi import ModelSerializer, service_errors
from isms.core.roles import ALL_ROLES

from . import notices
from .models import ActivityNotice, CategoryCode, PurposeCode
from .nav import NAV

# Everyone with a role reads and writes; the service narrows writing to one's units and
# correcting and voiding to the creator and the officer (the scope: a change reaches only
# one's own notices, the officer's any; others are refused).
NOTICE_ACCESS = Access(
    view=ALL_ROLES, add=ALL_ROLES, change=ALL_ROLES, void=ALL_ROLES, scope=notices.scope
)
READ_ACCESS = Access(view=ALL_ROLES)


# Columns ------------------------------------------------------------------------------------
def _categories(notice) -> str:
    return "、".join(c.code for c in sorted(notice.categories.all(), key=lambda c: c.code))


def _purposes(notice) -> str:
    return "、".join(c.code for c in sorted(notice.purposes.all(), key=lambda c: c.code))


def _creator(notice) -> str:
    return notice.created_by.display_name


COLUMNS = [
    Column("activity", gettext_lazy("活動名稱"), link=True),
    Column("unit", gettext_lazy("主辦單位"), accessor="unit.name", sort="unit__name"),
    Column("held", gettext_lazy("活動日期"), accessor=notices.held_text, sort="held_from"),
    Column("categories", gettext_lazy("個人資料類別"), accessor=_categories, sort=None),
    Column("purposes", gettext_lazy("特定目的"), accessor=_purposes, sort=None, page=False),
    Column("purpose", gettext_lazy("蒐集目的"), page=False),
    Column("period", gettext_lazy("利用期間"), page=False),
    Column("area", gettext_lazy("利用地區"), page=False),
    Column("recipients", gettext_lazy("利用對象"), page=False),
    Column("method", gettext_lazy("利用方式"), page=False),
    Column("publishes_names", gettext_lazy("公布部分個資")),
    Column("consequence", gettext_lazy("不提供之影響"), page=False),
    Column("contact", gettext_lazy("聯絡窗口"), page=False),
    Column("created_by", gettext_lazy("建立者"), accessor=_creator, sort="created_by__username"),
    Column("created_at", gettext_lazy("建立時間")),
]


class Mine:
    YES = "1"
    choices = [(YES, gettext_lazy("我建立的"))]


class NoticeFilterSet(FilterSet):
    search_fields = ("activity", "purpose", "contact", "unit__name")
    unit = df.ModelChoiceFilter(label=gettext_lazy("主辦單位"), queryset=Unit.objects.all())
    mine = df.ChoiceFilter(label=gettext_lazy("建立者"), choices=Mine.choices, method="only_mine")
    held_after = ROCDateFilter(
        label=gettext_lazy("活動日期起"), field_name="held_to", lookup_expr="gte"
    )
    held_before = ROCDateFilter(
        label=gettext_lazy("活動日期迄"), field_name="held_from", lookup_expr="lte"
    )

    class Meta:
        model = ActivityNotice
        fields = ["unit", "publishes_names", "mine"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["unit"].queryset = Unit.objects.order_by("name")

    def only_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value != Mine.YES or user is None:
            return queryset
        return queryset.filter(created_by_id=user.pk)


# The form ---------------------------------------------------------------------------------------
class CodeChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        label = f"{obj.code} {obj.name}"
        return label if obj.is_active else _("%(label)s（已停用）") % {"label": label}


PICKERS = ("purposes", "categories")


def active_or_kept(model, kept_pks):
    """The codes a picker offers: those in use, and those the record has already."""
    return model.objects.filter(Q(is_active=True) | Q(pk__in=list(kept_pks))).order_by("code")


class NoticeForm(ModelForm):
    """The short form the notice is written from; saved through ``notices.save_notice``."""

    class Meta(ModelForm.Meta):
        model = ActivityNotice
        fields = [
            "activity",
            "unit",
            "held_from",
            "held_to",
            "purpose",
            "purposes",
            "categories",
            "period",
            "area",
            "recipients",
            "method",
            "publishes_names",
            "consequence",
            "contact",
        ]
        field_classes = {"purposes": CodeChoices, "categories": CodeChoices}
        widgets = {
            "purpose": forms.Textarea(attrs={"rows": 2}),
            "consequence": forms.Textarea(attrs={"rows": 2}),
            "purposes": forms.CheckboxSelectMultiple,
            "categories": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "activity": gettext_lazy("例如：115 學年度校慶園遊會報名。"),
            "unit": gettext_lazy("辦理活動的單位：您所屬的單位（資安業務承辦人可選任何單位）。"),
            "purpose": gettext_lazy(
                "以一般人看得懂的文字寫明為何蒐集，例如：辦理報名、分組、保險及活動聯繫。"
            ),
            "purposes": gettext_lazy(
                "可選：法定特定目的代號，例如 109 教育或訓練行政；可輸入代號或文字篩選。"
            ),
            "categories": gettext_lazy(
                "至少一項，例如 C001 辨識個人者（姓名、電話）、C051 學校紀錄（班級、座號）；"
                "可輸入代號或文字篩選。"
            ),
            "period": gettext_lazy("例如：自報名日起至活動結束後一年。"),
            "area": gettext_lazy("例如：中華民國境內。"),
            "recipients": gettext_lazy("例如：本校、活動協辦單位及承保之保險公司。"),
            "method": gettext_lazy(
                "例如：報名聯繫、投保、公布得獎名單（班級、姓名），以書面或電子方式利用。"
            ),
            "publishes_names": gettext_lazy(
                "會公布部分個資（例如得獎或錄取名單的姓名）時勾選：告知事項會載明，"
                "並在報名表的同意欄加上同意公布（條文 7.3）。於網頁公布須另經單位主管核准"
                "（條文 7.4）。"
            ),
            "consequence": gettext_lazy("個資法第 8 條第 1 項第 6 款：不提供個人資料的影響。"),
            "contact": gettext_lazy(
                "當事人行使權利的窗口，例如：學務處訓育組 王老師（分機 231）。"
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        notice = self.instance
        fields = self.fields
        user = self.request.user if self.request is not None else None
        kept = {name: [] for name in PICKERS}
        if notice.pk is not None:
            kept = {name: getattr(notice, name).values_list("pk", flat=True) for name in PICKERS}
        units = notices.units_for(user) if user is not None else Unit.objects.none()
        fields["unit"].queryset = Unit.objects.filter(
            Q(pk__in=units.values("pk")) | Q(pk=notice.unit_id or 0)
        ).order_by("name")
        fields["purposes"].queryset = active_or_kept(PurposeCode, kept["purposes"])
        fields["categories"].queryset = active_or_kept(CategoryCode, kept["categories"])
        # The service says what is missing, citing 7.3 and PDPA art. 8 (not Django's text).
        for name in ("activity", "unit", "purpose", "categories", *notices.CHAR_FIELDS):
            fields[name].required = False
        fields["consequence"].required = False
        for name in PICKERS:
            fields[name].widget.attrs["class"] = "form-check-input"
        for name, limit in notices.TEXT_LIMITS.items():
            fields[name].widget.attrs["maxlength"] = str(limit)
        if notice.pk is None and not self.is_bound:
            self.initial.setdefault("area", notices.default_area())
            self.initial.setdefault("consequence", notices.default_consequence())
            if user is not None:
                self.initial.setdefault("contact", notices.default_contact(user))
                mine = list(units[:2])
                if len(mine) == 1:
                    self.initial.setdefault("unit", mine[0].pk)
                elif user.person_id and user.person.unit_id:
                    self.initial.setdefault("unit", user.person.unit_id)

    def save(self, commit=True):
        notice = super().save(commit=False)
        data = self.cleaned_data
        return notices.save_notice(
            notice,
            actor=self.request.user,
            categories=list(data.get("categories") or []),
            purposes=list(data.get("purposes") or []),
        )


# The API ----------------------------------------------------------------------------------------
class NoticeSerializer(ModelSerializer):
    """A notice with its generated text (``text``, ``short_text``); written through the
    same rules as the form."""

    # The texts read the school's name once per request (kept in the context).
    fast_read = False

    id = serializers.IntegerField(read_only=True)
    text = serializers.SerializerMethodField(help_text=gettext_lazy("完整告知事項（純文字）"))
    short_text = serializers.SerializerMethodField(
        help_text=gettext_lazy("報名表頁尾用的簡短告知（純文字）")
    )

    class Meta:
        model = ActivityNotice
        fields = [
            "id",
            "activity",
            "unit",
            "purpose",
            "purposes",
            "categories",
            "period",
            "area",
            "recipients",
            "method",
            "publishes_names",
            "consequence",
            "contact",
            "held_from",
            "held_to",
            "created_by",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
            "text",
            "short_text",
        ]
        read_only_fields = [
            "created_by",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        extra_kwargs = {
            **{
                name: {"required": False, "allow_blank": True}
                for name in (*notices.CHAR_FIELDS, "purpose", "consequence")
            },
            "unit": {"required": False, "allow_null": True},
            "categories": {"required": False, "allow_empty": True},
            "purposes": {"required": False, "allow_empty": True},
        }

    def _school(self) -> str:
        context = self.context
        if "school_name" not in context:
            context["school_name"] = notices.school_name()
        return context["school_name"]

    def get_text(self, obj) -> str:
        return notices.full_text(obj, self._school())

    def get_short_text(self, obj) -> str:
        return notices.short_text(obj, self._school())

    def _save(self, notice, validated):
        lists = {}
        for name in PICKERS:
            if name in validated:
                lists[name] = list(validated.pop(name))
            else:
                lists[name] = list(getattr(notice, name).all()) if notice.pk else []
        for name, value in validated.items():
            setattr(notice, name, value)
        try:
            return notices.save_notice(
                notice,
                actor=self.context["request"].user,
                categories=lists["categories"],
                purposes=lists["purposes"],
            )
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(ActivityNotice(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


# The register ------------------------------------------------------------------------------------
class NoticeRegister(Register):
    model = ActivityNotice
    clause = notices.CLAUSE
    access = NOTICE_ACCESS
    columns = COLUMNS
    filterset_class = NoticeFilterSet
    form_class = NoticeForm
    serializer_class = NoticeSerializer
    select_related = ("unit", "created_by__person")
    prefetch_related = ("categories", "purposes")
    ordering = ("-created_at", "-id")
    route = "notices"
    nav_group = NAV
    nav_label = gettext_lazy("活動個資告知")
    detail_template = "privacy/notices/detail.html"

    @classmethod
    def api_queryset(cls):
        return (
            ActivityNotice.objects.select_related("unit")
            .prefetch_related("categories", "purposes")
            .order_by(*cls.ordering)
        )

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return notices.void_notice(obj, actor=actor, reason=reason)


# Pages -------------------------------------------------------------------------------------------
def no_unit_page(request, *, kind=None, list_url=None, clause=notices.CLAUSE):
    """The add page for someone who belongs to no unit: what to do, answered 403."""
    return render(
        request,
        "privacy/notices/no_unit.html",
        {
            "clause": clause,
            "list_url": list_url or reverse("privacy:activitynotice_list"),
            "kind": kind or _("活動個資告知事項"),
        },
        status=403,
    )


class NoticeAdd(AddPage):
    template_name = "privacy/notices/form.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if (
            user.is_authenticated
            and can(user, "add", NOTICE_ACCESS)
            and not notices.acts_for_a_unit(user)
        ):
            return no_unit_page(request)
        return super().dispatch(request, *args, **kwargs)


class NoticeEdit(EditPage):
    """Its creator or the officer (someone with no notice of their own: 403; another's
    notice: 404)."""

    template_name = "privacy/notices/form.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if (
            user.is_authenticated
            and not notices.is_officer(user)
            and not ActivityNotice.objects.filter(created_by_id=user.pk).exists()
        ):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def context(self, **extra):
        # A refused form's instance holds what was posted (perhaps no unit): the page's
        # title and breadcrumb name the record as it is stored.
        obj = extra.get("object")
        if obj is not None and obj.pk:
            extra["object"] = ActivityNotice.objects.select_related("unit").get(pk=obj.pk)
        return super().context(**extra)

    def get_instance(self):
        notice = super().get_instance()
        if not notices.may_change(self.request.user, notice):
            raise PermissionDenied
        return notice


def _links(notice) -> dict:
    return {
        "print_url": reverse("privacy:activitynotice_print", args=[notice.pk]),
        "print_short_url": reverse("privacy:activitynotice_print", args=[notice.pk])
        + "?part=short",
        "copy_url": reverse("privacy:activitynotice_copy", args=[notice.pk]),
    }


class NoticeDetail(DetailPage):
    register = NoticeRegister

    def get(self, request, pk, *, status=200, **extra):
        notice = self.get_object("view")
        user = request.user
        may = notices.may_change(user, notice)
        publish_url = None
        if notice.publishes_names:
            publish_url = url_or_none(
                "privacy:publishingapproval_add", query=f"unit={notice.unit_id}"
            )
        return super().get(
            request,
            pk,
            status=status,
            notice=notice,
            heading=notice.activity,
            text=notices.build(notice),
            short=notices.short_text(notice),
            categories=sorted(notice.categories.all(), key=lambda c: c.code),
            purposes=sorted(notice.purposes.all(), key=lambda c: c.code),
            can_edit=may,
            can_void_notice=may,
            publish_url=publish_url,
            **_links(notice),
            **extra,
        )


class NoticePrint(RegisterView):
    """The notice on A4: for the activity rules (the whole notice) or the sign-up form (the
    short one, ``?part=short``), with the consent line and signature boxes."""

    register = NoticeRegister

    def get(self, request, pk):
        notice = self.get_object("view")
        short = request.GET.get("part") == "short"
        school = notices.school_name()
        return render(
            request,
            "privacy/notices/print.html",
            {
                "notice": notice,
                "text": notices.build(notice, school),
                "short": notices.short_text(notice, school) if short else "",
                "part": "short" if short else "full",
                "school": school,
                "now": timezone.now(),
                "back": notice.get_absolute_url(),
                "clause": notices.CLAUSE,
                **_links(notice),
            },
        )


class NoticeCopy(RegisterView):
    """The notice as plain text to paste into the activity rules and the sign-up form: two
    text boxes with a 複製 button each, and each as a .txt download (``?download=full`` or
    ``?download=short``)."""

    register = NoticeRegister

    def get(self, request, pk):
        notice = self.get_object("view")
        school = notices.school_name()
        texts = {
            "full": notices.full_text(notice, school),
            "short": notices.short_text(notice, school),
        }
        kind = request.GET.get("download")
        if kind in texts:
            response = HttpResponse(texts[kind], content_type="text/plain; charset=utf-8")
            name = notices.download_name(notice, kind)
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        if kind is not None:
            return HttpResponse(_("不支援的下載格式。"), status=400)
        return render(
            request,
            "privacy/notices/copy.html",
            {
                "notice": notice,
                "full": texts["full"],
                "short": texts["short"],
                "opts": ActivityNotice._meta,
                "clause": notices.CLAUSE,
                "back": notice.get_absolute_url(),
                **_links(notice),
            },
        )


NoticeRegister.add_view = NoticeAdd
NoticeRegister.edit_view = NoticeEdit
NoticeRegister.detail_view = NoticeDetail

urlpatterns = [
    path("notices/<int:pk>/print/", NoticePrint.as_view(), name="activitynotice_print"),
    path("notices/<int:pk>/copy/", NoticeCopy.as_view(), name="activitynotice_copy"),
    *NoticeRegister.urls(),
]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(NoticeRegister, "activity-notices")]
