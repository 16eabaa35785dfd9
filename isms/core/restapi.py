"""The REST API at /api/: one viewset per register, built from its declaration."""

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, routers, serializers, status, viewsets
from rest_framework import fields as drf_fields
from rest_framework import relations as drf_relations
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

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


class DateTimeField(serializers.DateTimeField):
    """A moment in ISO 8601, or as ROC text (``115/11/28 14:05``, Asia/Taipei)."""

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except serializers.ValidationError:
            if not isinstance(value, str):
                raise
            from .roc import parse_roc_datetime

            try:
                return self.enforce_timezone(parse_roc_datetime(value))
            except ValueError as exc:
                raise serializers.ValidationError(str(exc), code="invalid") from None


_AS_STR = (
    drf_fields.CharField,
    drf_fields.EmailField,
    drf_fields.SlugField,
    drf_fields.URLField,
    drf_fields.RegexField,
)


class ModelSerializer(serializers.ModelSerializer):
    """Base of every register's serializer: dates in ISO or ROC, and a fast read path.

    Reading is the hot path of every API list. DRF asks each field of each row to fetch and
    convert its value through several calls; for plain columns (text, numbers, choices,
    dates, foreign-key ids) the result is just the attribute, so those are read directly
    from a plan made once per serializer. Other fields go through DRF as usual.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: DateField,
    }

    # Set to False on a serializer whose read fields need the request (hyperlinks, ...).
    fast_read = True

    def _plan(self):
        """The read plan, made once per serializer class from a prototype instance.

        DRF builds a serializer's fields anew for every request (model introspection,
        ~2–3 ms for a register); reads only need them once. The prototype has no context,
        hence ``fast_read``.
        """
        cls = type(self)
        holder = cls.__dict__ if cls.fast_read else self.__dict__
        plan = holder.get("_read_plan")
        if plan is None:
            prototype = cls() if cls.fast_read else self
            plan = [(field, *prototype._direct(field)) for field in prototype._readable_fields]
            if cls.fast_read:
                cls._read_plan = plan
            else:
                self.__dict__["_read_plan"] = plan
        return plan

    def _direct(self, field):
        """(attribute, converter) when the field's value is its attribute, else (None, None)."""
        if len(field.source_attrs) != 1 or field.source == "*":
            return None, None
        name, kind = field.source_attrs[0], type(field)
        if kind in _AS_STR:
            return name, str
        if kind in (drf_fields.IntegerField, drf_fields.BooleanField, drf_fields.ChoiceField):
            return name, None
        date_format = getattr(field, "format", api_settings.DATE_FORMAT)
        if kind in (DateField, drf_fields.DateField) and date_format == drf_fields.ISO_8601:
            return name, dt.date.isoformat
        if (
            isinstance(field, drf_fields.DateTimeField)
            and type(field).to_representation is drf_fields.DateTimeField.to_representation
            and getattr(field, "format", api_settings.DATETIME_FORMAT) == drf_fields.ISO_8601
            and getattr(field, "timezone", None) is None
        ):
            return name, iso_moment
        if kind is drf_fields.JSONField and not field.binary:
            return name, None
        if kind is drf_relations.PrimaryKeyRelatedField and field.pk_field is None:
            try:
                return self.Meta.model._meta.get_field(name).attname, None
            except Exception:  # a property or method, not a model field
                return None, None
        return None, None

    def to_representation(self, instance):
        out = {}
        for field, attr, convert in self._plan():
            if attr is None:
                out.update(super_representation(field, instance))
                continue
            value = getattr(instance, attr)
            out[field.field_name] = value if value is None or convert is None else convert(value)
        return out


def iso_moment(value) -> str:
    """What DRF's DateTimeField gives: ISO 8601 in the current time zone, UTC as "Z"."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = value.astimezone(timezone.get_current_timezone())
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def super_representation(field, instance) -> dict:
    """One field the way DRF's Serializer.to_representation does it."""
    try:
        attribute = field.get_attribute(instance)
    except drf_fields.SkipField:
        return {}
    check = attribute.pk if isinstance(attribute, drf_relations.PKOnlyObject) else attribute
    return {field.field_name: None if check is None else field.to_representation(attribute)}


