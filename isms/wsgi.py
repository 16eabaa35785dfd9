"""WSGI entry point (gunicorn isms.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isms.settings")
application = get_wsgi_application()
