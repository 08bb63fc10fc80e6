"""The tables, one module per area, each imported by name
(`from sigma.db.models.core import Vps`): core (providers, VPS, the audit log), identity (users,
API keys), tickets, costs (exchange rates), notify (the notification log), monitoring (IP
checks, reachability, VPS events), jobs (the leases of the periodic jobs), lifecycle (renewals,
traffic per billing period), history (each VPS's timeline, which VPS held which address when),
attention (acknowledged and snoozed attention items), accounts (provider and DNS accounts,
what their syncs saw).

sigma.db.tables imports them all, for whoever needs the whole schema (the migrations, the
autogenerate check, the tests' cleanup).
"""
