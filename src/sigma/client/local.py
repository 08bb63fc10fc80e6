"""LocalBackend: the service layer called directly against the configured database."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sigma.db.engine import ensure_schema, make_engine, session_factory, unit_of_work
from sigma.schemas.inventory import VpsFilter
from sigma.services import audit, providers, vps
from sigma.services.actor import Actor, local_actor
from sigma.settings import Settings, redact_url

if TYPE_CHECKING:
    from sigma.schemas.accounts import (
        Account,
        AccountCreate,
        AccountKind,
        AccountUpdate,
        DnsFilter,
        DnsRecord,
        DnsZone,
        SyncReport,
    )
    from sigma.schemas.attention import AttentionAck, AttentionPage
    from sigma.schemas.common import Page
    from sigma.schemas.costs import (
        CostQuery,
        CostSummary,
        ExchangeRate,
        ExchangeRateCreate,
        MonthlyCosts,
    )
    from sigma.schemas.history import (
        DuplicatePair,
        HistoryEvent,
        HistoryFilter,
        IpHistoryQuery,
        IpHolding,
        MergeRequest,
        MergeResult,
        PurgedVps,
        TrashedVps,
    )
    from sigma.schemas.identity import (
        ApiKey,
        ApiKeyCreate,
        ApiKeyCreated,
        AuditEntry,
        AuditFilter,
        ChangePassword,
        TotpSetup,
        TotpState,
        User,
        UserCreate,
        UserUpdate,
    )
    from sigma.schemas.inventory import (
        Provider,
        ProviderCreate,
        ProviderUpdate,
        Vps,
        VpsCreate,
        VpsUpdate,
    )
    from sigma.schemas.lifecycle import (
        RenewResult,
        ReplaceRequest,
        ReplaceResult,
        UpcomingRenewals,
    )
    from sigma.schemas.monitoring import (
        CheckHistory,
        CheckHistoryQuery,
        FleetHistory,
        FleetHistoryQuery,
        IpCheck,
        IpCheckCreate,
        IpCheckFilter,
        IpCheckSummary,
        ProbeStatus,
        PurgeResult,
        ReachabilityStatus,
        ReachAlertOut,
        ReachThresholds,
        ReachThresholdsIn,
        VpsEvent,
    )
    from sigma.schemas.notify import NoticeLogEntry, NotifyReport, NotifyTestResult
    from sigma.schemas.stats import Stats
    from sigma.schemas.tickets import (
        Ticket,
        TicketComment,
        TicketCreate,
        TicketFilter,
        TicketUpdate,
    )
    from sigma.schemas.transfer import ImportReport

T = TypeVar("T")


class LocalBackend:
    def __init__(self, settings: Settings, actor: Actor | None = None):
        url = settings.effective_database_url
        self.where = f"local {redact_url(url)}"
        self.engine = make_engine(url, pooler=settings.database_pooler)
        # the embedded SQLite follows the installed sigma by itself; PostgreSQL is upgraded
        # on purpose (`sigma db upgrade` or `sigma serve`), since several hosts share it
        ensure_schema(self.engine, auto_upgrade=url.startswith("sqlite"))
        self.sessions = session_factory(self.engine, **settings.session_info())
        self.actor = actor or local_actor()
        self.settings = settings  # the notification channels

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        with unit_of_work(self.sessions) as session:
            return fn(session, self.actor, *args)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """A service call that only reads, in one statement: no BEGIN/COMMIT."""
        with unit_of_work(self.sessions, read_only=True) as session:
            return fn(session, self.actor, *args)

    # providers
    def list_providers(self, page: int = 1, per_page: int = 25) -> Page[Provider]:
        return self._run(providers.list_providers, page, per_page)

    def all_providers(self) -> list[Provider]:
        return self._run(providers.all_providers)

    def get_provider(self, ref: Any) -> Provider:
        return self._run(providers.get, ref)

    def create_provider(self, data: ProviderCreate) -> Provider:
        return self._run(providers.create, data)

    def update_provider(self, ref: Any, data: ProviderUpdate) -> Provider:
        return self._run(providers.update, ref, data)

    def delete_provider(self, ref: Any) -> Provider:
        return self._run(providers.delete, ref)

    # VPS
    def vps_rows(self, query: dict[str, Any], all_pages: bool = False) -> dict[str, Any]:
        from sigma.schemas.common import validate

        f = validate(VpsFilter, query)
        if all_pages:
            rows = [v.model_dump(mode="json") for v in self._read(vps.all_vps, f)]
            return {"data": rows, "total": len(rows), "page": 1, "per_page": len(rows)}
        return self._read(vps.list_vps, f).model_dump(mode="json")

    def list_vps(self, f: VpsFilter) -> Page[Vps]:
        return self._read(vps.list_vps, f)

    def all_vps(self, f: VpsFilter) -> list[Vps]:
        return self._read(vps.all_vps, f)

    def get_vps(self, ref: Any) -> Vps:
        return self._run(vps.get, ref)

    def create_vps(self, data: VpsCreate) -> Vps:
        return self._run(vps.create, data)

    def update_vps(self, ref: Any, data: VpsUpdate, if_match: int | None = None) -> Vps:
        return self._run(vps.update, ref, data, if_match)

    def delete_vps(self, ref: Any) -> Vps:
        return self._run(vps.delete, ref)

    def retire_vps(self, ref: Any) -> Vps:
        return self._run(vps.retire, ref)

    # history, duplicates, merge and the trash
    def vps_history(self, ref: Any, f: HistoryFilter) -> Page[HistoryEvent]:
        from sigma.services import history

        return self._read(history.timeline, ref, f)

    def ip_history(self, q: IpHistoryQuery) -> Page[IpHolding]:
        from sigma.services import history

        return self._read(history.ip_history, q)

    def vps_duplicates(self, page: int = 1, per_page: int = 25) -> Page[DuplicatePair]:
        from sigma.services import merge

        return self._read(merge.duplicates, page, per_page)

    def merge_vps(self, data: MergeRequest) -> MergeResult:
        from sigma.services import merge

        return self._run(merge.merge, data)

    def list_trash(self, page: int = 1, per_page: int = 25) -> Page[TrashedVps]:
        from sigma.services import trash

        return self._read(trash.list_trash, page, per_page, self.settings.trash_retention_days)

    def restore_vps(self, ref: Any) -> Vps:
        from sigma.services import trash

        return self._run(trash.restore, ref)

    def purge_vps(self, ref: Any) -> PurgedVps:
        from sigma.services import trash

        return self._run(trash.purge, ref)

    # renewals and replacement
    def renew_vps(self, ref: Any, cycles: int = 1) -> RenewResult:
        from sigma.services import billing

        return self._run(billing.renew, ref, {"cycles": cycles})

    def upcoming_renewals(self, within_days: int = 7) -> UpcomingRenewals:
        from sigma.services import billing

        return self._read(billing.upcoming, within_days)

    def replace_vps(self, ref: Any, data: ReplaceRequest) -> ReplaceResult:
        from sigma.services import replacement

        return self._run(replacement.replace, ref, data)

    def close(self) -> None:
        self.engine.dispose()

    # identity (the local operator acts as an admin with no user account); the auth and users
    # services are imported here, not at the top: `vps list` needs neither (nor their schemas)
    def me(self) -> User:
        from sigma.services import auth

        return self._run(auth.me)

    def change_password(self, data: ChangePassword) -> User:
        from sigma.services import auth

        return self._run(auth.change_password, data)

    def totp_setup(self) -> TotpSetup:
        from sigma.services import auth

        return self._run(auth.totp_setup)

    def totp_verify(self, code: str) -> TotpState:
        from sigma.services import auth

        return self._run(auth.totp_verify, code)

    def totp_disable(self, code: str) -> TotpState:
        from sigma.services import auth

        return self._run(auth.totp_disable, code)

    def list_users(self, role: str | None = None, page: int = 1, per_page: int = 25) -> Page[User]:
        from sigma.services import users

        return self._run(users.list_users, role, page, per_page)

    def get_user(self, ref: Any) -> User:
        from sigma.services import users

        return self._run(users.get, ref)

    def create_user(self, data: UserCreate) -> User:
        from sigma.services import users

        return self._run(users.create, data)

    def update_user(self, ref: Any, data: UserUpdate) -> User:
        from sigma.services import users

        return self._run(users.update, ref, data)

    def delete_user(self, ref: Any) -> User:
        from sigma.services import users

        return self._run(users.delete, ref)

    def create_api_key(self, data: ApiKeyCreate, user: Any = None) -> ApiKeyCreated:
        from sigma.services import auth

        return self._run(auth.create_api_key, data, user)

    def list_api_keys(self, all_users: bool = False) -> list[ApiKey]:
        from sigma.services import auth

        return self._run(auth.list_api_keys, all_users or self.actor.user_id is None)

    def revoke_api_key(self, ref: Any) -> ApiKey:
        from sigma.services import auth

        return self._run(auth.revoke_api_key, ref)

    def logout_all(self) -> User:
        from sigma.errors import InvalidInput

        raise InvalidInput(
            "the local database has no sessions to sign out; `sigma logout --all` is for a server"
        )

    def provision_agent_key(self, vps: Any, name: str | None = None) -> ApiKeyCreated:
        from sigma.services import agents

        return self._run(agents.provision, vps, name)

    def release_agent(self, vps: Any, revoke: bool = False) -> int:
        from sigma.services import agents

        return self._run(agents.release, vps, revoke)

    def provision_probe_key(self, data: ApiKeyCreate, source: str | None = None) -> ApiKeyCreated:
        from sigma.services import probes

        return self._run(probes.provision_key, data, source)

    def list_audit(self, f: AuditFilter) -> Page[AuditEntry]:
        return self._run(audit.list_entries, f)

    # tickets
    def list_tickets(self, f: TicketFilter) -> Page[Ticket]:
        from sigma.services import tickets

        return self._run(tickets.list_tickets, f)

    def get_ticket(self, ref: Any) -> Ticket:
        from sigma.services import tickets

        return self._run(tickets.get, ref)

    def create_ticket(self, data: TicketCreate) -> Ticket:
        from sigma.services import tickets

        return self._run(tickets.create, data)

    def update_ticket(self, ref: Any, data: TicketUpdate) -> Ticket:
        from sigma.services import tickets

        return self._run(tickets.update, ref, data)

    def delete_ticket(self, ref: Any) -> Ticket:
        from sigma.services import tickets

        return self._run(tickets.delete, ref)

    def list_comments(self, ref: Any) -> list[TicketComment]:
        from sigma.services import tickets

        return self._run(tickets.list_comments, ref)

    def add_comment(self, ref: Any, body: str) -> TicketComment:
        from sigma.services import tickets

        return self._run(tickets.add_comment, ref, body)

    # derived from the inventory: exports, costs, notices, import/export
    def prometheus_targets(self, address_label: str | None = None) -> list[dict[str, Any]]:
        from sigma.services.exports import prometheus

        return self._run(prometheus.targets, address_label)

    def ansible_inventory(self) -> dict[str, Any]:
        from sigma.services.exports import ansible

        return self._run(ansible.inventory)

    def ansible_host(self, name: str) -> dict[str, Any]:
        from sigma.services.exports import ansible

        return self._run(ansible.host, name)

    def calendar(self) -> str:
        from sigma.services.exports import ical

        return self._run(ical.calendar)

    def stats(self) -> Stats:
        from sigma.services import stats

        return self._run(stats.stats)

    def list_rates(
        self,
        from_currency: str | None = None,
        to_currency: str | None = None,
        page: int = 1,
        per_page: int = 100,
    ) -> Page[ExchangeRate]:
        from sigma.services import costs

        return self._run(costs.list_rates, from_currency, to_currency, page, per_page)

    def set_rate(self, data: ExchangeRateCreate) -> ExchangeRate:
        from sigma.services import costs

        return self._run(costs.set_rate, data)

    def delete_rate(self, ref: Any) -> ExchangeRate:
        from sigma.services import costs

        return self._run(costs.delete_rate, ref)

    def cost_summary(self, q: CostQuery) -> CostSummary:
        from sigma.services import costs

        return self._run(costs.summary, q)

    def cost_monthly(self, q: CostQuery) -> MonthlyCosts:
        from sigma.services import costs

        return self._run(costs.monthly, q)

    def export_vps(self, fmt: str) -> str:
        from sigma.services import transfer

        return self._run(transfer.export_vps, fmt)

    def export_providers(self, fmt: str) -> str:
        from sigma.services import transfer

        return self._run(transfer.export_providers, fmt)

    def import_vps(
        self, data: str, fmt: str, dry_run: bool = False, progress: Any = None
    ) -> ImportReport:
        from sigma.services import transfer

        return self._run(transfer.import_vps, data, fmt, dry_run, progress)

    def import_providers(
        self, data: str, fmt: str, dry_run: bool = False, progress: Any = None
    ) -> ImportReport:
        from sigma.services import transfer

        return self._run(transfer.import_providers, data, fmt, dry_run, progress)

    def notify_run(self, dry_run: bool = False) -> NotifyReport:
        from sigma.services import notify

        return notify.run_locked(self.sessions, self.actor, self.settings, dry_run)

    def notify_test(self, url: str | None = None, all: bool = False) -> list[NotifyTestResult]:
        from sigma.services import notices

        return notices.test(self.sessions, self.actor, self.settings, url, all)

    def notify_log(self, failed: bool = False, limit: int = 50) -> list[NoticeLogEntry]:
        from sigma.services import notices

        return self._read(notices.delivery_log, failed, limit)

    # IP checks, reachability and agent events
    def list_ip_checks(self, f: IpCheckFilter) -> Page[IpCheck]:
        from sigma.services import ip_checks

        return self._run(ip_checks.list_checks, f)

    def get_ip_check(self, check_id: Any) -> IpCheck:
        from sigma.services import ip_checks

        return self._run(ip_checks.get, check_id)

    def create_ip_check(self, data: IpCheckCreate) -> IpCheck:
        from sigma.services import ip_checks

        return self._run(ip_checks.create, data)

    def delete_ip_check(self, check_id: Any) -> IpCheck:
        from sigma.services import ip_checks

        return self._run(ip_checks.delete_check, check_id)

    def ip_check_summary(self, vps_id: Any = None) -> list[IpCheckSummary]:
        from sigma.services import ip_checks

        return self._run(ip_checks.summary, vps_id)

    def purge_ip_checks(self, older_than_days: int) -> PurgeResult:
        from sigma.services import ip_checks

        return self._run(ip_checks.purge, older_than_days)

    def reachability_status(
        self, vps: Any = None, verdict: str | None = None, include_inactive: bool = False
    ) -> list[ReachabilityStatus]:
        from sigma.services import ip_checks

        return self._run(ip_checks.status, vps, verdict, include_inactive)

    def ip_check_history(self, q: CheckHistoryQuery) -> CheckHistory:
        from sigma.services import check_history

        return self._read(check_history.history, q)

    def ip_check_fleet_history(self, q: FleetHistoryQuery) -> FleetHistory:
        from sigma.services import check_history

        return self._read(check_history.fleet_history, q)

    def reach_alerts(self) -> list[ReachAlertOut]:
        from sigma.services import reach_alerts

        return self._read(reach_alerts.list_alerts)

    def alert_thresholds(self, ref: Any) -> ReachThresholds:
        from sigma.services import reach_alerts

        return self._read(reach_alerts.get_thresholds, ref)

    def set_alert_thresholds(self, ref: Any, data: ReachThresholdsIn) -> ReachThresholds:
        from sigma.services import reach_alerts

        return self._run(reach_alerts.set_thresholds, ref, data)

    def list_probes(self) -> list[ProbeStatus]:
        from sigma.services import probes

        return self._read(probes.list_probes)

    def forget_probe(self, source: str) -> ProbeStatus:
        from sigma.services import probes

        return self._run(probes.forget, source)

    # what needs attention
    def attention(
        self,
        kinds: list[str] | None = None,
        severities: list[str] | None = None,
        vps: str | None = None,
        handled: bool = False,
        page: int = 1,
        per_page: int = 25,
    ) -> AttentionPage:
        from sigma.services import attention

        return self._read(attention.list_page, kinds, severities, vps, handled, page, per_page)

    def attention_ack(self, key: str, note: str | None = None) -> AttentionAck:
        from sigma.services import attention

        return self._run(attention.ack, key, note)

    def attention_snooze(self, key: str, until: str, note: str | None = None) -> AttentionAck:
        from sigma.services import attention

        return self._run(attention.snooze, key, until, note)

    def attention_unack(self, key: str) -> AttentionAck:
        from sigma.services import attention

        return self._run(attention.unack, key)

    def list_vps_events(
        self, vps: Any = None, kind: str | None = None, limit: int = 50
    ) -> list[VpsEvent]:
        from sigma.services import agents

        return self._run(agents.list_events, vps, kind, limit)

    # provider and DNS accounts (issue 19)
    def account_kinds(self) -> list[AccountKind]:
        from sigma.services import accounts

        return accounts.kinds()

    def list_accounts(self) -> list[Account]:
        from sigma.services import accounts

        return self._read(accounts.list_accounts, self.settings)

    def get_account(self, ref: Any) -> Account:
        from sigma.services import accounts

        return self._read(accounts.get, self.settings, ref)

    def create_account(self, data: AccountCreate) -> Account:
        from sigma.services import accounts

        return self._run(accounts.create, self.settings, data)

    def update_account(self, ref: Any, data: AccountUpdate) -> Account:
        from sigma.services import accounts

        return self._run(accounts.update, self.settings, ref, data)

    def delete_account(self, ref: Any) -> Account:
        from sigma.services import accounts

        return self._run(accounts.delete, ref)

    def test_account(self, ref: Any) -> dict[str, Any]:
        from sigma.services import accounts

        return self._run(accounts.test, self.settings, ref)

    def account_instances(self, ref: Any) -> list[dict[str, Any]]:
        from sigma.services import sync

        return self._read(sync.instances, ref)

    def sync_accounts(self, refs: list[str], dry_run: bool = False) -> list[SyncReport]:
        from sigma.services import sync

        return sync.sync_many(self.sessions, self.settings, self.actor, refs, dry_run=dry_run)

    def rotate_account_key(self) -> dict[str, Any]:
        """Local only: the key lives with the database's owner, not behind the API."""
        from sigma.services import accounts

        result = self._run(accounts.rotate_key, self.settings)
        accounts.finish_rotation(self.settings)
        return result

    def dns_zones(self) -> list[DnsZone]:
        from sigma.services import dns

        return self._read(dns.list_zones)

    def dns_records(self, f: DnsFilter) -> Page[DnsRecord]:
        from sigma.services import dns

        return self._read(dns.list_records, f)

    def dns_show(self, name: str) -> dict[str, Any]:
        from sigma.services import dns

        shown = self._read(dns.show, name)
        return {
            "zone": shown["zone"].model_dump(mode="json") if shown["zone"] else None,
            "records": [r.model_dump(mode="json") for r in shown["records"]],
        }
