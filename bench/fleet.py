"""A realistic, deterministic fleet for the benchmarks, and a fast loader.

The fleet: N VPS bought over 8 years (default 100,000), of which a given number (default
10,000) are running today; ~60 providers in many countries; 1-3 IPs per VPS, IPv4 and IPv6,
labelled (china-telecom, china-unicom, china-mobile, overseas, internal, ...); tags with
`p:<project>` project tags; purposes and VPN protocols; monthly costs in several currencies
as exact decimals; purchase and expiry dates about a month apart (the fleet grows over the
years, so the past is thinner than the present). Hostnames are reused after a VPS retires,
as operators do.

Same seed and same `today` -> the very same rows (ids included).

Loading: the schema is created by `sigma.db.engine.upgrade(engine)` (the real migrations),
then SQLite gets one transaction of executemany through SQLAlchemy Core `insert()` on the
tables of `sigma.db.models` (so the column types apply: ExactDecimal -> scaled integers,
Uuid -> hex, JSON -> text, UtcDateTime -> naive UTC), and PostgreSQL gets psycopg COPY.

    python bench/fleet.py --url sqlite:////tmp/fleet.db --vps 1000 --active 1000
    python bench/fleet.py --url postgresql+psycopg://postgres@127.0.0.1/sigma_bench --replace

Later benchmarks: `from fleet import generate, load` (bench/ on sys.path).
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

# the schema and column types of this checkout, whatever `pip install -e` last pointed at
_SRC = Path(__file__).resolve().parent.parent / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

YEARS = 8
DEFAULT_SEED = 20240601

# country -> (weight, cities); weights follow where such fleets actually are
COUNTRIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "HK": (14, ("Hong Kong",)),
    "JP": (12, ("Tokyo", "Osaka")),
    "US": (14, ("Los Angeles", "San Jose", "Seattle", "New York", "Dallas")),
    "SG": (9, ("Singapore",)),
    "TW": (4, ("Taipei", "Taichung")),
    "KR": (4, ("Seoul", "Chuncheon")),
    "DE": (6, ("Frankfurt", "Nuremberg", "Falkenstein")),
    "NL": (4, ("Amsterdam",)),
    "GB": (4, ("London",)),
    "FR": (2, ("Paris", "Roubaix")),
    "RU": (3, ("Moscow", "Novosibirsk")),
    "CA": (2, ("Toronto", "Montreal")),
    "AU": (2, ("Sydney",)),
    "MY": (2, ("Kuala Lumpur",)),
    "TH": (1, ("Bangkok",)),
    "VN": (1, ("Hanoi", "Ho Chi Minh City")),
    "IN": (1, ("Mumbai",)),
    "TR": (1, ("Istanbul",)),
    "AE": (1, ("Dubai",)),
    "CN": (3, ("Shanghai", "Guangzhou", "Beijing", "Shenzhen")),
}
# currency -> (weight, typical monthly cost range)
CURRENCIES: dict[str, tuple[int, tuple[int, int]]] = {
    "USD": (55, (3, 60)),
    "EUR": (12, (3, 45)),
    "CNY": (12, (20, 400)),
    "HKD": (6, (30, 500)),
    "JPY": (5, (500, 6000)),
    "GBP": (4, (3, 40)),
    "RUB": (3, (200, 3000)),
    "SGD": (3, (5, 80)),
}
PURPOSES = {
    "vpn-exit": 45,
    "vpn-relay": 25,
    "vpn-entry": 15,
    "monitor": 5,
    "management": 3,
    "other": 4,
    "": 3,
}
PROTOCOLS = {
    "vpn-exit": ("wireguard", "xray", "hysteria2", "shadowsocks", "trojan", "openvpn"),
    "vpn-relay": ("xray", "realm", "gost", "haproxy", "wireguard"),
    "vpn-entry": ("xray", "hysteria2", "wireguard", "shadowsocks"),
    "monitor": ("",),
    "management": ("",),
    "other": ("", "wireguard"),
    "": ("",),
}
ROLE = {
    "vpn-exit": "exit",
    "vpn-relay": "relay",
    "vpn-entry": "entry",
    "monitor": "mon",
    "management": "mgmt",
    "other": "misc",
    "": "node",
}
PROJECTS = (
    "p:airport",
    "p:airport",
    "p:airport",
    "p:corp-vpn",
    "p:lab",
    "p:mirror",
    "p:gaming",
    "p:streaming",
    "p:partner-x",
)
TAGS = (
    "cn-optimized",
    "cn2-gia",
    "cmi",
    "as9929",
    "as4837",
    "bgp",
    "iplc",
    "iepl",
    "residential",
    "native-ip",
    "streaming",
    "netflix",
    "disney",
    "chatgpt",
    "unmetered",
    "backup",
    "test",
    "ipv6-only",
    "dual-stack",
    "premium",
    "budget",
    "owner:alice",
    "owner:bob",
    "owner:chen",
    "kvm",
    "lxc",
    "nvme",
    "10g",
    "ddos-protected",
    "anycast",
)
CN_LABELS = ("china-telecom", "china-unicom", "china-mobile")
PROVIDER_WORDS = (
    "Cloud",
    "Host",
    "Net",
    "VPS",
    "Networks",
    "Server",
    "Data",
    "Compute",
    "IDC",
    "Link",
)
PROVIDER_STEMS = (
    "DMIT",
    "Bandwagon",
    "Vultr",
    "Linode",
    "Hetzner",
    "OVH",
    "Contabo",
    "RackNerd",
    "GreenCloud",
    "HostHatch",
    "Kamatera",
    "Aliyun",
    "Tencent",
    "Lightsail",
    "Oracle",
    "CloudCone",
    "V.PS",
    "Misaka",
    "Zgo",
    "Akile",
    "Spartan",
    "BuyVM",
    "Hosthatch",
    "Nube",
    "Sakura",
    "Conoha",
    "Webdock",
    "Hostinger",
    "Aeza",
    "Justhost",
    "Evoxt",
    "LisaHost",
    "Yecao",
    "Hytron",
    "Bage",
    "Kirino",
    "Pacific",
    "Colo",
    "Tokyo",
    "Osaka",
    "Kowloon",
    "Lantau",
    "Harbor",
    "Dragon",
    "Phoenix",
    "Lotus",
)
# public-looking IPv4 /8s and IPv6 /16s (no RFC 1918, no documentation ranges)
V4_FIRST = (
    23,
    38,
    43,
    45,
    64,
    66,
    91,
    95,
    103,
    104,
    107,
    109,
    128,
    138,
    139,
    141,
    144,
    146,
    149,
    154,
    156,
    157,
    158,
    163,
    167,
    172,
    178,
    185,
    188,
    193,
    194,
    195,
    202,
    203,
    205,
    207,
)
V6_FIRST = (
    0x2001,
    0x2400,
    0x2402,
    0x2403,
    0x2404,
    0x2406,
    0x240B,
    0x2602,
    0x2605,
    0x2607,
    0x2620,
    0x2A01,
    0x2A02,
    0x2A03,
    0x2A05,
    0x2A06,
    0x2A0E,
    0x2A10,
    0x2A12,
    0x2A14,
)

JSON_COLUMNS = {"ip_addresses", "tags", "extra"}


@dataclass
class Fleet:
    providers: list[dict[str, Any]] = field(default_factory=list)
    vps: list[dict[str, Any]] = field(default_factory=list)
    today: date = field(default_factory=date.today)
    seed: int = DEFAULT_SEED

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.vps:
            out[v["status"]] = out.get(v["status"], 0) + 1
        return out


class Rng(random.Random):
    """random.Random with cheaper (still deterministic) choice/randrange/randint: the
    stdlib versions draw rejection-sampled bits, 5x slower, which matters at 100,000 rows."""

    def choice(self, seq):  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randrange(self, start, stop=None):  # type: ignore[override]
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))

    def randint(self, a, b):  # type: ignore[override]
        return a + int(self.random() * (b - a + 1))


def _cum(weights) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """A price as providers write them: 4.99, 15.00, 1280.00 ..."""
    whole = rng.randint(low, high)
    cents = rng.choice((0, 0, 0, 50, 99, 95, 90, 49))
    if high > 400:  # JPY, RUB...: whole units
        whole, cents = (whole // 10) * 10, 0
    return Decimal(f"{whole}.{cents:02d}")


def _dt(d: date, rng: random.Random) -> datetime:
    return datetime.combine(d, dtime(rng.randrange(24), rng.randrange(60), rng.randrange(60)), UTC)


def _providers(rng: random.Random, n: int, start: date) -> list[dict[str, Any]]:
    names: set[str] = set()
    rows = []
    countries = list(COUNTRIES)
    weights = [w for w, _ in COUNTRIES.values()]
    while len(rows) < n:
        stem = rng.choice(PROVIDER_STEMS)
        name = stem if stem not in names else f"{stem} {rng.choice(PROVIDER_WORDS)}"
        if name in names:
            continue
        names.add(name)
        slug = name.lower().replace(" ", "").replace(".", "")
        created = _dt(start + timedelta(days=rng.randrange(365 * 2)), rng)
        rows.append(
            {
                "id": _uuid(rng),
                "name": name,
                "country": rng.choices(countries, weights)[0],
                "website": f"https://www.{slug}.com",
                "panel_url": f"https://my.{slug}.com/clientarea.php" if rng.random() < 0.8 else "",
                "api_supported": rng.random() < 0.35,
                "rating": rng.choice((None, 2, 3, 3, 4, 4, 4, 5)),
                "notes": rng.choice(
                    (
                        "",
                        "",
                        "",
                        "ticket replies in ~1h",
                        "pays by Alipay",
                        "CN2 GIA on the HK plans",
                        "abuse-tolerant",
                    )
                ),
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def _ipv4(rng: random.Random) -> str:
    return f"{rng.choice(V4_FIRST)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"


def _ipv6(rng: random.Random) -> str:
    # provider /32 or so, a /48 per customer, a /64 per VPS, a short interface id
    prefix = rng.choice(V6_FIRST) << 112 | rng.getrandbits(32) << 80 | rng.randrange(0x100) << 64
    return str(ipaddress.IPv6Address(prefix | rng.randint(1, 0xFFFF)))


def _ips(rng: random.Random, purpose: str, country: str) -> list[dict[str, str]]:
    cn_facing = purpose in ("vpn-entry", "vpn-relay") or country in ("HK", "CN")
    out: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(ip: str, label: str) -> None:
        if ip not in seen:
            seen.add(ip)
            out.append({"ip": ip, "label": label})

    if rng.random() < 0.04:  # IPv6-only box
        add(_ipv6(rng), "overseas")
        return out
    main_label = rng.choice(CN_LABELS) if cn_facing and rng.random() < 0.8 else "overseas"
    if country == "CN" and rng.random() < 0.05:
        main_label = "china-cernet"
    add(_ipv4(rng), main_label)
    if cn_facing and rng.random() < 0.3:  # a second line from another carrier
        add(_ipv4(rng), rng.choice(CN_LABELS))
    if rng.random() < 0.45:
        add(_ipv6(rng), rng.choice(("overseas", "overseas", "", main_label)))
    if rng.random() < 0.12:
        add(f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}", "internal")
    if rng.random() < 0.01:
        add(_ipv4(rng), "anycast")
    if rng.random() < 0.03:  # unlabelled, as people forget
        out[-1]["label"] = ""
    return out


def generate(
    n_vps: int = 100_000,
    n_active: int = 10_000,
    *,
    n_providers: int = 60,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
) -> Fleet:
    """The rows of a fleet, as dicts keyed by column name with Python values."""
    if not 0 <= n_active <= n_vps:
        raise ValueError("need 0 <= active <= vps")
    # 100,000 rows of nested dicts and lists: the cyclic GC would rescan them again and again
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(n_vps, n_active, n_providers, seed, today)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(n_vps: int, n_active: int, n_providers: int, seed: int, today: date | None) -> Fleet:
    today = today or date.today()
    rng = Rng(seed)
    start = today - timedelta(days=365 * YEARS)
    providers = _providers(rng, n_providers, start)
    # a few big providers carry most of the fleet
    p_weights = _cum(1.0 / (i + 1) ** 0.8 for i in range(len(providers)))
    countries = list(COUNTRIES)
    c_weights = _cum(w for w, _ in COUNTRIES.values())
    currencies = list(CURRENCIES)
    cur_weights = _cum(w for w, _ in CURRENCIES.values())
    purposes = list(PURPOSES)
    pur_weights = _cum(PURPOSES.values())
    months_choices = (1, 1, 1, 1, 1, 1, 2, 3, 12)
    notes_choices = ("",) * 12 + (
        "renew manually",
        "IP blocked once, replaced",
        "slow to CM at night",
        "reseller plan",
    )
    # hostnames are reused after retirement: a pool a bit larger than the live fleet
    host_pool = max(n_active * 3 // 2, 100)

    n_past = n_vps - n_active
    # non-active VPS that are still around: a few retiring, suspended, provisioning
    n_recent_other = min(n_past, max(0, n_active // 50))
    rows: list[dict[str, Any]] = []
    live_numbers = (
        rng.sample(range(host_pool), n_active) if n_active <= host_pool else range(n_active)
    )
    span = (today - start).days - 45
    for i in range(n_vps):
        if i < n_active:
            status = "active"
            # renewed monthly: expiring over the coming month, ~1% a few days overdue
            ahead = rng.randint(0, 29) if rng.random() >= 0.01 else -rng.randint(1, 3)
            purchase = today + timedelta(days=ahead - rng.randint(30, 31))
            number = live_numbers[i]
        elif i < n_active + n_recent_other:
            status = rng.choice(("retiring", "retiring", "suspended", "provisioning"))
            purchase = today - timedelta(days=rng.randrange(0, 40))
            number = rng.randrange(host_pool)
        else:
            status = "retired"
            # growth: density ~ t^2 over the 8 years (sqrt of a uniform draw)
            purchase = start + timedelta(days=int(span * rng.random() ** 0.5))
            number = rng.randrange(host_pool)
        if status == "active":
            expire = today + timedelta(days=ahead)
        else:
            months = rng.choice(months_choices) if status == "retired" else 1
            expire = purchase + timedelta(days=rng.randint(28, 31) * months)
        provider = rng.choices(providers, cum_weights=p_weights)[0]
        country = (
            provider["country"]
            if rng.random() < 0.6
            else rng.choices(countries, cum_weights=c_weights)[0]
        )
        city = rng.choice(COUNTRIES[country][1])
        purpose = rng.choices(purposes, cum_weights=pur_weights)[0]
        currency = "CNY" if country == "CN" else rng.choices(currencies, cum_weights=cur_weights)[0]
        lo, hi = CURRENCIES[currency][1]
        tags = rng.sample(TAGS, rng.choice((0, 1, 1, 2, 2, 3, 4)))
        if purpose and rng.random() < 0.7:
            tags.insert(0, rng.choice(PROJECTS))
        created = _dt(purchase, rng)
        updated = created if status in ("active", "provisioning") else _dt(min(expire, today), rng)
        extra: dict[str, Any] = {}
        if rng.random() < 0.5:
            extra["order_id"] = str(rng.randrange(10**6, 10**8))
        if rng.random() < 0.15:
            extra["asn"] = rng.choice((4809, 4837, 9929, 58453, 23764, 906, 25820, 3258, 174))
        if status == "retired":
            extra["retired_at"] = updated.isoformat()
        rows.append(
            {
                "id": _uuid(rng),
                "hostname": f"{country.lower()}-{ROLE[purpose]}-{number:05d}",
                "alias": rng.choice(
                    ("", "", "", f"{city.split()[0].lower()}-{rng.randrange(100)}")
                ),
                "provider_id": provider["id"] if rng.random() < 0.97 else None,
                "ip_addresses": _ips(rng, purpose, country),
                "ssh_port": 22 if rng.random() < 0.6 else rng.randint(1024, 65000),
                "country": country,
                "city": city,
                "dc_name": rng.choice(
                    (
                        "",
                        "",
                        f"{city.split()[0][:3].upper()}{rng.randint(1, 9)}",
                        "Equinix",
                        "Cogent",
                        "Digital Realty",
                    )
                ),
                "cpu_cores": rng.choice((1, 1, 1, 2, 2, 4, 8)),
                "ram_mb": rng.choice((512, 1024, 1024, 2048, 2048, 4096, 8192)),
                "disk_gb": rng.choice((10, 15, 20, 25, 40, 50, 80, 160)),
                "bandwidth_tb": rng.choice(
                    (
                        None,
                        Decimal("0.50"),
                        Decimal("1.00"),
                        Decimal("2.00"),
                        Decimal("2.50"),
                        Decimal("5.00"),
                        Decimal("10.00"),
                    )
                ),
                "cost_monthly": _money(rng, lo, hi) if rng.random() < 0.97 else None,
                "currency": currency,
                "status": status,
                "purchase_date": purchase,
                "expire_date": expire,
                "purpose": purpose,
                "vpn_protocol": rng.choice(PROTOCOLS[purpose]),
                "tags": tags,
                "monitoring_enabled": status in ("active", "provisioning", "retiring"),
                "node_exporter_port": 9100
                if rng.random() < 0.9
                else rng.choice((9101, 19100, 39100)),
                "extra": extra,
                "notes": rng.choice(notes_choices),
                "created_at": created,
                "updated_at": updated,
            }
        )
    return Fleet(providers=providers, vps=rows, today=today, seed=seed)


# ---------------------------------------------------------------------------- loading


@dataclass
class LoadStats:
    url: str
    providers: int
    vps: int
    generate_s: float
    schema_s: float
    load_s: float

    @property
    def rows_per_s(self) -> float:
        return (self.providers + self.vps) / self.load_s if self.load_s else float("inf")


def ensure_fleet(
    url: str, n_vps: int, n_active: int, *, reuse: bool = False, label: str = ""
) -> None:
    """The benchmarks' database: create it (PostgreSQL), then load a fresh fleet, or keep the
    one already there when `reuse` and it holds `n_vps` VPS."""
    label = label or url.split(":", 1)[0]
    if url.startswith("postgresql"):
        _ensure_pg_database(url)
    if reuse and _vps_count(url) == n_vps:
        print(f"{label}: reusing the {n_vps} VPS already loaded")
        return
    t0 = time.perf_counter()
    build(url, n_vps, n_active, replace=True)
    print(f"{label}: loaded {n_vps} VPS ({n_active} active) in {time.perf_counter() - t0:.1f} s")


def _ensure_pg_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    admin = base.replace("+psycopg", "") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _vps_count(url: str) -> int | None:
    from sqlalchemy import text

    from sigma.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM vps")).scalar()
    except Exception:  # noqa: BLE001 - no database, no table
        return None
    finally:
        engine.dispose()


def _tables_to_clear() -> list[str]:
    """vps, providers, audit_logs and every table that points at them, children first."""
    from sigma.db.tables import metadata

    wanted = {"vps", "providers", "audit_logs"}
    grew = True
    while grew:
        grew = False
        for t in metadata.sorted_tables:
            if t.name not in wanted and any(
                fk.column.table.name in wanted for fk in t.foreign_keys
            ):
                wanted.add(t.name)
                grew = True
    return [t.name for t in reversed(metadata.sorted_tables) if t.name in wanted]


def _clear_sql(dialect: str) -> list[str]:
    tables = _tables_to_clear()
    if dialect == "postgresql":
        return [f"TRUNCATE {', '.join(tables)} CASCADE"]
    return [f"DELETE FROM {t}" for t in tables]


COUNT_SQL = "SELECT (SELECT count(*) FROM vps) + (SELECT count(*) FROM providers)"


def _plan(table, rows: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """(column, value when the row has none): the generated fields, plus the columns that the
    models fill with a Python-side scalar default (e.g. `version`), which a raw INSERT or COPY
    would otherwise leave to the database (NULL)."""
    sample = rows[0] if rows else {}
    plan = []
    for c in table.c:
        if c.name in sample:
            plan.append((c, None))
        elif c.default is not None and c.default.is_scalar:
            plan.append((c, c.default.arg))
    return plan


def _load_sqlite(engine, fleet: Fleet, replace: bool) -> None:
    """SQLite: one transaction; the vps indexes are dropped and rebuilt around one executemany
    (building an index once is ~3x cheaper than maintaining it per row). The values go through
    the column types' own bind processors (`type.dialect_impl(dialect).bind_processor`), i.e.
    exactly what `conn.execute(insert(table), rows)` would store, without its per-row
    overhead: ExactDecimal -> scaled integer, Uuid -> hex, JSON -> text, dates -> ISO text."""
    from sqlalchemy import insert

    from sigma.db.models.core import Provider, Vps

    dialect = engine.dialect
    with engine.begin() as conn:
        if replace:
            for sql in _clear_sql(dialect.name):
                conn.exec_driver_sql(sql)
        elif conn.exec_driver_sql(COUNT_SQL).scalar():
            raise SystemExit(f"{engine.url!r} already holds providers or VPS: pass --replace")
        conn.execute(insert(Provider.__table__), fleet.providers)  # 60 rows: the plain way
        indexes = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'vps' AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        plan = [
            (c.name, default, c.type.dialect_impl(dialect).bind_processor(dialect))
            for c, default in _plan(Vps.__table__, fleet.vps)
        ]
        params = [
            tuple(
                row.get(name, default) if p is None else p(row.get(name, default))
                for name, default, p in plan
            )
            for row in fleet.vps
        ]
        names = [name for name, _, _ in plan]
        sql = f"INSERT INTO vps ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.executemany(sql, params)
        cursor.close()
        for _, ddl in indexes:
            conn.exec_driver_sql(ddl)


def _copy_value(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS:
        return json.dumps(value, separators=(",", ":"))
    return value


def _load_copy(engine, fleet: Fleet, replace: bool) -> None:
    """PostgreSQL: COPY ... FROM STDIN over the psycopg connection, one transaction."""
    from sigma.db.models.core import Provider, Vps

    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        with pg.cursor() as cur:
            if replace:
                for sql in _clear_sql("postgresql"):
                    cur.execute(sql)
            else:
                cur.execute(COUNT_SQL)
                if cur.fetchone()[0]:
                    raise SystemExit(
                        f"{engine.url!r} already holds providers or VPS: pass --replace"
                    )
            for table, rows in ((Provider.__table__, fleet.providers), (Vps.__table__, fleet.vps)):
                plan = [(c.name, default) for c, default in _plan(table, rows)]
                names = ", ".join(name for name, _ in plan)
                with cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(tuple(_copy_value(n, row.get(n, d)) for n, d in plan))
            cur.execute("ANALYZE providers; ANALYZE vps")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def load(url: str, fleet: Fleet, *, replace: bool = False) -> LoadStats:
    """Create/upgrade the schema at `url` with sigma's migrations, then bulk-load `fleet`."""
    from sigma.db.engine import make_engine, upgrade

    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        upgrade(engine)
        t1 = time.perf_counter()
        if engine.dialect.name == "postgresql":
            _load_copy(engine, fleet, replace)
        else:
            _load_sqlite(engine, fleet, replace)
        t2 = time.perf_counter()
    finally:
        engine.dispose()
    return LoadStats(
        url=engine.url.render_as_string(hide_password=True),
        providers=len(fleet.providers),
        vps=len(fleet.vps),
        generate_s=0.0,
        schema_s=t1 - t0,
        load_s=t2 - t1,
    )


