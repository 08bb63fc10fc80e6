"""RemoteBackend: the Backend protocol over HTTP against `sigma serve`.

Server errors come back as the same SigmaError subclasses (same message, same exit code).
Importing this module loads neither pydantic nor the schemas: a listing (vps_rows) is the
server's JSON as is; the methods that return schemas import their area when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import quote

# httpx as sigma.client.http loads it (without its command line and trio)
from sigma.client.http import ApiClient, auth_headers, httpx, make_client, server_base
from sigma.errors import NotAuthenticated, SigmaError, Unavailable, error_from_body

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
        LoginResult,
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
        VpsFilter,
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

# tests point this at an in-process app (Starlette's TestClient is an httpx.Client)
CLIENT_FACTORY: Callable[[str, dict[str, str]], httpx.Client] | None = None


M = TypeVar("M")


def _parse(model: type[M], data: Any) -> M:
    from pydantic import TypeAdapter

    return TypeAdapter(model).validate_python(data)


class RemoteBackend(ApiClient):
    def __init__(self, server: str, api_key: str | None = None):
        base = server_base(server)
        super().__init__(base, auth_headers(api_key, base))

    # ---------------------------------------------- plumbing (request, http_call: ApiClient)

    def _get(self, model: type[M], path: str, **kw: Any) -> M:
        return _parse(model, self.request("GET", path, **kw))

    @overload
    def _send(
        self, method: str, model: None, path: str, body: Any = None, *, partial: bool = False
    ) -> Any: ...
    @overload
    def _send(
        self, method: str, model: type[M], path: str, body: Any = None, *, partial: bool = False
    ) -> M: ...
    def _send(
        self,
        method: str,
        model: type[M] | None,
        path: str,
        body: Any = None,
        *,
        partial: bool = False,
    ) -> Any:
        if hasattr(body, "model_dump"):
            body = body.model_dump(mode="json", exclude_unset=partial)
        data = self.request(method, path, json=body)
        return _parse(model, data) if model is not None else data

    @staticmethod
    def _ref(ref: Any) -> str:
        return quote(str(ref), safe="")

    # ------------------------------------------------------------ providers

    def list_providers(self, page: int = 1, per_page: int = 25) -> Page[Provider]:
        from sigma.schemas.common import Page
        from sigma.schemas.inventory import Provider

        return self._get(
            Page[Provider], "/api/providers", params={"page": page, "per_page": per_page}
        )

    def all_providers(self) -> list[Provider]:
        return _all_pages(lambda p: self.list_providers(p, 100))

    def get_provider(self, ref: Any) -> Provider:
        from sigma.schemas.inventory import Provider

        return self._get(Provider, f"/api/providers/{self._ref(ref)}")

    def create_provider(self, data: ProviderCreate) -> Provider:
        from sigma.schemas.inventory import Provider

        return self._send("POST", Provider, "/api/providers", data)

    def update_provider(self, ref: Any, data: ProviderUpdate) -> Provider:
        from sigma.schemas.inventory import Provider

        return self._send("PUT", Provider, f"/api/providers/{self._ref(ref)}", data, partial=True)

    def delete_provider(self, ref: Any) -> Provider:
        p = self.get_provider(ref)
        self._send("DELETE", None, f"/api/providers/{p.id}")
        return p

    # ------------------------------------------------------------ VPS

    def vps_rows(self, query: dict[str, Any], all_pages: bool = False) -> dict[str, Any]:
        params = [(k, v) for k, v in query.items() if k not in ("tag", "page", "per_page")]
        params += [("tag", t) for t in query.get("tag") or ()]
        if all_pages:
            rows = self.pages("/api/vps", params)
            return {"data": rows, "total": len(rows), "page": 1, "per_page": len(rows)}
        page: dict[str, Any] = self.request(
            "GET",
            "/api/vps",
            params=[
                *params,
                ("page", query.get("page", 1)),
                ("per_page", query.get("per_page", 25)),
            ],
        )
        return page

    @staticmethod
    def _vps_params(f: VpsFilter) -> list[tuple[str, Any]]:
        params: list[tuple[str, Any]] = []
        for key, value in f.model_dump(mode="json", exclude={"tag"}).items():
            if value is not None and (key != "purpose" or "purpose" in f.model_fields_set):
                params.append((key, value))
        params += [("tag", t) for t in f.tag]
        return params

    def list_vps(self, f: VpsFilter) -> Page[Vps]:
        from sigma.schemas.common import Page
        from sigma.schemas.inventory import Vps

        return self._get(Page[Vps], "/api/vps", params=self._vps_params(f))

    def all_vps(self, f: VpsFilter) -> list[Vps]:
        return _all_pages(
            lambda p: self.list_vps(f.model_copy(update={"page": p, "per_page": 100}))
        )

    def get_vps(self, ref: Any) -> Vps:
        return self._with_version(self.http_call("GET", f"/api/vps/{self._ref(ref)}"))

    def create_vps(self, data: VpsCreate) -> Vps:
        body = data.model_dump(mode="json")
        return self._with_version(self.http_call("POST", "/api/vps", json=body))

    def update_vps(self, ref: Any, data: VpsUpdate, if_match: int | None = None) -> Vps:
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._with_version(
            self.http_call("PUT", f"/api/vps/{self._ref(ref)}", json=body, headers=headers)
        )

    @staticmethod
    def _with_version(resp: httpx.Response) -> Vps:
        from sigma.schemas.inventory import Vps

        v = Vps.model_validate(resp.json())
        tag = resp.headers.get("etag", "").removeprefix("W/").strip('"')
        v._version = int(tag) if tag.isdigit() else None
        v._warnings = tuple(resp.headers.get_list("x-sigma-warning"))
        return v

    def delete_vps(self, ref: Any) -> Vps:
        v = self.get_vps(ref)
        self._send("DELETE", None, f"/api/vps/{v.id}")
        return v

    def retire_vps(self, ref: Any) -> Vps:
        from sigma.schemas.inventory import Vps

        return self._send("POST", Vps, f"/api/vps/{self._ref(ref)}/retire")

    # ------------------------------------------------------------ history and the trash

    def vps_history(self, ref: Any, f: HistoryFilter) -> Page[HistoryEvent]:
        from sigma.schemas.common import Page
        from sigma.schemas.history import HistoryEvent

        params = {k: v for k, v in f.model_dump(mode="json").items() if v is not None}
        return self._get(Page[HistoryEvent], f"/api/vps/{self._ref(ref)}/history", params=params)

    def ip_history(self, q: IpHistoryQuery) -> Page[IpHolding]:
        from sigma.schemas.common import Page
        from sigma.schemas.history import IpHolding

        params = {k: v for k, v in q.model_dump(mode="json").items() if v is not None}
        return self._get(Page[IpHolding], "/api/ip-history", params=params)

    def vps_duplicates(self, page: int = 1, per_page: int = 25) -> Page[DuplicatePair]:
        from sigma.schemas.common import Page
        from sigma.schemas.history import DuplicatePair

        params = {"page": page, "per_page": per_page}
        return self._get(Page[DuplicatePair], "/api/vps/duplicates", params=params)

    def merge_vps(self, data: MergeRequest) -> MergeResult:
        from sigma.schemas.history import MergeResult

        return self._send("POST", MergeResult, "/api/vps/merge", data)

    def list_trash(self, page: int = 1, per_page: int = 25) -> Page[TrashedVps]:
        from sigma.schemas.common import Page
        from sigma.schemas.history import TrashedVps

        params = {"page": page, "per_page": per_page}
        return self._get(Page[TrashedVps], "/api/vps/trash", params=params)

    def restore_vps(self, ref: Any) -> Vps:
        return self._with_version(self.http_call("POST", f"/api/vps/{self._ref(ref)}/restore"))

    def purge_vps(self, ref: Any) -> PurgedVps:
        from sigma.schemas.history import PurgedVps

        data = self.request("DELETE", f"/api/vps/{self._ref(ref)}", params={"purge": "true"})
        return _parse(PurgedVps, data)

    # ------------------------------------------------------------ renewals and replacement

    def renew_vps(self, ref: Any, cycles: int = 1) -> RenewResult:
        from sigma.schemas.lifecycle import RenewResult

        return self._send(
            "POST", RenewResult, f"/api/vps/{self._ref(ref)}/renew", {"cycles": cycles}
        )

    def upcoming_renewals(self, within_days: int = 7) -> UpcomingRenewals:
        from sigma.schemas.lifecycle import UpcomingRenewals

        return self._get(UpcomingRenewals, "/api/vps/renewals", params={"within": within_days})

    def replace_vps(self, ref: Any, data: ReplaceRequest) -> ReplaceResult:
        from sigma.schemas.lifecycle import ReplaceResult

        body = data.model_dump(mode="json", by_alias=True, exclude_none=True)
        return self._send("POST", ReplaceResult, f"/api/vps/{self._ref(ref)}/replace", body)

    # ------------------------------------------------------------ identity

    def me(self) -> User:
        from sigma.schemas.identity import User

        return self._get(User, "/api/auth/me")

    def change_password(self, data: ChangePassword) -> User:
        """The change revokes every session of the user, this CLI's included: signed in
        again with the new password (and a TOTP code if the account asks for one)."""
        from sigma.schemas.identity import User

        user = self._send("POST", User, "/api/auth/change-password", data)
        bearer = self.http.headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and not bearer[7:].startswith("sigma_"):
            from sigma.client import credentials

            def code() -> str:
                import typer

                answer: str = typer.prompt("TOTP code", err=True)
                return answer

            result = login(self.base, user.email, data.new_password, code)
            if result.token:
                credentials.save(self.base, result.token)
                self.http.headers["authorization"] = f"Bearer {result.token}"
        return user

    def totp_setup(self) -> TotpSetup:
        from sigma.schemas.identity import TotpSetup

        return self._send("POST", TotpSetup, "/api/auth/totp/setup")

    def totp_verify(self, code: str) -> TotpState:
        from sigma.schemas.identity import TotpState

        return self._send("POST", TotpState, "/api/auth/totp/verify", {"code": code})

    def totp_disable(self, code: str) -> TotpState:
        from sigma.schemas.identity import TotpState

        return self._send("POST", TotpState, "/api/auth/totp/disable", {"code": code})

    def list_users(self, role: str | None = None, page: int = 1, per_page: int = 25) -> Page[User]:
        from sigma.schemas.common import Page
        from sigma.schemas.identity import User

        params = {"page": page, "per_page": per_page} | ({"role": role} if role else {})
        return self._get(Page[User], "/api/users", params=params)

    def get_user(self, ref: Any) -> User:
        from sigma.schemas.identity import User

        return self._get(User, f"/api/users/{self._ref(ref)}")

    def create_user(self, data: UserCreate) -> User:
        from sigma.schemas.identity import User

        return self._send("POST", User, "/api/users", data)

    def update_user(self, ref: Any, data: UserUpdate) -> User:
        from sigma.schemas.identity import User

        return self._send("PUT", User, f"/api/users/{self._ref(ref)}", data, partial=True)

    def delete_user(self, ref: Any) -> User:
        u = self.get_user(ref)
        self._send("DELETE", None, f"/api/users/{u.id}")
        return u

    def create_api_key(self, data: ApiKeyCreate, user: Any = None) -> ApiKeyCreated:
        from sigma.schemas.identity import ApiKeyCreated

        path = "/api/auth/api-keys" + (f"?user={quote(str(user))}" if user else "")
        return self._send("POST", ApiKeyCreated, path, data)

    def list_api_keys(self, all_users: bool = False) -> list[ApiKey]:
        from sigma.schemas.identity import ApiKey

        return self._get(list[ApiKey], "/api/auth/api-keys", params={"all_users": all_users})

    def revoke_api_key(self, ref: Any) -> ApiKey:
        from sigma.schemas.identity import ApiKey

        return self._send("DELETE", ApiKey, f"/api/auth/api-keys/{self._ref(ref)}")

    def logout_all(self) -> User:
        from sigma.schemas.identity import User

        return self._send("POST", User, "/api/auth/logout-all")

    def provision_agent_key(self, vps: Any, name: str | None = None) -> ApiKeyCreated:
        from sigma.schemas.identity import ApiKeyCreated

        params = {"name": name} if name else None
        return _parse(
            ApiKeyCreated,
            self.request("POST", f"/api/vps/{self._ref(vps)}/agent-key", params=params),
        )

    def release_agent(self, vps: Any, revoke: bool = False) -> int:
        return int(
            self.request(
                "POST",
                f"/api/vps/{self._ref(vps)}/agent-release",
                params={"revoke": str(revoke).lower()},
            )["released"]
        )

    def provision_probe_key(self, data: ApiKeyCreate, source: str | None = None) -> ApiKeyCreated:
        from urllib.parse import urlencode

        from sigma.schemas.identity import ApiKeyCreated

        query = f"?{urlencode({'source': source})}" if source else ""
        return self._send("POST", ApiKeyCreated, f"/api/ip-checks/probe-keys{query}", data)

    def list_audit(self, f: AuditFilter) -> Page[AuditEntry]:
        from sigma.schemas.common import Page
        from sigma.schemas.identity import AuditEntry

        params = {k: v for k, v in f.model_dump(mode="json").items() if v is not None}
        return self._get(Page[AuditEntry], "/api/audit-logs", params=params)

    # tickets
    def list_tickets(self, f: TicketFilter) -> Page[Ticket]:
        from sigma.schemas.common import Page
        from sigma.schemas.tickets import Ticket

        params = {k: v for k, v in f.model_dump(mode="json").items() if v is not None}
        return self._get(Page[Ticket], "/api/tickets", params=params)

    def get_ticket(self, ref: Any) -> Ticket:
        from sigma.schemas.tickets import Ticket

        return self._get(Ticket, f"/api/tickets/{self._ref(ref)}")

    def create_ticket(self, data: TicketCreate) -> Ticket:
        from sigma.schemas.tickets import Ticket

        return self._send("POST", Ticket, "/api/tickets", data)

    def update_ticket(self, ref: Any, data: TicketUpdate) -> Ticket:
        from sigma.schemas.tickets import Ticket

        return self._send("PUT", Ticket, f"/api/tickets/{self._ref(ref)}", data, partial=True)

    def delete_ticket(self, ref: Any) -> Ticket:
        t = self.get_ticket(ref)
        self._send("DELETE", None, f"/api/tickets/{t.id}")
        return t

    def list_comments(self, ref: Any) -> list[TicketComment]:
        from sigma.schemas.tickets import TicketComment

        return self._get(list[TicketComment], f"/api/tickets/{self._ref(ref)}/comments")

    def add_comment(self, ref: Any, body: str) -> TicketComment:
        from sigma.schemas.tickets import TicketComment

        return self._send(
            "POST", TicketComment, f"/api/tickets/{self._ref(ref)}/comments", {"body": body}
        )

    # derived from the inventory: exports, costs, notices, import/export
    def prometheus_targets(self, address_label: str | None = None) -> list[dict[str, Any]]:
        params = {"address_label": address_label} if address_label is not None else None
        groups: list[dict[str, Any]] = self.http_call(
            "GET", "/api/prometheus/targets", params=params
        ).json()
        return groups

    def ansible_inventory(self) -> dict[str, Any]:
        document: dict[str, Any] = self.http_call("GET", "/api/ansible/inventory").json()
        return document

    def ansible_host(self, name: str) -> dict[str, Any]:
        hostvars: dict[str, Any] = self.http_call(
            "GET", "/api/ansible/inventory", params={"host": name}
        ).json()
        return hostvars

    def calendar(self) -> str:
        return self.http_call("GET", "/api/calendar.ics").text

    def stats(self) -> Stats:
        from sigma.schemas.stats import Stats

        return self._get(Stats, "/api/stats")

    def list_rates(
        self,
        from_currency: str | None = None,
        to_currency: str | None = None,
        page: int = 1,
        per_page: int = 100,
    ) -> Page[ExchangeRate]:
        from sigma.schemas.common import Page
        from sigma.schemas.costs import ExchangeRate

        params: dict[str, Any] = {"page": page, "per_page": per_page}
        params |= {
            k: v for k, v in (("from_currency", from_currency), ("to_currency", to_currency)) if v
        }
        return self._get(Page[ExchangeRate], "/api/exchange-rates", params=params)

    def set_rate(self, data: ExchangeRateCreate) -> ExchangeRate:
        from sigma.schemas.costs import ExchangeRate

        return self._send("POST", ExchangeRate, "/api/exchange-rates", data)

    def delete_rate(self, ref: Any) -> ExchangeRate:
        from sigma.schemas.costs import ExchangeRate

        rate = self._get(ExchangeRate, f"/api/exchange-rates/{self._ref(ref)}")
        self._send("DELETE", None, f"/api/exchange-rates/{rate.id}")
        return rate

    @staticmethod
    def _cost_params(q: CostQuery) -> dict[str, Any]:
        return {k: v for k, v in q.model_dump(mode="json").items() if v is not None}

    def cost_summary(self, q: CostQuery) -> CostSummary:
        from sigma.schemas.costs import CostSummary

        params = self._cost_params(q)
        params.pop("months", None)
        return self._get(CostSummary, "/api/costs/summary", params=params)

    def cost_monthly(self, q: CostQuery) -> MonthlyCosts:
        from sigma.schemas.costs import MonthlyCosts

        params = self._cost_params(q)
        params.pop("status", None)
        return self._get(MonthlyCosts, "/api/costs/monthly", params=params)

    def export_vps(self, fmt: str) -> str:
        return self.http_call("GET", "/api/vps/export", params={"format": fmt}).text

    def export_providers(self, fmt: str) -> str:
        return self.http_call("GET", "/api/providers/export", params={"format": fmt}).text

    def _import(self, path: str, data: str, fmt: str, dry_run: bool, progress: Any) -> ImportReport:
        from sigma.schemas.transfer import ImportReport

        if progress:
            progress("uploading", 0, 1)
        body = {"format": fmt, "data": data, "dry_run": dry_run}
        report = ImportReport.model_validate(self.http_call("POST", path, json=body).json())
        if progress:
            progress("uploading", 1, 1)
        return report

    def import_vps(
        self, data: str, fmt: str, dry_run: bool = False, progress: Any = None
    ) -> ImportReport:
        return self._import("/api/vps/import", data, fmt, dry_run, progress)

    def import_providers(
        self, data: str, fmt: str, dry_run: bool = False, progress: Any = None
    ) -> ImportReport:
        return self._import("/api/providers/import", data, fmt, dry_run, progress)

    def notify_run(self, dry_run: bool = False) -> NotifyReport:
        from sigma.schemas.notify import NotifyReport

        return NotifyReport.model_validate(
            self.http_call("POST", "/api/notify/run", params={"dry_run": dry_run}).json()
        )

    def notify_test(self, url: str | None = None, all: bool = False) -> list[NotifyTestResult]:
        from sigma.schemas.notify import NotifyTestResult

        body = {"url": url, "all": all}
        rows = self.http_call("POST", "/api/notify/test", json=body).json()
        return [NotifyTestResult.model_validate(r) for r in rows]

    def notify_log(self, failed: bool = False, limit: int = 50) -> list[NoticeLogEntry]:
        from sigma.schemas.notify import NoticeLogEntry

        params = {"failed": failed, "limit": limit}
        rows = self.http_call("GET", "/api/notify/log", params=params).json()
        return [NoticeLogEntry.model_validate(r) for r in rows]

    # IP checks, reachability and agent events
    def list_ip_checks(self, f: IpCheckFilter) -> Page[IpCheck]:
        from sigma.schemas.common import Page
        from sigma.schemas.monitoring import IpCheck

        params = {k: v for k, v in f.model_dump(mode="json").items() if v is not None}
        return self._get(Page[IpCheck], "/api/ip-checks", params=params)

    def get_ip_check(self, check_id: Any) -> IpCheck:
        from sigma.schemas.monitoring import IpCheck

        return self._get(IpCheck, f"/api/ip-checks/{self._ref(check_id)}")

    def create_ip_check(self, data: IpCheckCreate) -> IpCheck:
        from sigma.schemas.monitoring import IpCheck

        return self._send("POST", IpCheck, "/api/ip-checks", data)

    def delete_ip_check(self, check_id: Any) -> IpCheck:
        check = self.get_ip_check(check_id)
        self._send("DELETE", None, f"/api/ip-checks/{check.id}")
        return check

    def ip_check_summary(self, vps_id: Any = None) -> list[IpCheckSummary]:
        from sigma.schemas.monitoring import IpCheckSummary

        params = {"vps_id": str(vps_id)} if vps_id else {}
        return self._get(list[IpCheckSummary], "/api/ip-checks/summary", params=params)

    def purge_ip_checks(self, older_than_days: int) -> PurgeResult:
        from sigma.schemas.monitoring import PurgeResult

        data = self.request(
            "DELETE", "/api/ip-checks/purge", params={"older_than_days": older_than_days}
        )
        return PurgeResult.model_validate(data)

    def reachability_status(
        self, vps: Any = None, verdict: str | None = None, include_inactive: bool = False
    ) -> list[ReachabilityStatus]:
        from sigma.schemas.monitoring import ReachabilityStatus

        params = {
            k: v for k, v in {"vps": vps, "verdict": verdict, "all": include_inactive}.items() if v
        }
        return self._get(list[ReachabilityStatus], "/api/ip-checks/status", params=params)

    def ip_check_history(self, q: CheckHistoryQuery) -> CheckHistory:
        from sigma.schemas.monitoring import CheckHistory

        params = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in q.model_dump(exclude_none=True).items()
        }
        return self._get(CheckHistory, "/api/ip-checks/history", params=params)

    def ip_check_fleet_history(self, q: FleetHistoryQuery) -> FleetHistory:
        from sigma.schemas.monitoring import FleetHistory

        params = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in q.model_dump(exclude_none=True).items()
        }
        return self._get(FleetHistory, "/api/ip-checks/fleet-history", params=params)

    def reach_alerts(self) -> list[ReachAlertOut]:
        from sigma.schemas.monitoring import ReachAlertOut

        return self._get(list[ReachAlertOut], "/api/ip-checks/alerts")

    def alert_thresholds(self, ref: Any) -> ReachThresholds:
        from sigma.schemas.monitoring import ReachThresholds

        return self._get(ReachThresholds, f"/api/vps/{self._ref(ref)}/alert-thresholds")

    def set_alert_thresholds(self, ref: Any, data: ReachThresholdsIn) -> ReachThresholds:
        from sigma.schemas.monitoring import ReachThresholds

        return self._send(
            "PUT", ReachThresholds, f"/api/vps/{self._ref(ref)}/alert-thresholds", data
        )

    def list_probes(self) -> list[ProbeStatus]:
        from sigma.schemas.monitoring import ProbeStatus

        return self._get(list[ProbeStatus], "/api/probes")

    def forget_probe(self, source: str) -> ProbeStatus:
        from urllib.parse import quote

        from sigma.schemas.monitoring import ProbeStatus

        data = self.request("DELETE", f"/api/probes/{quote(source, safe='')}")
        return ProbeStatus.model_validate(data)

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
        from sigma.schemas.attention import AttentionPage

        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if kinds:
            params["kind"] = ",".join(kinds)
        if severities:
            params["severity"] = ",".join(severities)
        if vps:
            params["vps"] = vps
        if handled:
            params["handled"] = "true"
        return self._get(AttentionPage, "/api/attention", params=params)

    def attention_ack(self, key: str, note: str | None = None) -> AttentionAck:
        from sigma.schemas.attention import AttentionAck

        return self._send("POST", AttentionAck, "/api/attention/ack", {"key": key, "note": note})

    def attention_snooze(self, key: str, until: str, note: str | None = None) -> AttentionAck:
        from sigma.schemas.attention import AttentionAck

        body = {"key": key, "until": until, "note": note}
        return self._send("POST", AttentionAck, "/api/attention/snooze", body)

    # provider and DNS accounts
    def account_kinds(self) -> list[AccountKind]:
        from sigma.schemas.accounts import AccountKind

        return self._get(list[AccountKind], "/api/accounts/kinds")

    def list_accounts(self) -> list[Account]:
        from sigma.schemas.accounts import Account

        return self._get(list[Account], "/api/accounts")

    def get_account(self, ref: Any) -> Account:
        from sigma.schemas.accounts import Account

        return self._get(Account, f"/api/accounts/{self._ref(ref)}")

    @staticmethod
    def _account_body(data: Any) -> dict[str, Any]:
        """The body with the credentials in clear (a SecretStr dumps as stars): they go to
        the server over the connection the CLI trusts, and nowhere else."""
        body = data.model_dump(
            mode="json", exclude_unset=True, exclude={"token", "key_id", "secret"}
        )
        return {**body, **data.values()}

    def create_account(self, data: AccountCreate) -> Account:
        from sigma.schemas.accounts import Account

        return self._send("POST", Account, "/api/accounts", self._account_body(data))

    def update_account(self, ref: Any, data: AccountUpdate) -> Account:
        from sigma.schemas.accounts import Account

        path = f"/api/accounts/{self._ref(ref)}"
        return self._send("PUT", Account, path, self._account_body(data))

    def delete_account(self, ref: Any) -> Account:
        account = self.get_account(ref)
        self.request("DELETE", f"/api/accounts/{account.id}")
        return account

    def test_account(self, ref: Any) -> dict[str, Any]:
        return self._send("POST", dict[str, Any], f"/api/accounts/{self._ref(ref)}/test")

    def account_instances(self, ref: Any) -> list[dict[str, Any]]:
        return self._get(list[dict[str, Any]], f"/api/accounts/{self._ref(ref)}/instances")

    def sync_accounts(self, refs: list[str], dry_run: bool = False) -> list[SyncReport]:
        from sigma.schemas.accounts import SyncReport

        body = {"accounts": refs, "dry_run": dry_run}
        return self._send("POST", list[SyncReport], "/api/sync", body)

    def dns_zones(self) -> list[DnsZone]:
        from sigma.schemas.accounts import DnsZone

        return self._get(list[DnsZone], "/api/dns/zones")

    def dns_records(self, f: DnsFilter) -> Page[DnsRecord]:
        from sigma.schemas.accounts import DnsRecord
        from sigma.schemas.common import Page

        params = {k: v for k, v in f.model_dump().items() if v is not None}
        return self._get(Page[DnsRecord], "/api/dns/records", params=params)

    def dns_show(self, name: str) -> dict[str, Any]:
        return self._get(dict[str, Any], f"/api/dns/{self._ref(name)}")

    def attention_unack(self, key: str) -> AttentionAck:
        from sigma.schemas.attention import AttentionAck

        return self._send("POST", AttentionAck, "/api/attention/unack", {"key": key})

    def list_vps_events(
        self, vps: Any = None, kind: str | None = None, limit: int = 50
    ) -> list[VpsEvent]:
        from sigma.schemas.monitoring import VpsEvent

        params = {k: v for k, v in {"vps": vps, "kind": kind, "limit": limit}.items() if v}
        return self._get(list[VpsEvent], "/api/vps-events", params=params)


def _all_pages(fetch: Callable[[int], Any]) -> list[Any]:
    items: list[Any] = []
    page = 1
    while True:
        result = fetch(page)
        items.extend(result.data)
        if not result.data or len(items) >= result.total:
            return items
        page += 1


def login(base: str, email: str, password: str, code_prompt: Callable[[], str]) -> LoginResult:
    """Password login, then the TOTP step when the account has MFA."""
    from sigma.schemas.identity import LoginResult

    with make_client(base, {}) as http:
        try:
            resp = http.post("/api/auth/login", json={"email": email, "password": password})
            body = resp.json() if resp.content else {}
            if resp.status_code == 200 and body.get("requires_totp"):
                resp = http.post(
                    "/api/auth/login/totp",
                    json={"totp_token": body["totp_token"], "code": code_prompt()},
                )
                body = resp.json() if resp.content else {}
        except httpx.TransportError as exc:
            raise Unavailable(
                f"cannot reach the sigma server at {base}: {exc or type(exc).__name__}"
            ) from None
        except ValueError:
            raise SigmaError(
                f"{base} did not answer like a sigma server (HTTP {resp.status_code})"
            ) from None
    if resp.status_code >= 400:
        err = error_from_body(resp.status_code, body)
        if isinstance(err, NotAuthenticated):
            raise NotAuthenticated("login failed: wrong email or password")
        raise err
    return LoginResult.model_validate(body)
