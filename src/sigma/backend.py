"""The Backend protocol: one method per operation, plain schemas in and out.

Commands only know this protocol; `get_backend` picks the local (database) or the remote
(HTTP) implementation from the settings. The same CLI tests run against both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sigma.schemas import (
        Page,
        Provider,
        ProviderCreate,
        ProviderUpdate,
        Vps,
        VpsCreate,
        VpsFilter,
        VpsUpdate,
    )
    from sigma.settings import Settings


class Backend(Protocol):
    where: str  # "local sqlite:///..." or the server URL, for messages

    # providers
    def list_providers(self, page: int = 1, per_page: int = 25) -> Page[Provider]: ...
    def all_providers(self) -> list[Provider]: ...
    def get_provider(self, ref: Any) -> Provider: ...
    def create_provider(self, data: ProviderCreate) -> Provider: ...
    def update_provider(self, ref: Any, data: ProviderUpdate) -> Provider: ...
    def delete_provider(self, ref: Any) -> Provider: ...

    # VPS
    def list_vps(self, f: VpsFilter) -> Page[Vps]: ...
    def all_vps(self, f: VpsFilter) -> list[Vps]: ...
    def get_vps(self, ref: Any) -> Vps: ...
    def create_vps(self, data: VpsCreate) -> Vps: ...
    def update_vps(self, ref: Any, data: VpsUpdate) -> Vps: ...
    def delete_vps(self, ref: Any) -> Vps: ...
    def retire_vps(self, ref: Any) -> Vps: ...

    def close(self) -> None: ...


def get_backend(settings: Settings) -> Backend:
    if settings.server:
        from sigma.client.remote import RemoteBackend

        return RemoteBackend(settings)
    from sigma.client.local import LocalBackend

    return LocalBackend(settings)