def build(
    url: str,
    n_vps: int,
    n_active: int,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    replace: bool = False,
) -> LoadStats:
    """generate() + load(), timing both."""
    t0 = time.perf_counter()
    fleet = generate(n_vps, n_active, seed=seed, today=today)
    gen = time.perf_counter() - t0
    stats = load(url, fleet, replace=replace)
    stats.generate_s = gen
    return stats


# ---------------------------------------------------------------------------- monitoring

# the probe sources of the monitoring data: three carriers inside China, three controls
SOURCES = ("cn-ct", "cn-cu", "cn-cm", "hk", "jp", "us")
MONITOR_TYPES = ("icmp", "tcp")
# the share of (VPS, IP) pairs of each verdict-making scenario (the rest: ok)
SCENARIOS = (("degraded", 0.06), ("blocked", 0.04), ("down", 0.02), ("unknown", 0.02))
TICKET_TITLES = ("route loss", "renewal", "blocked IP", "slow CM at night", "disk full")


@dataclass
class MonitoringStats:
    pairs: int
    checks: int
    verdicts: dict[str, int]
    tickets: int
    load_s: float


def _iso(dt: datetime) -> str:
    # the reachability state's timestamps: fixed width (services.ip_checks._iso)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _state(rng: random.Random, scenario: str, now: datetime) -> dict[str, Any]:
    """Per source and check type, the latest result and its streaks, as the reachability
    row keeps them (services.ip_checks._advance)."""
    state: dict[str, Any] = {}
    broken = rng.choice(SOURCES[:3])
    for source in SOURCES:
        china = source.startswith("cn")
        age = timedelta(hours=2) if scenario == "unknown" else timedelta(seconds=rng.randrange(300))
        at = _iso(now - age)
        types = {}
        for t in MONITOR_TYPES:
            ok = not (
                scenario == "down"
                or (scenario == "blocked" and china)
                or (scenario == "degraded" and source == broken and t == "tcp")
            )
            streak = rng.randint(3, 40)
            types[t] = {
                "ok": ok,
                "fails": 0 if ok else streak,
                "oks": streak if ok else 0,
                "at": at,
                "latency_ms": rng.randint(20, 320) if ok else None,
            }
        state[source] = types
    return state


def monitoring_rows(
    vps: list[tuple[Any, list[dict[str, str]]]],
    n_ips: int,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(reachability rows, ip_checks rows) for the first `n_ips` addresses of `vps` ((id,
    ip_addresses) pairs): every address checked by every source with every check
    type, the verdicts computed by the server's own rule (services.verdicts.decide)."""
    from sigma.services.verdicts import decide

    now = now or datetime.now(UTC)
    rng = Rng(seed + 1)
    reach: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for vps_id, ips in vps:
        for entry in ips or []:
            if len(reach) >= n_ips:
                return reach, checks
            draw, scenario = rng.random(), "ok"
            for name, share in SCENARIOS:
                if draw < share:
                    scenario = name
                    break
                draw -= share
            state = _state(rng, scenario, now)
            verdict = decide(state, {}, now)[0].verdict
            reach.append(
                {
                    "vps_id": vps_id,
                    "ip": entry["ip"],
                    "label": entry.get("label", ""),
                    "verdict": verdict,
                    "since": now - timedelta(minutes=rng.randrange(60 * 24 * 7)),
                    "state": state,
                    "updated_at": now,
                }
            )
            for source, types in state.items():
                for t, st in types.items():
                    checks.append(
                        {
                            "id": _uuid(rng),
                            "vps_id": vps_id,
                            "ip": entry["ip"],
                            "check_type": t,
                            "source": source,
                            "success": st["ok"],
                            "latency_ms": st["latency_ms"],
                            "checked_at": datetime.fromisoformat(st["at"]),
                        }
                    )
    return reach, checks


def _insert_rows(engine, table, rows: list[dict[str, Any]], json_columns=()) -> None:
    """Bulk insert: COPY on PostgreSQL; one executemany through the column types' bind
    processors on SQLite (as _load_sqlite)."""
    if not rows:
        return
    names = list(rows[0])
    if engine.dialect.name == "postgresql":

        def value(r: dict[str, Any], n: str) -> Any:
            return json.dumps(r[n], separators=(",", ":")) if n in json_columns else r[n]

        raw = engine.raw_connection()
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        try:
            with raw.driver_connection.cursor() as cur, cur.copy(sql) as copy:
                for r in rows:
                    copy.write_row(tuple(value(r, n) for n in names))
            raw.commit()
        finally:
            raw.close()
        return
    dialect = engine.dialect
    plan = [(n, table.c[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names]
    params = [tuple(r[n] if p is None else p(r[n]) for n, p in plan) for r in rows]
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    with engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.executemany(sql, params)
        cursor.close()


def stamp_heartbeats(url: str, offline_share: float = 0.03, seed: int = DEFAULT_SEED) -> int:
    """Give every active VPS an agent that reported just now, but `offline_share` of them
    (deterministically chosen), silent for a day. Run before each measurement: `now` moves."""
    from sqlalchemy import bindparam, select, update

    from sigma.db.engine import make_engine
    from sigma.db.models.core import Vps

    now = datetime.now(UTC)
    engine = make_engine(url)
    rng = Rng(seed + 2)
    offline = 0
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                select(Vps.id, Vps.extra).where(Vps.status == "active").order_by(Vps.id)
            ).all()
            values = []
            for vps_id, extra in rows:
                silent = rng.random() < offline_share
                offline += silent
                beat = now - (timedelta(days=1) if silent else timedelta(seconds=rng.randrange(60)))
                extra = {**(extra or {}), "last_heartbeat": beat.isoformat()}
                values.append({"key": vps_id, "extra": extra})
            table = Vps.__table__
            key, new = bindparam("key"), bindparam("extra")
            conn.execute(update(table).where(table.c.id == key).values(extra=new), values)
    finally:
        engine.dispose()
    return offline


def ensure_monitoring(
    url: str,
    n_ips: int = 20_000,
    *,
    created_by: Any,
    reuse: bool = False,
    seed: int = DEFAULT_SEED,
    label: str = "",
) -> None:
    """The monitoring side of a loaded fleet: reachability verdicts and the latest checks of
    `n_ips` addresses (the active VPS's first) from the SOURCES, and a few hundred tickets
    (created by `created_by`, a user id). Kept when `reuse` and the database holds `n_ips`
    verdicts."""
    from sqlalchemy import delete, func, select

    from sigma.db.engine import make_engine, upgrade
    from sigma.db.models.core import Vps
    from sigma.db.models.monitoring import IpCheck, Reachability
    from sigma.db.models.tickets import Ticket

    label = label or url.split(":", 1)[0]
    engine = make_engine(url)
    try:
        upgrade(engine)  # a reused fleet gets the migrations of this checkout too
        with engine.connect() as conn:
            have = conn.execute(select(func.count()).select_from(Reachability)).scalar()
        if reuse and have == n_ips:
            print(f"{label}: reusing the {n_ips} IP verdicts already loaded")
            return
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for model in (IpCheck, Reachability, Ticket):
                conn.execute(delete(model))
            # the active fleet's addresses first (~17,000 for 10,000 active VPS), then those
            # of the most recently bought other VPS: verdicts outlive a retirement
            vps = conn.execute(
                select(Vps.id, Vps.ip_addresses).where(Vps.status == "active").order_by(Vps.id)
            ).all()
            vps += conn.execute(
                select(Vps.id, Vps.ip_addresses)
                .where(Vps.status != "active")
                .order_by(Vps.purchase_date.desc(), Vps.id)
                .limit(n_ips)
            ).all()
        reach, checks = monitoring_rows([(r[0], r[1]) for r in vps], n_ips, seed=seed)
        _insert_rows(engine, Reachability.__table__, reach, json_columns=("state",))
        _insert_rows(engine, IpCheck.__table__, checks)
        rng = Rng(seed + 3)
        now = datetime.now(UTC)
        tickets = []
        for i in range(500):
            created = now - timedelta(hours=rng.randrange(24 * 365))
            vps_id = rng.choice(vps)[0] if vps and rng.random() < 0.8 else None
            tickets.append(
                {
                    "id": _uuid(rng),
                    "title": f"ticket {i}: {rng.choice(TICKET_TITLES)}",
                    "description": "",
                    "status": rng.choice(("open",) + ("resolved", "closed") * 4 + ("in-progress",)),
                    "priority": rng.choice(("low", "medium", "medium", "high", "critical")),
                    "vps_id": vps_id,
                    "provider_id": None,
                    "created_by": created_by,
                    "assigned_to": None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        _insert_rows(engine, Ticket.__table__, tickets)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE reachability; ANALYZE ip_checks; ANALYZE tickets")
        verdicts: dict[str, int] = {}
        for r in reach:
            verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
        shares = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
        print(
            f"{label}: loaded {len(reach)} IP verdicts ({shares}), "
            f"{len(checks)} checks from {len(SOURCES)} sources, {len(tickets)} tickets "
            f"in {time.perf_counter() - t0:.1f} s"
        )
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--url", required=True, help="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://..."
    )
    ap.add_argument(
        "--vps", type=int, default=100_000, help="VPS over the 8 years (default 100,000)"
    )
    ap.add_argument(
        "--active", type=int, default=10_000, help="of which active today (default 10,000)"
    )
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument(
        "--today", type=date.fromisoformat, default=None, help="reference date (default: today)"
    )
    ap.add_argument("--replace", action="store_true", help="empty the tables first")
    args = ap.parse_args(argv)
    stats = build(
        args.url,
        args.vps,
        min(args.active, args.vps),
        seed=args.seed,
        today=args.today,
        replace=args.replace,
    )
    print(
        f"{stats.url}: {stats.vps:,} VPS + {stats.providers} providers"
        f" | generate {stats.generate_s:.2f} s"
        f" | schema {stats.schema_s:.2f} s | load {stats.load_s:.2f} s"
        f" = {stats.rows_per_s:,.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
