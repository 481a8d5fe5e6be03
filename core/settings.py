"""Settings, read once from the environment (every variable is documented in README)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str  # empty: the in-process Redis-compatible store
    fcm_endpoint: str
    fcm_project_id: str
    fcm_credentials_file: str
    wechat_api_base: str
    wechat_appid: str
    wechat_secret: str
    jwt_algorithm: str
    jwt_private_key_file: str
    jwt_secret: str
    jwt_kid: str
    jwt_extra_public_keys_file: str
    jwt_issuer: str
    access_token_ttl_s: int
    refresh_token_ttl_s: int
    max_body_bytes: int
    page_cache_ttl_s: int
    log_level: str
    log_json: bool
    run_worker_in_process: bool
    trusted_proxies: str = ""
    timezone: str = "Asia/Shanghai"
    extra: dict[str, str] = field(default_factory=dict)
    # Live stream (GET /v1/stream) and kiosks; defaults keep older constructors working.
    stream_heartbeat_s: float = 15.0
    stream_retry_ms: int = 3000
    stream_max_per_principal: int = 5
    stream_queue_size: int = 256
    stream_resume_grace_s: int = 120
    stream_page_poll_ms: int = 5000
    kiosk_session_ttl_s: int = 300
    kiosk_session_max_s: int = 1800
    kiosk_handoff_ttl_s: int = 120
    signature_worker: bool = True  # asymmetric token signatures checked in a helper process

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded_redis(self) -> bool:
        return not self.redis_url


def load_settings() -> Settings:
    data_dir = Path(_env("ENTPAGE_DATA_DIR", "var")).resolve()
    redis_url = _env("ENTPAGE_REDIS_URL")
    return Settings(
        data_dir=data_dir,
        database_url=_env("ENTPAGE_DATABASE_URL") or f"sqlite://{data_dir / 'entpage.sqlite3'}",
        redis_url=redis_url,
        fcm_endpoint=_env("ENTPAGE_FCM_ENDPOINT", "https://fcm.googleapis.com").rstrip("/"),
        fcm_project_id=_env("ENTPAGE_FCM_PROJECT_ID", "entpage-demo"),
        fcm_credentials_file=_env("ENTPAGE_FCM_CREDENTIALS_FILE"),
        wechat_api_base=_env("ENTPAGE_WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/"),
        wechat_appid=_env("ENTPAGE_WECHAT_APPID", "wx-entpage-demo"),
        wechat_secret=_env("ENTPAGE_WECHAT_SECRET", "demo-secret"),
        jwt_algorithm=_env("ENTPAGE_JWT_ALGORITHM").upper(),  # empty: core.tokens chooses
        jwt_private_key_file=_env("ENTPAGE_JWT_PRIVATE_KEY_FILE"),
        jwt_secret=_env("ENTPAGE_JWT_SECRET"),
        jwt_kid=_env("ENTPAGE_JWT_KID"),
        jwt_extra_public_keys_file=_env("ENTPAGE_JWT_EXTRA_PUBLIC_KEYS_FILE"),
        jwt_issuer=_env("ENTPAGE_JWT_ISSUER", "entpage"),
        access_token_ttl_s=_env_int("ENTPAGE_ACCESS_TOKEN_TTL", 900),
        refresh_token_ttl_s=_env_int("ENTPAGE_REFRESH_TOKEN_TTL", 30 * 24 * 3600),
        max_body_bytes=_env_int("ENTPAGE_MAX_BODY_BYTES", 1_048_576),
        page_cache_ttl_s=_env_int("ENTPAGE_PAGE_CACHE_TTL", 3600),
        log_level=_env("ENTPAGE_LOG_LEVEL", "INFO").upper(),
        log_json=_env_bool("ENTPAGE_LOG_JSON", True),
        run_worker_in_process=_env_bool("ENTPAGE_WORKER_IN_PROCESS", not redis_url),
        trusted_proxies=_env("ENTPAGE_TRUSTED_PROXIES"),
        stream_heartbeat_s=_env_float("ENTPAGE_STREAM_HEARTBEAT_S", 15.0),
        stream_retry_ms=_env_int("ENTPAGE_STREAM_RETRY_MS", 3000),
        stream_max_per_principal=_env_int("ENTPAGE_STREAM_MAX_PER_PRINCIPAL", 5),
        stream_queue_size=_env_int("ENTPAGE_STREAM_QUEUE_SIZE", 256),
        stream_resume_grace_s=_env_int("ENTPAGE_STREAM_RESUME_GRACE_S", 120),
        stream_page_poll_ms=_env_int("ENTPAGE_STREAM_PAGE_POLL_MS", 5000),
        kiosk_session_ttl_s=_env_int("ENTPAGE_KIOSK_SESSION_TTL", 300),
        kiosk_session_max_s=_env_int("ENTPAGE_KIOSK_SESSION_MAX", 1800),
        kiosk_handoff_ttl_s=_env_int("ENTPAGE_KIOSK_HANDOFF_TTL", 120),
        signature_worker=_env_bool("ENTPAGE_SIGNATURE_WORKER", True),
    )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change the environment and then ask for settings again."""
    get_settings.cache_clear()
