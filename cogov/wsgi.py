"""WSGI entry point: ``cogov serve`` runs it with waitress; any WSGI server works."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cogov.settings")
application = get_wsgi_application()
