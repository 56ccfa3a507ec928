"""Configuration from ZHANGBAN_* environment variables.

Every value is parsed and checked once, at start-up; a bad value raises ConfigError naming the variable, and
the command line prints that one line and exits.
"""
from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger(__name__)

PREFIX = "ZHANGBAN_"


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the variable."""


def _parse_bool(name, raw):
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{PREFIX}{name}: expected true or false, got {raw!r}")


def _parse_int(name, raw, minimum=None, maximum=None):
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}: expected a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{PREFIX}{name}: must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{PREFIX}{name}: must be at most {maximum}, got {value}")
    return value


def _parse_key(name, raw, length=32):
    """A secret key given as base64 (standard or url-safe) of exactly `length` bytes."""
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (ValueError, TypeError):
        raise ConfigError(f"{PREFIX}{name}: expected base64 of {length} random bytes") from None
    if len(key) != length:
        raise ConfigError(f"{PREFIX}{name}: expected base64 of {length} random bytes, got {len(key)} bytes")
    return key


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ENVIRONMENTS = ("development", "production", "test")


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    data_dir: Path = Path("var")
    mongodb_uri: str | None = None          # None → the embedded SecantusDB child process
    s3_endpoint: str | None = None          # None → the filesystem object store under data_dir/objects
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "zhangban"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    token_key: bytes | None = field(default=None, repr=False)
    pii_key: bytes | None = field(default=None, repr=False)
    access_token_seconds: int = 900
    refresh_token_seconds: int = 30 * 24 * 3600
    wechat_appid: str = ""
    wechat_secret: str = field(default="", repr=False)
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout_seconds: int = 5
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024 * 1024
    login_max_failures: int = 5             # per account, before the lockout starts
    login_lockout_seconds: int = 60         # first lockout; doubles with each further failure
    trust_proxy: bool = False               # honour X-Forwarded-For for the client address
    # storage (docs/storage.md)
    upload_max_bytes: int = 15 * 1024 * 1024  # per uploaded file → 413 beyond
    image_max_pixels: int = 40_000_000      # declared width × height → 422 beyond, checked before decoding
    image_decode_mb: int = 256              # estimated peak memory of one image decode → 422 beyond
    image_decodes: int = 2                  # image decodes at once per worker process; more wait, then 429
    keep_originals: bool = False            # also keep the uploaded photo bytes (metadata and all)
    presign_seconds: int = 300              # lifetime of content URLs; at most 5 minutes
    storage_gc_grace_seconds: int = 3600    # `zhangban storage gc` leaves younger orphans alone
    signature_retention_days: int = 3650    # MinIO object-lock retention (governance) of signatures; 0 = none
    s3_public_url: str | None = None        # base URL phones use for presigned links, when not s3_endpoint
    form_max_draft_bytes: int = 1024 * 1024  # forms: a draft's schema → 413 beyond (the one default)
    form_max_check_bytes: int = 1024 * 1024  # forms: a resident's POST …/check body → 413 beyond
    # the worker (README, "The worker")
    worker_idle_seconds: float = 2.0        # sleep between rounds that found nothing to do
    worker_lease_seconds: int = 300         # a claimed timer or message is another worker's again after this
    worker_batch: int = 100                 # timers and messages taken per round, each
    notify_max_attempts: int = 6            # WeChat sends tried before a message is marked failed
    notify_backoff_seconds: int = 30        # first retry delay; doubles per attempt, at most an hour
    wechat_templates: dict = field(default_factory=dict)   # kind → {template_id, page?, data?} (subscribe messages)
    wechat_miniprogram_state: str = "formal"   # formal, trial or developer: which mini-program a message opens
    # engine CPU as a budget, and metrics (README, "Production: quotas and metrics")
    engine_cpu_ms_per_minute: int = 10_000  # one account's test-run engine CPU per minute → 429 beyond
    engine_concurrent_actions: int = 2      # one account's test-run engine actions at once → 429 beyond
    breaker_hits: int = 5                   # a published version's CPU/step limit hits within the window …
    breaker_window_seconds: int = 600       # … that suspend new submissions to it until an admin resumes it
    metrics_allow: tuple = ("127.0.0.1/32", "::1/128")   # client networks /metrics answers; () → 404 for all
    breaker_accounts: int = 3               # distinct accounts whose limit hits open a version's breaker
    breaker_cooldown_seconds: int = 300     # an open breaker lets one action through (half-open) after this
    # brakes on floods (README, "Limits on floods"): per account, × rate_address_factor per client address → 429
    submissions_per_day: int = 20           # submitted applications per resident and service per China day
    drafts_per_day: int = 30                # new application drafts per resident per day …
    draft_bytes_per_day: int = 32 << 20     # … and the bytes its draft creates and saves write
    ratings_per_day: int = 20               # ratings per resident per day …
    bad_ratings_per_day: int = 5            # … of which bad ones (each opens a 差评 follow-up task)
    urges_per_day: int = 10                 # 催办 per resident per day, across cases
    rate_address_factor: int = 20           # a client address may do this many times an account's allowance
    anonymous_body_bytes: int = 16 * 1024   # the body of a request that needs no login (login, refresh) → 413
    json_max_items: int = 200_000           # containers and members of a JSON body, counted before parsing → 413
    cc_days: int = 30                       # 抄送: a copy is read for at most this many days (the case's end ends it sooner)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_mongodb(self) -> bool:
        return self.mongodb_uri is None

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)


def _parse_seconds(name, raw, minimum, maximum):
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}: expected a number of seconds, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{PREFIX}{name}: must be between {minimum} and {maximum}, got {raw}")
    return value


def _parse_templates(raw) -> dict:
    """ZHANGBAN_WECHAT_TEMPLATES: JSON, kind → template id, or kind → {"template_id", "page", "data"} where `data`
    maps each of the template's keywords to one of the message's fields. The shape is checked here; the kind and
    field names by the worker at its start (workflows.cases.notify.delivery.check_templates: core knows no kinds)."""
    name = "WECHAT_TEMPLATES"
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}{name}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{PREFIX}{name}: expected a JSON object of kind → template id")
    templates = {}
    for kind, entry in value.items():
        entry = {"template_id": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("template_id"), str) \
                or not entry["template_id"].strip():
            raise ConfigError(f"{PREFIX}{name}: {kind}: expected a template id or an object with template_id")
        extra = set(entry) - {"template_id", "page", "data"}
        if extra:
            raise ConfigError(f"{PREFIX}{name}: {kind}: unknown key {sorted(extra)[0]!r}")
        if not isinstance(entry.get("page", ""), str):
            raise ConfigError(f"{PREFIX}{name}: {kind}.page: expected a string")
        data = entry.get("data")
        if data is not None and (not isinstance(data, dict) or not data
                                 or not all(isinstance(v, str) for v in data.values())):
            raise ConfigError(f"{PREFIX}{name}: {kind}.data: expected an object of template keyword → field name")
        templates[kind] = entry
    return templates


def _parse_networks(name, raw) -> tuple:
    """Comma-separated addresses or networks (10.0.0.0/8, ::1); "none" for none."""
    import ipaddress

    if raw.strip().lower() == "none":
        return ()
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}: {part!r} is not an address or network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _check_mongodb_uri(uri: str) -> None:
    """Refuse a URI pymongo would refuse later with a traceback. mongodb+srv:// is parsed when connecting (its
    parsing looks up DNS records, which start-up checks must not do)."""
    if uri.startswith("mongodb+srv://"):
        return
    from pymongo.errors import ConfigurationError, InvalidURI
    from pymongo.uri_parser import parse_uri

    try:
        parse_uri(uri)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        # The message names what is wrong without echoing the URI (it may hold a password).
        raise ConfigError(f"{PREFIX}MONGODB_URI: not a valid MongoDB URI: {exc}") from None


def from_env(environ=None) -> Settings:
    """Read and check every ZHANGBAN_* variable; raise ConfigError naming the first bad one."""
    environ = os.environ if environ is None else environ

    def get(name):
        value = environ.get(PREFIX + name)
        return None if value is None or value.strip() == "" else value

    known = {PREFIX + n for n in _VARIABLES}
    unknown = sorted(k for k in environ if k.startswith(PREFIX) and k not in known)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown setting (known: see README, Configuration)")

    values = {}
    env = get("ENV") or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"{PREFIX}ENV: expected one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    values["env"] = env
    if get("DATA_DIR"):
        values["data_dir"] = Path(get("DATA_DIR"))
    if get("MONGODB_URI"):
        uri = get("MONGODB_URI")
        if not uri.startswith(("mongodb://", "mongodb+srv://")):
            raise ConfigError(f"{PREFIX}MONGODB_URI: must start with mongodb:// or mongodb+srv://")
        _check_mongodb_uri(uri)
        values["mongodb_uri"] = uri
    if get("S3_ENDPOINT"):
        endpoint = get("S3_ENDPOINT")
        parsed = urlparse(endpoint if "://" in endpoint else "//" + endpoint)
        try:
            parsed.port   # raises for a port that is not a number 0–65535
        except ValueError:
            parsed = None
        if not parsed or not parsed.hostname or parsed.path not in ("", "/"):
            raise ConfigError(f"{PREFIX}S3_ENDPOINT: expected host:port (or http(s)://host:port), got {endpoint!r}")
        if parsed.scheme == "https":
            values["s3_secure"] = True
        values["s3_endpoint"] = parsed.netloc
    for name in ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION", "WECHAT_APPID", "WECHAT_SECRET"):
        if get(name):
            values[name.lower()] = get(name)
    if get("S3_BUCKET"):
        bucket = get("S3_BUCKET")
        if not (3 <= len(bucket) <= 50) or not all(c.islower() or c.isdigit() or c == "-" for c in bucket):
            raise ConfigError(f"{PREFIX}S3_BUCKET: 3–50 characters of a-z, 0-9 and '-', got {bucket!r}")
        values["s3_bucket"] = bucket
    if get("S3_SECURE"):
        values["s3_secure"] = _parse_bool("S3_SECURE", get("S3_SECURE"))
    if get("TRUST_PROXY"):
        values["trust_proxy"] = _parse_bool("TRUST_PROXY", get("TRUST_PROXY"))
    if get("WECHAT_API_BASE"):
        base = get("WECHAT_API_BASE").rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"{PREFIX}WECHAT_API_BASE: must be an http:// or https:// URL, got {base!r}")
        values["wechat_api_base"] = base
    for name, lo, hi in (("ACCESS_TOKEN_SECONDS", 30, 86400), ("REFRESH_TOKEN_SECONDS", 300, 365 * 86400),
                         ("WECHAT_TIMEOUT_SECONDS", 1, 60), ("MAX_BODY_BYTES", 1024, 1 << 30),
                         ("LOGIN_MAX_FAILURES", 1, 100), ("LOGIN_LOCKOUT_SECONDS", 1, 86400)):
        if get(name):
            values[name.lower()] = _parse_int(name, get(name), lo, hi)
    if get("LOG_LEVEL"):
        level = get("LOG_LEVEL").upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"{PREFIX}LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, got {get('LOG_LEVEL')!r}")
        values["log_level"] = level
    if get("TOKEN_KEY"):
        values["token_key"] = _parse_key("TOKEN_KEY", get("TOKEN_KEY"))
    if get("PII_KEY"):
        values["pii_key"] = _parse_key("PII_KEY", get("PII_KEY"))

    for name, lo, hi in (("UPLOAD_MAX_BYTES", 1024, 1 << 30), ("IMAGE_MAX_PIXELS", 100_000, 200_000_000),
                         ("IMAGE_DECODE_MB", 32, 16384), ("IMAGE_DECODES", 1, 64),
                         ("PRESIGN_SECONDS", 1, 300), ("STORAGE_GC_GRACE_SECONDS", 60, 30 * 86400),
                         ("SIGNATURE_RETENTION_DAYS", 0, 36500), ("FORM_MAX_DRAFT_BYTES", 16 * 1024, 16 << 20),
                         ("FORM_MAX_CHECK_BYTES", 16 * 1024, 16 << 20)):
        if get(name):
            values[name.lower()] = _parse_int(name, get(name), lo, hi)
    if get("KEEP_ORIGINALS"):
        values["keep_originals"] = _parse_bool("KEEP_ORIGINALS", get("KEEP_ORIGINALS"))
    if get("S3_PUBLIC_URL"):
        public = get("S3_PUBLIC_URL").rstrip("/")
        parsed = urlparse(public)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/"):
            raise ConfigError(f"{PREFIX}S3_PUBLIC_URL: expected http(s)://host[:port], got {public!r}")
        values["s3_public_url"] = public
    for name, lo, hi in (("WORKER_LEASE_SECONDS", 1, 86400), ("WORKER_BATCH", 1, 10000),
                         ("NOTIFY_MAX_ATTEMPTS", 1, 100), ("NOTIFY_BACKOFF_SECONDS", 1, 86400)):
        if get(name):
            values[name.lower()] = _parse_int(name, get(name), lo, hi)
    if get("WORKER_IDLE_SECONDS"):
        values["worker_idle_seconds"] = _parse_seconds("WORKER_IDLE_SECONDS", get("WORKER_IDLE_SECONDS"), 0.01, 3600)
    if get("WECHAT_TEMPLATES"):
        values["wechat_templates"] = _parse_templates(get("WECHAT_TEMPLATES"))
    if get("WECHAT_MINIPROGRAM_STATE"):
        state = get("WECHAT_MINIPROGRAM_STATE").strip()
        if state not in ("formal", "trial", "developer"):
            raise ConfigError(f"{PREFIX}WECHAT_MINIPROGRAM_STATE: expected formal, trial or developer, got {state!r}")
        values["wechat_miniprogram_state"] = state
    for name, lo, hi in (("ENGINE_CPU_MS_PER_MINUTE", 100, 3_600_000), ("ENGINE_CONCURRENT_ACTIONS", 1, 1000),
                         ("BREAKER_HITS", 1, 10_000), ("BREAKER_WINDOW_SECONDS", 10, 7 * 86400),
                         ("BREAKER_ACCOUNTS", 1, 1000), ("BREAKER_COOLDOWN_SECONDS", 1, 7 * 86400),
                         ("SUBMISSIONS_PER_DAY", 1, 1_000_000), ("DRAFTS_PER_DAY", 1, 1_000_000),
                         ("DRAFT_BYTES_PER_DAY", 1024, 1 << 40), ("RATINGS_PER_DAY", 1, 1_000_000),
                         ("BAD_RATINGS_PER_DAY", 1, 1_000_000), ("URGES_PER_DAY", 1, 1_000_000),
                         ("RATE_ADDRESS_FACTOR", 1, 100_000), ("ANONYMOUS_BODY_BYTES", 1024, 1 << 20),
                         ("JSON_MAX_ITEMS", 1000, 100_000_000), ("CC_DAYS", 1, 3650)):
        if get(name):
            values[name.lower()] = _parse_int(name, get(name), lo, hi)
    if get("METRICS_ALLOW"):
        values["metrics_allow"] = _parse_networks("METRICS_ALLOW", get("METRICS_ALLOW"))
    settings = Settings(**values)
    if settings.is_production:
        for var, value in (("MONGODB_URI", settings.mongodb_uri), ("S3_ENDPOINT", settings.s3_endpoint),
                           ("TOKEN_KEY", settings.token_key), ("PII_KEY", settings.pii_key)):
            if value is None:
                raise ConfigError(f"{PREFIX}{var}: required when {PREFIX}ENV=production")
    return settings


_VARIABLES = ("ENV", "DATA_DIR", "MONGODB_URI", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET",
              "S3_REGION", "S3_SECURE", "TOKEN_KEY", "PII_KEY", "ACCESS_TOKEN_SECONDS", "REFRESH_TOKEN_SECONDS",
              "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_API_BASE", "WECHAT_TIMEOUT_SECONDS", "LOG_LEVEL",
              "MAX_BODY_BYTES", "LOGIN_MAX_FAILURES", "LOGIN_LOCKOUT_SECONDS", "TRUST_PROXY", "ADMIN_PASSWORD",
              "UPLOAD_MAX_BYTES", "IMAGE_MAX_PIXELS", "IMAGE_DECODE_MB", "IMAGE_DECODES", "KEEP_ORIGINALS",
              "PRESIGN_SECONDS", "STORAGE_GC_GRACE_SECONDS", "SIGNATURE_RETENTION_DAYS", "S3_PUBLIC_URL",
              "FORM_MAX_DRAFT_BYTES", "FORM_MAX_CHECK_BYTES",
              "WORKER_IDLE_SECONDS", "WORKER_LEASE_SECONDS", "WORKER_BATCH", "NOTIFY_MAX_ATTEMPTS",
              "NOTIFY_BACKOFF_SECONDS", "WECHAT_TEMPLATES", "WECHAT_MINIPROGRAM_STATE",
              "ENGINE_CPU_MS_PER_MINUTE", "ENGINE_CONCURRENT_ACTIONS", "BREAKER_HITS", "BREAKER_WINDOW_SECONDS",
              "METRICS_ALLOW", "BREAKER_ACCOUNTS", "BREAKER_COOLDOWN_SECONDS", "SUBMISSIONS_PER_DAY",
              "DRAFTS_PER_DAY", "DRAFT_BYTES_PER_DAY", "RATINGS_PER_DAY", "BAD_RATINGS_PER_DAY", "URGES_PER_DAY",
              "RATE_ADDRESS_FACTOR", "ANONYMOUS_BODY_BYTES", "JSON_MAX_ITEMS", "CC_DAYS")


def ensure_keys(settings: Settings) -> Settings:
    """Outside production, generate missing secret keys once into data_dir/keys.json and reuse them.

    A restart then keeps tokens valid and encrypted data readable. Production must configure its keys.
    """
    if settings.token_key and settings.pii_key:
        return settings
    if settings.is_production:
        raise ConfigError(f"{PREFIX}TOKEN_KEY and {PREFIX}PII_KEY: required when {PREFIX}ENV=production")
    path = settings.data_dir / "keys.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / "keys.lock", "a") as lock:
        # Processes starting together on a fresh data dir (gunicorn workers, a command beside them) must agree
        # on one set of keys: data encrypted with a key that another process then overwrote is lost for good.
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = {}
        if path.exists():
            try:
                stored = json.loads(path.read_text())
            except ValueError:
                raise ConfigError(f"{path}: not valid JSON; remove it to generate new keys") from None
        changed = False
        for name in ("token_key", "pii_key"):
            if name not in stored:
                stored[name] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
                changed = True
        if changed:
            partial = path.with_name(f".keys.{os.getpid()}.tmp")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(stored, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)   # readers see the old file or the whole new one
            log.warning("generated secret keys into %s; set %sTOKEN_KEY and %sPII_KEY in production",
                        path, PREFIX, PREFIX)
    return replace(settings,
                   token_key=settings.token_key or _parse_key("TOKEN_KEY", stored["token_key"]),
                   pii_key=settings.pii_key or _parse_key("PII_KEY", stored["pii_key"]))
