"""A project's budget in its project file: the total, hourly rates of team roles, and costs per host.

>>> Budget(currency="EUR", total=Decimal(5000), rates={"engineer": Decimal(90)}).labour_cost("engineer", 1.5)
Decimal('135.00')
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from itpm.models.strict import StrictModel

__all__ = ["Budget"]


class Budget(StrictModel):
    """Money: ``rates`` per hour of each team role, ``per_host`` costs (hardware, licences) per host in scope."""

    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    total: Decimal = Field(ge=0)
    rates: dict[str, Decimal] = {}
    per_host: Decimal = Field(default=Decimal(0), ge=0)

    def labour_cost(self, role: str, hours: float) -> Decimal:
        """Return ``hours`` of ``role`` at its rate, to the cent (0 for a role without a rate)."""
        # str(): 1.005 hours typed by a person are 1.005, not the binary float just below it.
        return (self.rates.get(role, Decimal(0)) * Decimal(str(hours))).quantize(Decimal("0.01"))
