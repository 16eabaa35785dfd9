"""The incident API (clause 2.10): the register for the office, suspected reports for all.

``/api/incidents/`` is the incident register (IncidentRegister's access matrix); every write
goes through :mod:`isms.incidents.services`, so the level, the deadlines, the timeline and
the escalation follow exactly as on the pages. ``/api/incidents/suspected/`` is 2.10.3 for
every signed-in person: report something odd, and see what became of one's own reports.
"""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from isms.core import roc
from isms.core.access import SIGNED_IN
from isms.core.restapi import ModelSerializer, RegisterViewSet, service_errors

from . import services
from .models import Incident, IncidentDrill


# Helpers ---------------------------------------------------------------------------------
def call(service, *args, **kwargs):
    """Run a service; its ValidationError becomes a 400 with field errors (nothing saved)."""
    try:
        return service(*args, **kwargs)
    except DjangoValidationError as error:
        raise service_errors(error) from error


ROC_LIKE = re.compile(r"\s*(民國)?\s*\d{1,3}\s*[/.\-年／．－]")


class DateTimeField(serializers.DateTimeField):
    """A moment in ISO 8601 (or as ROC text, ``115/11/30 07:40``), within ROC years 1–200.

    The timeline, the notices and the pages show every moment in the ROC calendar, which
    has no form before 1912: such a moment is refused here rather than failing later.
    """

    def to_internal_value(self, value):
        try:
            moment = super().to_internal_value(value)
        except serializers.ValidationError as iso_error:
            if not isinstance(value, str):
                raise
            try:
                moment = self.enforce_timezone(roc.parse_roc_datetime(value))
            except ValueError as exc:
                if ROC_LIKE.match(value):  # meant as ROC: say what is wrong with it
                    raise serializers.ValidationError(str(exc), code="invalid") from None
                raise iso_error from None  # the ISO 8601 message shows the expected format
        local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
        if not roc.MIN_DATE <= local.date() <= roc.MAX_DATE:
            raise serializers.ValidationError(
                gettext("西元年須介於 %(min)d 至 %(max)d 年之間。")
                % {"min": roc.MIN_DATE.year, "max": roc.MAX_DATE.year},
                code="range",
            )
        return moment


def rating_field(label, message):
    """An impact or level: an integer 0–4, or null (not rated)."""
    return serializers.IntegerField(
        label=label,
        min_value=0,
        max_value=4,
        allow_null=True,
        required=False,
        error_messages={"invalid": message, "min_value": message, "max_value": message},
    )


IMPACT_MESSAGE = _("衝擊程度須為 0 至 4。")
LEVEL_MESSAGE = _("事件等級須為 0 至 4。")


