"""Serializers and API endpoints of the core registers."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .access import SIGNED_IN
from .models import Person, Unit
from .passwords import password_violations
from .restapi import ModelSerializer


class UnitSerializer(ModelSerializer):
    class Meta:
        model = Unit
        fields = ["id", "name", "code", "parent", "phone", "is_active"]

    def validate_parent(self, parent):
        node = parent
        while node is not None and self.instance is not None:
            if node.pk == self.instance.pk:
                raise serializers.ValidationError(_("上級單位不可為自己或下級單位。"))
            node = node.parent
        return parent


class PersonSerializer(ModelSerializer):
    unit_name = serializers.CharField(
        source="unit.name", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Person
        fields = [
            "id",
            "name",
            "english_name",
            "kind",
            "unit",
            "unit_name",
            "title",
            "email",
            "extension",
            "phone",
            "status",
            "onboard_date",
            "leave_date",
            "organization",
            "notes",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = ["voided_at", "void_reason"]

    def validate(self, attrs):
        onboard = attrs.get("onboard_date", getattr(self.instance, "onboard_date", None))
        leave = attrs.get("leave_date", getattr(self.instance, "leave_date", None))
        if onboard and leave and leave < onboard:
            raise serializers.ValidationError({"leave_date": ["離職日不可早於到職日。"]})
        return attrs


class UserSerializer(ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "person", "email", "is_active", "roles", "last_login"]
        read_only_fields = fields

    def get_roles(self, obj) -> list[str]:
        return sorted(g.name for g in obj.groups.all())


class PasswordCheckRequest(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False, max_length=4096)
    username = serializers.CharField(required=False, allow_blank=True, max_length=64)
    hostname = serializers.CharField(required=False, allow_blank=True, max_length=253)


class ViolationSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class PasswordCheckResponse(serializers.Serializer):
    ok = serializers.BooleanField()
    violations = ViolationSerializer(many=True)


class PasswordCheckView(APIView):
    """Check a password against the school's policy (A-5) without storing or logging it."""

    access = SIGNED_IN
    matrix_action = "view"

    @extend_schema(request=PasswordCheckRequest, responses={200: PasswordCheckResponse})
    def post(self, request):
        data = PasswordCheckRequest(data=request.data)
        data.is_valid(raise_exception=True)
        # Personal information is only ever checked against one's own record: checking it
        # for someone else would let a caller test guesses of their birthday or ID number.
        username = data.validated_data.get("username") or request.user.get_username()
        user = request.user if username == request.user.get_username() else None
        hostname = data.validated_data.get("hostname") or ""
        violations = password_violations(
            data.validated_data["password"],
            username=username,
            user=user,
            hostnames=[hostname] if hostname else (),
        )
        return Response(
            {
                "ok": not violations,
                "violations": [{"code": v.code, "message": v.message} for v in violations],
            }
        )
