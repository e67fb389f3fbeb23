"""Who may do what: roles and the permission table (pure data, checked by the API).

Zero trust: every call is authenticated and authorised per action; least privilege means a
role gets only the actions listed for it. Scope rules beyond the table: a tenant only sees
its own tasks, leases and balances (another tenant's id answers 404, as if it did not exist);
a provider only updates the sites it owns.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    TENANT = "tenant"
    """Submits and watches its own tasks; reads its own leases and balance."""
    PROVIDER = "provider"
    """Registers and updates its own sites, sends their heartbeats."""
    OPERATOR = "operator"
    """Runs the network: sees every task, cuts and restores links, declares sites down."""
    ADMIN = "admin"
    """Everything an operator can, plus managing tokens."""


_ALL = frozenset(Role)
_STAFF = frozenset({Role.OPERATOR, Role.ADMIN})

PERMISSIONS: dict[str, frozenset[Role]] = {
    # reads of public facts: the world, the network, prices, energy signals
    "world.read": _ALL,
    # tasks
    "tasks.submit": frozenset({Role.TENANT, Role.ADMIN}),
    "tasks.read": frozenset({Role.TENANT}) | _STAFF,
    "tasks.cancel": frozenset({Role.TENANT}) | _STAFF,
    # market
    "market.quote": frozenset({Role.TENANT}) | _STAFF,
    "market.read": frozenset({Role.TENANT}) | _STAFF,
    "vouchers.grant": _STAFF,
    # providers
    "sites.register": frozenset({Role.PROVIDER, Role.ADMIN}),
    "sites.heartbeat": frozenset({Role.PROVIDER, Role.ADMIN}),
    "sites.own": frozenset({Role.ADMIN}),
    # operations
    "network.cut": _STAFF,
    "sites.down": _STAFF,
    "metrics.read": _STAFF,
    "audit.read": _STAFF,
    # security
    "tokens.manage": frozenset({Role.ADMIN}),
    "tokens.self": _ALL,
}
"""Action -> the roles allowed to take it."""


def allowed(role: Role, action: str) -> bool:
    """Whether ``role`` may take ``action`` (unknown actions: nobody)."""
    return role in PERMISSIONS.get(action, frozenset())


def sees_everything(role: Role) -> bool:
    """Operators and admins see every tenant's tasks; tenants only their own."""
    return role in _STAFF