def service_errors(error) -> serializers.ValidationError:
    """A service's django ValidationError as DRF's: field → messages, ``__all__`` →
    non_field_errors; a message list without fields goes to non_field_errors."""
    if not hasattr(error, "error_dict"):
        return serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: error.messages})
    detail = {}
    for name, messages in error.message_dict.items():
        key = api_settings.NON_FIELD_ERRORS_KEY if name == "__all__" else name
        detail.setdefault(key, []).extend(messages)
    return serializers.ValidationError(detail)


class ServiceSerializer(ModelSerializer):
    """A register's serializer that saves through its service.

    Moments read in ISO or ROC; ``save_record(instance, actor=..., **extras)`` does the
    saving (the names in ``save_extras`` are taken out of the validated data and passed to
    it as keywords, ``None`` when not sent); the service's refusals answer as field errors.
    """

    serializer_field_mapping = {
        **ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }
    id = serializers.IntegerField(read_only=True)
    save_extras: tuple[str, ...] = ()

    def save_record(self, instance, *, actor, **extras):
        raise NotImplementedError

    def _save(self, instance, validated_data):
        extras = {name: validated_data.pop(name, None) for name in self.save_extras}
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            return self.save_record(instance, actor=self.context["request"].user, **extras)
        except DjangoValidationError as error:
            raise service_errors(error) from None

    def create(self, validated_data):
        return self._save(self.Meta.model(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = gettext_lazy("此筆資料仍被其他資料使用，無法刪除。")
    default_code = "in_use"


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=2, max_length=1000)


class ReviewSerializer(serializers.Serializer):
    """The body of a supervisor's review action (主管覆核): an optional note."""

    note = serializers.CharField(
        label=gettext_lazy("覆核意見"), required=False, allow_blank=True, max_length=1000
    )


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
        qs = restrict(self.register.api_queryset(), self.request.user, action_name, self.access)
        wants_voided = self.request.query_params.get("voided") in {"1", "true"}
        if self.action == "list" and self.register.voidable() and not wants_voided:
            qs = qs.filter(voided_at__isnull=True)
        return qs

    def body(self, serializer_class) -> dict:
        """An action's request body, validated by ``serializer_class`` (400 when invalid)."""
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    def service_answer(self, service, *args, **kwargs) -> Response:
        """Run a service on behalf of an action: its refusals as DRF field errors (400), the
        record it returns in the register's serializer (200)."""
        try:
            obj = service(*args, **kwargs)
        except DjangoValidationError as error:
            raise service_errors(error) from None
        return Response(self.register.serializer_class(obj, context={"request": self.request}).data)

    def perform_destroy(self, instance):
        if not self.register.deletable:
            raise Http404
        try:
            with transaction.atomic():
                instance.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise Conflict() from exc

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
        if error := self.register.void_error(obj):
            raise ValidationError({"non_field_errors": [error]})
        try:
            self.register.void_record(obj, actor=request.user, reason=data.validated_data["reason"])
        except DjangoValidationError as error:
            raise service_errors(error) from None
        obj.refresh_from_db()
        return Response(self.get_serializer(obj).data, status=status.HTTP_200_OK)


class Router(routers.DefaultRouter):
    include_root_view = False
    # No ``.json`` suffix routes: JSON is the API's only format (content negotiation picks
    # it), and an action without a ``format`` argument would fail on a suffixed URL.
    include_format_suffixes = False

    def register(self, prefix, viewset, basename=None):
        # The URLconf may be imported again after an import error elsewhere: keep the first.
        if any(known_prefix == prefix for known_prefix, _v, _b in self.registry):
            return
        super().register(prefix, viewset, basename=basename)

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
