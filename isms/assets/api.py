"""The asset API: ``/api/assets/`` (the register) and ``/api/assets/inventory/``.

Writes go through the services, so the same rules apply as on the pages: a duplicate
property number, a server put in use without its reviewed A-1 record, a kind's missing
details are refused with field errors (400) and nothing is saved.

``POST /api/assets/inventory/`` is for an inventory script (a GPO or cron job on each PC, or
a script reading the antivirus console): a JSON array of
``{"property_number", "antivirus", "antivirus_updated_at", "auto_updates", "patched_at",
"screen_lock"}`` (only ``property_number`` is required; the others are written when given).
The report is applied all or nothing: one unknown property number or bad value refuses it
with ``{"errors": [{"line", "field", "message"}, ...]}`` (lines counted from 1).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from isms.core.restapi import ModelSerializer, RegisterViewSet, service_errors
from isms.identity.models import InformationSystem

from . import services
from .models import Asset


class AssetSerializer(ModelSerializer):
    """An asset as the register keeps it; ``findings`` lists what the policy still asks."""

    # A plain integer reads on the serializer's fast path (a BigAutoField's does not).
    id = serializers.IntegerField(read_only=True)
    findings = serializers.SerializerMethodField(
        label=gettext_lazy("待處理"),
        help_text=gettext_lazy(
            "multi_system 承載多個系統（2.1）、shared_controls 共用電腦未設管控（2.6）、"
            "portable 未設保護機制（4.1）、media 媒體未依機敏性控管（4.3）、antivirus 防毒未更新、"
            "patches 系統未更新（2.2.1）、licence 授權未確認（2.2.2）、screen_lock 未設螢幕保護"
            "（2.3.2）"
        ),
    )

    correction = serializers.CharField(
        label=gettext_lazy("更正說明（非移轉他用）"),
        help_text=gettext_lazy(
            "存有個人資料且已啟用的設備，變更用途、保管人或使用單位須經 A-1 移轉他用（條文 "
            "7.10）；僅更正登記錯誤時，於此說明更正原因。"
        ),
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=300,
    )

    class Meta:
        model = Asset
        fields = [
            "id",
            "kind",
            "property_number",
            "name",
            "brand",
            "model",
            "serial",
            "location",
            "unit",
            "custodian",
            "purpose",
            "state",
            "systems",
            "shared",
            "downloads_restricted",
            "installs_restricted",
            "data_access_restricted",
            "official_use",
            "protection",
            "sensitivity",
            "media_control",
            "antivirus",
            "antivirus_updated_at",
            "auto_updates",
            "patched_at",
            "software_licensed",
            "licence_evidence",
            "screen_lock",
            "stores_personal_data",
            "notes",
            "correction",
            "findings",
            "created_at",
            "updated_at",
            "voided_at",
        ]
        read_only_fields = ["created_at", "updated_at", "voided_at"]
        # The unique property number is the service's rule (its message is in zh-TW).
        validators = []
        extra_kwargs = {
            "property_number": {"validators": []},
            "systems": {"queryset": InformationSystem.objects.active()},
        }

    def get_findings(self, obj) -> list[str]:
        return services.findings(obj)

    def _save(self, asset, systems, correction):
        try:
            return services.save_asset_entry(
                asset,
                actor=self.context["request"].user,
                systems=systems,
                correction=correction,
            )
        except DjangoValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        systems = validated_data.pop("systems", None)
        correction = validated_data.pop("correction", "")
        return self._save(Asset(**validated_data), systems, correction)

    def update(self, instance, validated_data):
        systems = validated_data.pop("systems", None)
        correction = validated_data.pop("correction", "")
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, systems, correction)


class InventoryLineSerializer(serializers.Serializer):
    """One asset's state as an inventory script reports it (2.2.1, 2.3.2)."""

    property_number = serializers.CharField(label=gettext_lazy("財產編號"), max_length=50)
    antivirus = serializers.BooleanField(label=gettext_lazy("已安裝防毒軟體"), required=False)
    antivirus_updated_at = serializers.DateTimeField(
        label=gettext_lazy("病毒碼更新時間"), required=False, allow_null=True
    )
    auto_updates = serializers.BooleanField(label=gettext_lazy("作業系統自動更新"), required=False)
    patched_at = serializers.DateTimeField(
        label=gettext_lazy("最近更新修補時間"), required=False, allow_null=True
    )
    screen_lock = serializers.BooleanField(
        label=gettext_lazy("已設定螢幕保護或鎖定"), required=False
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [_("未知的欄位（可用欄位見 API 文件）。")] for name in unknown}
            )
        return attrs


class InventoryResultSerializer(serializers.Serializer):
    lines = serializers.IntegerField(label=gettext_lazy("筆數"))
    updated = serializers.IntegerField(label=gettext_lazy("已更新"))
    unchanged = serializers.IntegerField(label=gettext_lazy("未變動"))


def line_errors(errors) -> Response:
    """The refusal of a whole report: every bad line with its field and reason (400)."""
    body = {"errors": [{"line": e.line, "field": e.field, "message": e.message} for e in errors]}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _first(messages) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {_first(v)}" for k, v in messages.items())
    if isinstance(messages, list):
        return "; ".join(_first(m) for m in messages)
    return str(messages)


class AssetViewSet(RegisterViewSet):
    """The asset register, and the inventory report of antivirus, updates and screen lock."""

    @extend_schema(
        request=InventoryLineSerializer(many=True),
        responses={200: InventoryResultSerializer},
        description=__doc__,
    )
    @action(detail=False, methods=["post"], url_path="inventory")
    def inventory(self, request):
        data = request.data
        if not isinstance(data, list):
            return line_errors(
                [
                    services.LineError(
                        0, "non_field_errors", _("請以 JSON 陣列傳送各資產的狀態，每筆一個物件。")
                    )
                ]
            )
        items, errors = [], []
        for line, raw in enumerate(data, start=1):
            if not isinstance(raw, dict):
                errors.append(services.LineError(line, "non_field_errors", _("每筆須為物件。")))
                continue
            parsed = InventoryLineSerializer(data=raw)
            if parsed.is_valid():
                items.append((line, dict(parsed.validated_data)))
                continue
            for field, messages in parsed.errors.items():
                errors.append(services.LineError(line, field, _first(messages)))
        try:
            if errors:  # report the unknown numbers of the readable lines as well
                raise services.InventoryRefused(errors + services.inventory_errors(items))
            result = services.update_inventory(items, actor=request.user)
        except services.InventoryRefused as refused:
            return line_errors(sorted(refused.lines, key=lambda e: e.line))
        return Response(result)
