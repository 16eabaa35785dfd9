"""Pages of the legal-awareness talks (法令宣導, clause 8).

The register (list with filters, export, ``/api/legal-talks/``): the security officer
records each talk with the three topics of clause 8 and the material as attachments; the
managers read it. The rules are ``talks``'.
"""

import django_filters as df
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from isms.core.access import Access
from isms.core.filters import FilterSet, ROCDateFilter
from isms.core.forms import ModelForm
from isms.core.generic import DetailPage
from isms.core.registers import Column, Register
from isms.core.restapi import ModelSerializer, service_errors
from isms.core.roles import MANAGERS, SECURITY_OFFICER

from . import talks
from .models import LegalTalk
from .nav import NAV

WRITERS = frozenset({SECURITY_OFFICER})
TALK_ACCESS = Access(view=MANAGERS, add=WRITERS, change=WRITERS, void=WRITERS)


class LegalTalkFilterSet(FilterSet):
    search_fields = ("occasion", "audience", "presenter", "summary")
    held_from = ROCDateFilter(label=gettext_lazy("日期起"), field_name="held_on", lookup_expr="gte")
    held_to = ROCDateFilter(label=gettext_lazy("日期迄"), field_name="held_on", lookup_expr="lte")
    presenter = df.CharFilter(label=gettext_lazy("宣導人"), lookup_expr="icontains")

    class Meta:
        model = LegalTalk
        fields = ["presenter"]


class LegalTalkForm(ModelForm):
    """A talk; the three topics of clause 8 are boxes, all three must be ticked."""

    class Meta(ModelForm.Meta):
        model = LegalTalk
        fields = list(talks.TALK_FIELDS)
        widgets = {"summary": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "covers_ip": gettext_lazy("條文 8 要求每次宣導皆包含以下三項法令。"),
            "summary": gettext_lazy("宣導的重點；簡報、照片、簽到表請於儲存後上傳為附件。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None and not self.is_bound:
            self.initial.setdefault("held_on", timezone.localdate())

    def save(self, commit=True):
        talk = super().save(commit=False)
        return talks.talk_save(talk, actor=self.request.user)


class LegalTalkSerializer(ModelSerializer):
    """A talk as the register keeps it; writes go through ``talks.talk_save``."""

    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = LegalTalk
        fields = [
            "id",
            *talks.TALK_FIELDS,
            "recorded_by",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = ["recorded_by", "created_at", "updated_at", "voided_at", "void_reason"]

    def _save(self, talk):
        try:
            return talks.talk_save(talk, actor=self.context["request"].user)
        except ValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(LegalTalk(**validated_data))

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class LegalTalkRegister(Register):
    model = LegalTalk
    clause = "8"
    access = TALK_ACCESS
    columns = [
        Column("held_on", gettext_lazy("日期"), link=True),
        Column("occasion", gettext_lazy("集會場合")),
        Column("audience", gettext_lazy("對象")),
        Column("audience_count", gettext_lazy("參加人數")),
        Column("presenter", gettext_lazy("宣導人")),
        Column("topics", gettext_lazy("宣導法令"), accessor=talks.topics_text, sort=None),
        Column("summary", gettext_lazy("宣導內容摘要"), page=False),
        Column(
            "recorded_by",
            gettext_lazy("登錄者"),
            accessor=lambda t: t.recorded_by.display_name if t.recorded_by_id else "",
            sort=None,
            page=False,
        ),
    ]
    filterset_class = LegalTalkFilterSet
    form_class = LegalTalkForm
    serializer_class = LegalTalkSerializer
    serializer_reads_related = False
    select_related = ("recorded_by__person",)
    ordering = ("-held_on", "-id")
    route = "legal-talks"
    nav_group = NAV
    nav_label = gettext_lazy("法令宣導")
    detail_template = "awareness/talks/detail.html"

    @classmethod
    def void_record(cls, obj, *, actor, reason):
        return talks.talk_void(obj, actor=actor, reason=reason)


class LegalTalkDetail(DetailPage):
    register = LegalTalkRegister

    def get(self, request, pk, *, status=200, **extra):
        talk = self.get_object("view")
        extra.update(
            talk=talk,
            topics=[
                (talks.topic_label(name), getattr(talk, name)) for name, _c, _t in talks.TOPICS
            ],
        )
        return super().get(request, pk, status=status, **extra)


LegalTalkRegister.detail_view = LegalTalkDetail

urlpatterns = [*LegalTalkRegister.urls()]
# (Register, API prefix) pairs, registered on the API router by isms/urls.py.
API_ROUTES = [(LegalTalkRegister, "legal-talks")]
