"""Settings: defaults < config.yaml (platformdirs config dir) < SIGMA_* environment < flags.

Nothing here touches the disk at import time; `load_settings()` does the layering.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sigma.config_file import (  # noqa: F401 (re-exported: sigma.settings is where callers look)
    APP_NAME,
    Layered,
    config_dir,
    config_path,
    data_dir,
    layered,
    read_config_file,
    redact_url,
)
from sigma.errors import InvalidInput

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "sigma-default-jwt-secret-change-me"}
SECRET_FIELDS = {
    "api_key",
    "jwt_secret",
    "admin_password",
    "telegram_bot_token",
    "webhook_secret",
    "metrics_token",
    "account_key",
}
URL_FIELDS = {"database_url", "redis_url", "server", "webhook_url"}


class ProbeReference(BaseModel):
    """A reference target every probe checks each round (issue 17): `reachable` from
    everywhere, or `blocked` from inside China (and reachable from a control outside it). A
    probe whose references disagree with this is unhealthy: its results move no verdict."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    ip: str
    check_type: str = "tcp"
    port: int | None = Field(None, ge=1, le=65535)
    expect: str = "reachable"

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: str) -> str:
        import ipaddress

        try:
            return str(ipaddress.ip_address(v.strip()))
        except ValueError:
            raise ValueError(f"'{v}' is not an IP address") from None

    @field_validator("check_type")
    @classmethod
    def _type(cls, v: str) -> str:
        from sigma.vocab import CHECK_TYPES

        if v not in CHECK_TYPES:
            raise ValueError(f"'{v}' is not a check type ({', '.join(CHECK_TYPES)})")
        return v

    @field_validator("expect")
    @classmethod
    def _expect(cls, v: str) -> str:
        from sigma.vocab import REFERENCE_EXPECTATIONS

        if v not in REFERENCE_EXPECTATIONS:
            raise ValueError(f"'{v}' is not reachable or blocked")
        return v


def parse_hh_mm(text: str) -> time_of_day:
    """'7:30' or '07:30' -> 07:30; anything else is a ValueError naming the value."""
    m = re.fullmatch(r"\s*([01]?\d|2[0-3]):([0-5]\d)\s*", text)
    if not m:
        raise ValueError(f"'{text[:40]}' is not a time of day HH:MM (e.g. 08:00)")
    return time_of_day(int(m[1]), int(m[2]))


@dataclass(frozen=True)
class NotifyRule:
    """One rule of notify_rules: the notify_urls positions it is about (None: every URL),
    the kinds and severities it takes (empty: any), and whether they go at once or in the
    daily digest."""

    targets: tuple[int, ...] | None
    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    digest: bool = False

    def matches(self, kind: str, severity: str) -> bool:
        return (not self.kinds or kind in self.kinds) and (
            not self.severities or severity in self.severities
        )

    def __str__(self) -> str:
        head = "*" if self.targets is None else ",".join(map(str, self.targets))
        parts = [head + ":"]
        if self.kinds:
            parts.append("kind=" + ",".join(self.kinds))
        if self.severities:
            parts.append("severity=" + ",".join(self.severities))
        parts.append("digest" if self.digest else "instant")
        return " ".join(parts)