# The register ----------------------------------------------------------------------------
class IncidentSerializer(ModelSerializer):
    """An incident as the office keeps it; level and deadlines are computed, never written."""

    serializer_field_mapping = {
        **ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }

    confidentiality_impact = rating_field(_("機密性衝擊"), IMPACT_MESSAGE)
    integrity_impact = rating_field(_("完整性衝擊"), IMPACT_MESSAGE)
    availability_impact = rating_field(_("可用性衝擊"), IMPACT_MESSAGE)
    level_override = rating_field(_("調整後等級"), LEVEL_MESSAGE)
    level_computed = serializers.IntegerField(label=_("研判等級"), read_only=True, allow_null=True)
    level = serializers.IntegerField(label=_("事件等級"), read_only=True, allow_null=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "status",
            "title",
            "description",
            "category",
            "category_other",
            "source",
            "occurred_at",
            "discovered_at",
            "location",
            "affected_systems",
            "affected_equipment",
            *services.PLATFORM_FACTS,
            "unconfirmed_case",
            "confidentiality_impact",
            "integrity_impact",
            "availability_impact",
            "level_computed",
            "level",
            "level_override",
            "level_override_reason",
            "report_due_at",
            "close_due_at",
            "change_report_due_at",
            "change_reported_at",
            "reported_at",
            "platform_ticket",
            "reporter",
            "reporter_contact",
            "notice_text",
            "notice_received_at",
            "classified_at",
            "closed_at",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = [
            "number",
            "status",
            "report_due_at",
            "close_due_at",
            "change_report_due_at",
            "change_reported_at",
            # Recorded by services.record_platform_report (the platform-report action).
            "reported_at",
            "platform_ticket",
            "reporter",
            "classified_at",
            "closed_at",
            "created_at",
            "updated_at",
            "voided_at",
            "void_reason",
        ]

    def _actor(self):
        return self.context["request"].user

    def create(self, validated_data):
        return call(services.create, actor=self._actor(), **validated_data)

    def update(self, instance, validated_data):
        return call(services.update, instance, actor=self._actor(), **validated_data)


class PlatformReportSerializer(serializers.Serializer):
    """2.10.6–2.10.8: when the incident was reported on the platform, and its ticket."""

    reported_at = DateTimeField(label=_("平台通報時間"))
    platform_ticket = serializers.CharField(label=_("平台事件單編號"), max_length=50)


class IncidentViewSet(RegisterViewSet):
    """The incident register; create and update go through the services (see the serializer)."""

    @extend_schema(request=PlatformReportSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"], url_path="platform-report")
    def platform_report(self, request, pk=None):
        incident = self.get_object()
        data = PlatformReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = call(
            services.record_platform_report,
            incident,
            actor=request.user,
            reported_at=data.validated_data["reported_at"],
            ticket=data.validated_data["platform_ticket"],
        )
        return Response(self.get_serializer(incident).data)


# 2.10.3: anyone reports ------------------------------------------------------------------
class SuspectedReportSerializer(ModelSerializer):
    """What a reporter sends (what, when, where, how to reach them) and sees of their report."""

    description = serializers.CharField(label=_("看到了什麼？"), max_length=4000, write_only=True)
    seen_at = DateTimeField(label=_("什麼時候發現？"), source="discovered_at", write_only=True)
    location = serializers.CharField(
        label=_("在哪裡或哪個系統？"), max_length=200, required=False, allow_blank=True
    )
    contact = serializers.CharField(
        label=_("怎麼聯絡您？"), source="reporter_contact", max_length=100, write_only=True
    )
    # Plain text here, so that the incident status enum keeps one name in the schema.
    status = serializers.CharField(
        label=_("狀態"),
        read_only=True,
        help_text=_("reported 待研判、open 處理中、closed 已結案、dismissed 非資安事件"),
    )
    status_label = serializers.SerializerMethodField(label=_("狀態說明"))

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "status",
            "status_label",
            "description",
            "seen_at",
            "location",
            "contact",
            "report_due_at",
            "created_at",
            "closed_at",
            "dismiss_reason",
        ]
        read_only_fields = [
            "number",
            "title",
            "report_due_at",
            "created_at",
            "closed_at",
            "dismiss_reason",
        ]

    def get_status_label(self, obj) -> str:
        return str(obj.get_status_display())

    def create(self, validated_data):
        return call(
            services.report_suspected,
            actor=self.context["request"].user,
            description=validated_data["description"],
            seen_at=validated_data["discovered_at"],
            location=validated_data.get("location", ""),
            contact=validated_data["reporter_contact"],
        )


class SuspectedReportViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Report a suspected incident (any signed-in person) and follow one's own reports."""

    access = SIGNED_IN
    serializer_class = SuspectedReportSerializer
    queryset = Incident.objects.none()
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Incident.objects.none()
        return Incident.objects.filter(reporter=self.request.user).order_by("-created_at", "-id")


class IncidentDrillSerializer(ModelSerializer):
    """The yearly incident-response drills (evidence of the duty incidents.drill)."""

    class Meta:
        model = IncidentDrill
        fields = ["id", "held_on", "scenario", "participants", "findings", "voided_at"]
        read_only_fields = ["voided_at"]

    def validate_held_on(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError(_("演練日期不可晚於今天。"))
        return value
