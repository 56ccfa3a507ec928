"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`."""
import sys

from api.app import create_app
from core.settings import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line, not a traceback per worker; exit code 3 tells gunicorn's arbiter not to respawn the worker.
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(3)