def parse_notify_rule(text: str, position: int = 1) -> NotifyRule:
    """'1,2: kind=expiring,overdue severity=critical digest' -> NotifyRule (ValueError naming
    the rule's position and the bad part otherwise)."""
    from sigma.vocab import ATTENTION_KINDS

    severities = ("critical", "warning", "info")
    where = f"rule {position} ('{text[:80]}')"
    target, sep, rest = text.partition(":")
    if not sep:
        raise ValueError(f"{where} has no 'TARGET:' (e.g. '1: severity=critical', '*: digest')")
    target = target.strip()
    targets: tuple[int, ...] | None = None
    if target != "*":
        items = [t.strip() for t in target.split(",") if t.strip()]
        if not items or not all(t.isdigit() and 1 <= int(t) <= 1000 for t in items):
            raise ValueError(f"{where}: the target must be * or notify_urls positions (1, 2,3)")
        targets = tuple(sorted({int(t) for t in items}))
    kinds: list[str] = []
    sevs: list[str] = []
    mode: str | None = None
    for token in rest.replace("\t", " ").split():
        key, eq, value = token.partition("=")
        key = key.strip().lower()
        values = [x.strip().lower() for x in value.split(",") if x.strip()]
        if not eq and key in ("instant", "digest"):
            if mode and mode != key:
                raise ValueError(f"{where} says both instant and digest")
            mode = key
        elif eq and key in ("kind", "kinds"):
            for k in values:
                if k not in ATTENTION_KINDS:
                    raise ValueError(
                        f"{where}: unknown kind '{k[:40]}' ({', '.join(ATTENTION_KINDS)})"
                    )
            kinds += values
        elif eq and key in ("severity", "severities"):
            for x in values:
                if x not in severities:
                    raise ValueError(
                        f"{where}: unknown severity '{x[:40]}' ({', '.join(severities)})"
                    )
            sevs += values
        else:
            raise ValueError(
                f"{where}: '{token[:40]}' is not kind=..., severity=..., instant or digest"
            )
        if eq and not values:
            raise ValueError(f"{where}: '{token[:40]}' names no value")
    return NotifyRule(
        targets=targets,
        kinds=tuple(dict.fromkeys(kinds)),
        severities=tuple(s for s in severities if s in sevs),
        digest=mode == "digest",
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    database_url: str = Field(
        "", description="SQLAlchemy URL; empty = embedded SQLite in the data dir"
    )
    database_pooler: bool = Field(
        False,
        description="database_url leads to a transaction-mode pooler (PgBouncer, CloudNativePG's "
        "Pooler): no server-side prepared statements and no session settings",
    )
    server: str | None = Field(None, description="URL of a sigma server; set = remote mode")
    api_key: str | None = Field(
        None, description="API key sent to the server / legacy key accepted by it"
    )
    # server
    jwt_secret: str = ""
    jwt_expiry_hours: int = Field(24, ge=1, le=24 * 90)
    redis_url: str | None = None
    rate_limit_requests: int = Field(100, ge=1)
    rate_limit_window: int = Field(60, ge=1)
    rate_limit_login: int = Field(10, ge=1, description="login attempts per window and client IP")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or CIDRs of the reverse proxies in front of serve, e.g. "
        "127.0.0.1,10.0.0.0/8: only their X-Forwarded-For and X-Forwarded-Proto are believed",
    )
    session_max_hours: int = Field(
        24 * 7,
        ge=1,
        le=24 * 365,
        description="a sign-in lasts at most this long, refreshes included",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed to call the API from a browser (CORS); none by default",
    )
    jobs_enabled: bool = Field(
        True, description="run background jobs (notifications, offline detection) in serve"
    )
    # /metrics (issue 17): not exposed unless one of these is set
    metrics_token: str | None = Field(
        None,
        description="bearer token (16+ characters) that serve's /metrics requires (Prometheus: "
        "authorization: {credentials: ...}); a scrape without it gets 401. Unset, and without "
        "metrics_listen, /metrics is not exposed (404)",
    )
    metrics_listen: str | None = Field(
        None,
        description="HOST:PORT of a separate listener for /metrics, started by serve (e.g. "
        "127.0.0.1:9464): the API port then never exposes it; with metrics_token set too, "
        "the listener requires the token as well",
    )
    admin_email: str | None = None
    admin_password: str | None = None
    # inventory
    agent_interval: int = Field(60, ge=1, description="seconds between agent heartbeats")
    offline_after: int | None = Field(None, ge=1, description="seconds; default 3 x agent_interval")
    trash_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="days a deleted VPS stays in the trash (sigma vps trash, restore) before "
        "serve's trash-purge job deletes it for good",
    )
    # reachability (issue 17)
    reachability_rounds: int = Field(
        3,
        ge=1,
        le=100,
        description="consecutive rounds of failures that confirm a blocked, port-blocked, "
        "tls-blocked or down verdict",
    )
    reachability_agreement: int = Field(
        100,
        ge=1,
        le=100,
        description="percent of the healthy sources inside China that must fail for an IP to "
        "be blocked (100: every one)",
    )
    probe_references: list[ProbeReference] = Field(
        default_factory=list,
        description="reference targets each probe checks every round, as a YAML list or JSON: "
        '[{"name": "ref-ok", "ip": "...", "check_type": "tcp", "port": 443, "expect": '
        '"reachable"}, ...]; a probe whose references disagree is unhealthy',
    )
    alert_latency_ms: dict[str, int] = Field(
        default_factory=lambda: {"default": 300},
        description="latency alert threshold in ms, per carrier: 300, or 300,cm=400 (a "
        "default and carriers of their own); 0 turns it off; a VPS may have its own",
    )
    alert_loss_pct: dict[str, int] = Field(
        default_factory=lambda: {"default": 20},
        description="ICMP loss alert threshold in %, per carrier, as alert_latency_ms",
    )
    alert_window_minutes: int = Field(
        15, ge=5, le=1440, description="the averages alerts compare are over this many minutes"
    )
    attention_cache_seconds: float = Field(
        15,
        ge=0,
        le=600,
        description="a process reuses the computed attention list this long (0: never); "
        "a change made through it is seen at once",
    )
    ip_check_raw_days: int = Field(
        2, ge=1, le=3650, description="days the raw IP checks are kept (sigma ip-check history)"
    )
    ip_check_5m_days: int = Field(
        30, ge=1, le=3650, description="days the 5-minute sums of IP checks are kept"
    )
    ip_check_hourly_days: int = Field(
        365, ge=1, le=3650, description="days the hourly sums of IP checks are kept"
    )
    # output
    log_level: str = "INFO"
    base_currency: str = Field(
        "USD",
        description="ISO 4217 code (3 letters, e.g. EUR) that cost reports convert to when "
        "asked to convert without a currency (sigma cost --convert, the API's convert=true, "
        "the web costs page); --convert-to / convert_to still choose another",
    )
    # provider and DNS accounts (issue 19; services.secrets, services.sync, services.dns)
    account_key: str | None = Field(
        None,
        description="Fernet key(s) the accounts' credentials are encrypted with, comma-"
        "separated: the first encrypts, every one decrypts (rotation); unset: the key file",
    )
    account_key_file: str = Field(
        "",
        description="file holding the accounts' key, created (mode 0600) on first use; "
        "empty = account.key in the data dir. Replicas of serve must share the key",
    )
    sync_enabled: bool = Field(
        True, description="serve syncs each enabled account at its interval (once per cluster)"
    )
    cert_warn_days: int = Field(
        14,
        ge=1,
        le=365,
        description="a certificate served for a DNS record's name that "
        "expires within this many days is an attention item",
    )
    # expiry notifications
    telegram_bot_token: str | None = None
    telegram_chat_id: str | None = None
    telegram_api_base: str = Field(
        "https://api.telegram.org", description="Telegram Bot API base URL"
    )
    webhook_url: str | None = None
    webhook_secret: str | None = Field(
        None, description="HMAC-SHA256 key: X-Sigma-Signature-256 header"
    )
    notify_before_days: list[int] = Field([7, 3, 1], description="days before expiry, e.g. 7,3,1")
    notify_interval: int = Field(
        3600, ge=60, description="seconds between notification runs in serve"
    )
    notify_overdue_days: int = Field(
        30, ge=0, description="report VPS overdue by at most this many days"
    )
    # notices of attention items over Apprise (issue 18; services.notices)
    notify_urls: list[str] = Field(
        default_factory=list,
        description="Apprise URLs the attention notices go to (tgram://, mailto://, ntfy://, "
        "json://, ...), separated by spaces or commas; secrets in them are never shown",
    )
    notify_rules: list[str] = Field(
        default_factory=list,
        description="which items go to which URL, and how: 'TARGET: [kind=K,..] "
        "[severity=S,..] [instant|digest]', TARGET a notify_urls position (1, 2,3) or *; "
        "several rules separated by ';' (a YAML list in the file). None: every item at once "
        "to every URL; a URL no rule names gets every item at once",
    )
    notify_digest_at: str = Field(
        "08:00", description="HH:MM (in notify_timezone) the daily digest is sent at"
    )
    notify_quiet_hours: str = Field(
        "",
        description="HH:MM-HH:MM (in notify_timezone; may wrap midnight, e.g. 22:00-07:00): "
        "warning and info notices and recoveries wait until the end; critical ones are sent",
    )
    notify_timezone: str = Field(
        "UTC", description="IANA time zone of notify_digest_at and notify_quiet_hours"
    )

    @field_validator(
        "telegram_bot_token", "telegram_chat_id", "webhook_url", "webhook_secret", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("account_key", mode="before")
    @classmethod
    def _account_key_blank(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("metrics_token", "metrics_listen", mode="before")
    @classmethod
    def _metrics_blank(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, v: str | None) -> str | None:
        if v is not None and (v in PLACEHOLDER_SECRETS or len(v) < 16 or v != v.strip()):
            raise ValueError("must be at least 16 random characters, without spaces around")
        return v

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, v: str | None) -> str | None:
        if v is not None:
            host, _, port = v.strip().rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"'{v}' is not HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)")
            v = v.strip()
        return v

    @field_validator("telegram_api_base", "webhook_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"'{v}' is not an http(s) URL")
        return v

    @field_validator("notify_before_days", mode="before")
    @classmethod
    def _days_list(cls, v: object) -> object:
        if isinstance(v, str):
            items = [p.strip() for p in v.split(",") if p.strip()]
            for p in items:
                if not p.isdigit():
                    raise ValueError(f"'{p}' is not a whole number of days (expected e.g. 7,3,1)")
            return [int(p) for p in items]
        return v

    @field_validator("notify_urls", mode="before")
    @classmethod
    def _url_list(cls, v: object) -> object:
        from sigma.notify_urls import split_urls

        if isinstance(v, str):
            return split_urls(v)
        if isinstance(v, list):
            return [u.strip() if isinstance(u, str) else u for u in v]
        return v

    @field_validator("notify_urls")
    @classmethod
    def _apprise_urls(cls, v: list[str]) -> list[str]:
        from sigma.notify_urls import label, problem

        for i, url in enumerate(v, 1):
            if why := problem(url):
                raise ValueError(f"URL {i} ({label(url)}) {why}")
        return v

    @field_validator("notify_rules", mode="before")
    @classmethod
    def _rule_list(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in re.split(r"[;\n]", v) if p.strip()]
        return v

    @field_validator("notify_rules")
    @classmethod
    def _rules(cls, v: list[str], info: ValidationInfo) -> list[str]:
        urls = info.data.get("notify_urls") or []
        out = []
        for i, text in enumerate(v, 1):
            rule = parse_notify_rule(text, position=i)
            for t in rule.targets or ():
                if t > len(urls):
                    raise ValueError(
                        f"rule {i} ('{text[:80]}') names URL {t}, but notify_urls has {len(urls)}"
                    )
            out.append(str(rule))
        return out

    @field_validator("notify_digest_at")
    @classmethod
    def _hh_mm(cls, v: str) -> str:
        return f"{parse_hh_mm(v):%H:%M}"

    @field_validator("notify_quiet_hours")
    @classmethod
    def _quiet(cls, v: str) -> str:
        if not v.strip():
            return ""
        start, sep, end = v.strip().partition("-")
        if not sep:
            raise ValueError(f"'{v[:40]}' is not HH:MM-HH:MM (e.g. 22:00-07:00)")
        a, b = parse_hh_mm(start), parse_hh_mm(end)
        if a == b:
            raise ValueError(f"'{v[:40]}' starts and ends at the same time")
        return f"{a:%H:%M}-{b:%H:%M}"

    @field_validator("notify_timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        v = v.strip()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", v) or len(v) > 64:
            raise ValueError(f"'{v[:40]}' is not an IANA time zone (e.g. Europe/Berlin, UTC)")
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown time zone '{v}' (an IANA name, e.g. Asia/Shanghai, UTC)"
            ) from None
        return v

    @field_validator("alert_latency_ms", "alert_loss_pct", mode="before")
    @classmethod
    def _per_carrier(cls, v: object) -> object:
        """300 -> {"default": 300}; "300,cm=400" -> {"default": 300, "cm": 400}."""
        from sigma.vocab import PROBE_CARRIERS

        if isinstance(v, int | float) and not isinstance(v, bool):
            return {"default": v}
        if not isinstance(v, str):
            return v
        out: dict[str, int] = {}
        for item in (p.strip() for p in v.split(",") if p.strip()):
            carrier, _, value = item.rpartition("=")
            carrier = carrier.strip().lower() or "default"
            if carrier != "default" and carrier not in PROBE_CARRIERS:
                raise ValueError(
                    f"'{carrier}' is not a carrier ({', '.join(PROBE_CARRIERS)}); "
                    "expected e.g. 300,cm=400"
                )
            if not value.strip().isdigit():
                raise ValueError(f"'{item}' is not a whole number (expected e.g. 300,cm=400)")
            out[carrier] = int(value)
        return out

    @field_validator("alert_latency_ms", "alert_loss_pct")
    @classmethod
    def _known_carriers(cls, v: dict[str, int]) -> dict[str, int]:
        from sigma.vocab import PROBE_CARRIERS

        for carrier, value in v.items():
            if carrier != "default" and carrier not in PROBE_CARRIERS:
                raise ValueError(f"'{carrier}' is not a carrier ({', '.join(PROBE_CARRIERS)})")
            if value < 0:
                raise ValueError(f"{carrier}: a threshold cannot be negative")
        return v

    @field_validator("probe_references", mode="before")
    @classmethod
    def _json_list(cls, v: object) -> object:
        if isinstance(v, str):
            import json

            if not v.strip():
                return []
            try:
                return json.loads(v)
            except ValueError as exc:
                raise ValueError(f"not a JSON list of references: {exc}") from None
        return v

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"'{item}' is not an IP address or CIDR (e.g. 10.0.0.0/8)"
                ) from None
        return v

    @field_validator("base_currency", mode="before")
    @classmethod
    def _currency(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", v):
                raise ValueError(f"'{v}' is not a three-letter ISO 4217 currency code (e.g. EUR)")
        return v

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        if v and "://" not in v:
            raise ValueError(
                "must be a URL such as sqlite:///path or postgresql+psycopg://user@host/db"
            )
        return v

    def session_info(self) -> dict[str, Any]:
        """What the services read from each session's info (db.engine.session_factory)."""
        return {
            "offline_after": self.offline_threshold,
            "base_currency": self.base_currency,
            "notify_before_days": list(self.notify_before_days),
            "reachability_rounds": self.reachability_rounds,
            "reachability_agreement": self.reachability_agreement,
            "probe_references": [r.model_dump() for r in self.probe_references],
            "alert_latency_ms": dict(self.alert_latency_ms),
            "alert_loss_pct": dict(self.alert_loss_pct),
            "alert_window_minutes": self.alert_window_minutes,
            "attention_cache_seconds": self.attention_cache_seconds,
            "cert_warn_days": self.cert_warn_days,
            "ip_check_raw_days": self.ip_check_raw_days,
            "ip_check_5m_days": self.ip_check_5m_days,
            "ip_check_hourly_days": self.ip_check_hourly_days,
        }

    @property
    def offline_threshold(self) -> int:
        return self.offline_after or 3 * self.agent_interval

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{data_dir() / 'sigma.db'}"

    def redacted(self) -> dict[str, Any]:
        """Every setting, with secrets and URL passwords hidden: safe to print."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name in SECRET_FIELDS and value:
                value = "********"
            elif name in URL_FIELDS and isinstance(value, str):
                value = redact_url(value)
            elif name == "notify_urls":
                from sigma.notify_urls import label

                value = [label(u) for u in value]
            out[name] = value
        out["database_url"] = redact_url(self.effective_database_url)
        return out


def load_settings(
    flags: dict[str, Any] | None = None, *, path: Path | None = None, config: Layered | None = None
) -> Settings:
    """The effective settings (config_file.layered), validated."""
    config = config or layered(flags, path=path)
    values = {
        k: v
        for k, v in config.values.items()
        if k in Settings.model_fields or k not in config.from_env
    }
    if "trust_forwarded_for" in config.values:
        raise InvalidInput(
            "setting trust_forwarded_for was replaced by trusted_proxies: the addresses or CIDRs "
            "of your reverse proxies (e.g. SIGMA_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8)",
            field="trusted_proxies",
        )
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        if err["type"] == "extra_forbidden":
            raise InvalidInput(f"unknown setting '{field}'", field=field) from None
        raise InvalidInput(f"invalid setting {field}: {err['msg']}", field=field) from None


def save_config_values(values: dict[str, Any], *, path: Path | None = None) -> Path:
    """Merge `values` into the config file (None removes a key); the file is kept 0600."""
    import yaml

    path = path or config_path()
    current = read_config_file(path)
    for key, value in values.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(current, fh, sort_keys=True)
    os.replace(tmp, path)
    return path
