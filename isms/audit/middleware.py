"""Bind each request to the audit context: request id, client address, signed-in user."""

import ipaddress
import uuid

from django.conf import settings

from . import trail


def client_ip(request) -> str | None:
    addr = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    if proxies:
        # Behind N trusted proxies the client is the N-th address from the right.
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            addr = forwarded[-proxies]
    try:
        return ipaddress.ip_address(addr).compressed
    except ValueError:
        return None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = uuid.uuid4().hex
        with trail.bind(request=request, ip=client_ip(request), request_id=request.request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
