"""The read-only API of the outbox: /api/notifications/."""

from isms.core.restapi import ModelSerializer

from .models import Notification


class NotificationSerializer(ModelSerializer):
    class Meta:
        model = Notification
        fields = [
            "id",
            "recipient",
            "channel",
            "subject",
            "body",
            "dedup_key",
            "urgent",
            "is_digest",
            "bundle",
            "status",
            "attempts",
            "next_attempt_at",
            "claimed_by",
            "claimed_at",
            "sent_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields
