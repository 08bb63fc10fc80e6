"""A small fleet seeded through the services, covering every selection rule of the exports."""

from __future__ import annotations

from datetime import date, timedelta

TODAY = date.today()


def seed_fleet(run) -> dict:
    """Two providers and six VPS covering every selection rule of the exports."""
    from sigma.services import providers, vps

    dmit = run(providers.create, {"name": "DMIT", "country": "US"})
    bwg = run(providers.create, {"name": "Band Wagon", "country": "US"})
    made = {}
    for spec in [
        dict(
            hostname="hk-exit-01",
            provider_id=dmit.id,
            alias="HK Exit 1",
            country="HK",
            city="Hong Kong",
            dc_name="MEGA-i",
            status="active",
            purpose="vpn-exit",
            vpn_protocol="wireguard",
            tags=["cn-optimized", "p:airport"],
            cpu_cores=2,
            ram_mb=2048,
            disk_gb=40,
            ip_addresses=[
                {"ip": "10.0.0.5", "label": "internal"},
                {"ip": "103.1.2.3", "label": "china-telecom"},
                {"ip": "2001:db8::5", "label": "overseas"},
            ],
            expire_date=TODAY + timedelta(days=5),
            cost_monthly="15.99",
        ),
        dict(
            hostname="jp-relay-02",
            provider_id=bwg.id,
            country="JP",
            status="provisioning",
            purpose="vpn-relay",
            ip_addresses=[{"ip": "2001:db8::2", "label": "overseas"}],
            node_exporter_port=9101,
            ssh_port=2222,
        ),
        dict(
            hostname="sg-internal",
            country="SG",
            status="active",
            ip_addresses=[{"ip": "10.1.1.1", "label": "internal"}],
        ),
        dict(
            hostname="de-unmonitored",
            country="DE",
            status="active",
            monitoring_enabled=False,
            ip_addresses=[{"ip": "192.0.2.7"}],
        ),
        dict(hostname="us-noip", country="US", status="active"),
        dict(
            hostname="old-retired",
            country="HK",
            status="retired",
            ip_addresses=[{"ip": "192.0.2.9"}],
        ),
    ]:
        made[spec["hostname"]] = run(vps.create, spec)
    return {"dmit": dmit, "bwg": bwg, **made}
