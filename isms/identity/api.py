"""The identity API: /api/systems/, /api/accounts/, /api/offboarding-tasks/ (and requests).

A directory sync script pushes account lists through /api/accounts/ (create, update);
writes go through the services, so the same checks apply as on the pages.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions

from isms.core.restapi import ModelSerializer, RegisterViewSet, service_errors

from . import services
from .models import (
    Account,
    AccountRequest,
    AccountRequestLine,
    InformationSystem,
    OffboardingTask,
)


class SystemSerializer(ModelSerializer):
    class Meta:
        model = InformationSystem
        fields = [
            "id",
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
            "voided_at",
        ]
        read_only_fields = ["voided_at"]


class AccountSerializer(ModelSerializer):
    class Meta:
        model = Account
        fields = [
            "id",
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
            "disabled_on",
            "removed_on",
            "last_sign_in",
            "source",
            "request_line",
            "default_password_expires_at",
            "password_changed_at",
            "notes",
            "voided_at",
        ]
        read_only_fields = [
            "disabled_on",
            "removed_on",
            "source",
            "request_line",
            "default_password_expires_at",
            "password_changed_at",
            "voided_at",
        ]
        # The unique (system, name) rule is the service's (case-insensitive, in zh-TW).
        validators = []

    def _save(self, account):
        try:
            return services.save_account(account, actor=self.context["request"].user)
        except DjangoValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        account = Account(**validated_data)
        if "source" not in validated_data:
            account.source = Account.Source.IMPORT
        return self._save(account)

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class OffboardingTaskSerializer(ModelSerializer):
    class Meta:
        model = OffboardingTask
        fields = [
            "id",
            "account",
            "person",
            "reason",
            "effective_on",
            "due_on",
            "done_at",
            "done_by",
            "outcome",
            "note",
        ]
        read_only_fields = fields


# Account requests (A-3) --------------------------------------------------------------------
class AccountApplicationLineSerializer(ModelSerializer):
    class Meta:
        model = AccountRequestLine
        fields = [
            "id",
            "system",
            "account_name",
            "action",
            "note",
            "executed_at",
            "executed_by",
            "execution_note",
            "authorisation_checked",
            "account",
        ]
        read_only_fields = [
            "id",
            "executed_at",
            "executed_by",
            "execution_note",
            "authorisation_checked",
            "account",
        ]


class AccountApplicationSerializer(ModelSerializer):
    """A request with its lines; created through the same rules as the A-3 page."""

    fast_read = False  # nested lines
    lines = AccountApplicationLineSerializer(many=True)

    class Meta:
        model = AccountRequest
        fields = [
            "id",
            "number",
            "applicant",
            "unit",
            "extension",
            "requested_on",
            "remarks",
            "submitted_by",
            "status",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "lines",
            "created_at",
            "voided_at",
        ]
        read_only_fields = [
            "number",
            "submitted_by",
            "status",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "created_at",
            "voided_at",
        ]

    def create(self, validated_data):
        from . import requests

        try:
            return requests.submit_request(
                actor=self.context["request"].user,
                applicant=validated_data["applicant"],
                requested_on=validated_data["requested_on"],
                lines=validated_data.get("lines", []),
                unit=validated_data.get("unit"),
                extension=validated_data.get("extension", ""),
                remarks=validated_data.get("remarks", ""),
            )
        except DjangoValidationError as error:
            raise service_errors(error) from None


class AccountRequestViewSet(RegisterViewSet):
    """List, read and file requests; executing and reviewing stay on the pages."""

    def update(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method)

    def get_queryset(self):
        qs = super().get_queryset()
        return qs.prefetch_related("lines") if qs is not None else qs
