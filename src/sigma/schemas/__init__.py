"""The plain pydantic I/O models shared by the services, the API, the remote client and the
CLI, one module per area, each imported by name (`from sigma.schemas.inventory import Vps`):

- common: base classes, field types and their rules, pagination, validation errors;
- inventory: providers and VPS; identity: users, sign-ins, TOTP, API keys, audit entries;
- tickets; monitoring: agents, IP checks, reachability; costs: exchange rates and reports;
- stats; transfer: import and export; notify: expiry notices.
"""
