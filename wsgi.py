"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`."""
import gc
import sys

from api.app import create_app
from core.settings import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line, not a traceback per worker; exit code 3 tells gunicorn's arbiter not to respawn the worker.
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(3)

# What start-up made (the app, its libraries, ~180k objects) lives as long as the worker: out of the cyclic
# collector's sight, its full collections no longer walk it. Measured with gc.callbacks over 60 in-process
# start+approve pairs: 1.9 → 0.35 ms of collection per pair.
gc.freeze()
