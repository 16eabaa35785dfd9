"""The REST API at /api/: one viewset per register, built from its declaration."""

from django.db import models
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import routers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from . import services
from .access import restrict


class DateField(serializers.DateField):
    """A date that accepts ISO (2026-11-28) and ROC (115/11/28) input, and answers in ISO."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            from .roc import parse_roc_date

            try:
                return parse_roc_date(value)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc), code="invalid") from exc
        return super().to_internal_value(value)


class ModelSerializer(serializers.ModelSerializer):
    """Base of every register's serializer: dates in ISO or ROC."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: DateField,
    }


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=2, max_length=1000)


MATRIX_ACTIONS = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
    "void": "void",
}


class RegisterViewSet(viewsets.ModelViewSet):
    """Base viewset: access matrix and scope from the register, filters from its FilterSet."""

    register = None

    @property
    def access(self):
        return self.register.access

    def matrix_action(self, request):
        return MATRIX_ACTIONS.get(self.action, "change")

    def get_queryset(self):
        if self.register is None:  # schema generation on the base class
            return None
        action_name = MATRIX_ACTIONS.get(self.action, "view")
        qs = restrict(self.register.base_queryset(), self.request.user, action_name, self.access)
        wants_voided = self.request.query_params.get("voided") in {"1", "true"}
        if self.action == "list" and self.register.voidable() and not wants_voided:
            qs = qs.filter(voided_at__isnull=True)
        return qs

    def perform_destroy(self, instance):
        if not self.register.deletable:
            raise Http404
        instance.delete()

    @extend_schema(request=VoidSerializer, responses={200: None})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        if not self.register.voidable():
            raise Http404
        obj = self.get_object()
        data = VoidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if obj.voided_at is not None:
            raise ValidationError({"non_field_errors": [_("此筆資料已作廢。")]})
        services.record_void(obj, actor=request.user, reason=data.validated_data["reason"])
        return Response(self.get_serializer(obj).data, status=status.HTTP_200_OK)


class Router(routers.DefaultRouter):
    include_root_view = False

    def register_register(self, reg, prefix: str):
        methods = ["get", "head", "options"]
        if not getattr(reg, "viewset_read_only", False):
            methods += ["post", "put", "patch"]
        if reg.deletable and "post" in methods:
            methods.append("delete")
        viewset = type(
            f"{reg.__name__}ViewSet",
            (getattr(reg, "viewset_base", RegisterViewSet),),
            {
                "register": reg,
                "serializer_class": reg.serializer_class,
                "filterset_class": reg.filterset_class,
                "queryset": reg.model._default_manager.none(),
                "http_method_names": methods,
            },
        )
        self.register(prefix, viewset, basename=f"{reg.namespace()}-{reg.model._meta.model_name}")
        return viewset


router = Router()
