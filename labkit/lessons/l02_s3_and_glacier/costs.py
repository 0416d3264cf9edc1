"""Helpers for lesson 02 (S3 and Glacier): storage-class prices and the cost chart.

The S3 and Glacier calls the lesson teaches stay in the notebook. This module holds the numbers the
lesson quotes (each with its source) and the arithmetic and drawing built on them, so both can be
unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_SOURCE = "https://aws.amazon.com/s3/pricing/"
STORAGE_CLASSES_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html"
RESTORE_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html"
PRICE_NOTE = "list prices, US East (N. Virginia), first 50 TB/month, as published in 2025; they vary by region and date"


@dataclass(frozen=True)
class StorageClass:
    """One S3 storage class as the lesson quotes it.

    ``usd_per_gb_month`` and ``retrieval_usd_per_gb`` (standard retrieval tier) are the list prices
    on the S3 pricing page; ``min_days`` is the minimum storage duration, ``min_billable_kb`` the
    minimum billable object size (for the two archive classes: the 40 KB of metadata billed with
    every object) and ``first_byte`` the time to the first byte, from the S3 storage-classes page
    (``STORAGE_CLASSES_DOC``) and the retrieval-options page (``RESTORE_DOC``).
    """

    name: str  # what AWS calls it
    api: str  # the StorageClass value in the S3 API
    usd_per_gb_month: float
    retrieval_usd_per_gb: float
    min_days: int
    min_billable_kb: int
    first_byte: str


STORAGE_CLASSES: tuple[StorageClass, ...] = (
    StorageClass("S3 Standard", "STANDARD", 0.023, 0.0, 0, 0, "milliseconds"),
    StorageClass("S3 Standard-IA", "STANDARD_IA", 0.0125, 0.01, 30, 128, "milliseconds"),
    StorageClass("S3 One Zone-IA", "ONEZONE_IA", 0.01, 0.01, 30, 128, "milliseconds"),
    StorageClass("S3 Glacier Instant Retrieval", "GLACIER_IR", 0.004, 0.03, 90, 128, "milliseconds"),
    StorageClass("S3 Glacier Flexible Retrieval", "GLACIER", 0.0036, 0.01, 90, 40, "3–5 hours (Standard tier)"),
    StorageClass("S3 Glacier Deep Archive", "DEEP_ARCHIVE", 0.00099, 0.02, 180, 40, "within 12 hours (Standard tier)"),
)

BY_API = {c.api: c for c in STORAGE_CLASSES}


def monthly_costs(gb: float, months: int = 12, storage_class: StorageClass | str = "STANDARD") -> list[float]:
    """Cumulative storage cost, USD, at the end of each month, for ``gb`` stored the whole time.

    A class's minimum storage duration is charged even if the data leaves sooner: storing for fewer
    days than ``min_days`` costs ``min_days`` worth (here, whole 30-day months).
    """
    cls = BY_API[storage_class] if isinstance(storage_class, str) else storage_class
    billed_months = max(months, -(-cls.min_days // 30))
    per_month = gb * cls.usd_per_gb_month
    out = [per_month * (m + 1) for m in range(months)]
    if billed_months > months and out:
        out[-1] = per_month * billed_months
    return out


@dataclass(frozen=True)
class YearCost:
    storage_class: StorageClass
    storage_usd: float
    retrieval_usd: float

    @property
    def total_usd(self) -> float:
        return self.storage_usd + self.retrieval_usd


def year_costs(gb: float, retrievals: int = 1, months: int = 12) -> list[YearCost]:
    """What ``gb`` costs in each class over ``months``, storing it and reading all of it back ``retrievals`` times.

    Request charges and data transfer out are left out (both are small or zero for this case; see the pricing page).
    """
    return [
        YearCost(
            cls, round(monthly_costs(gb, months, cls)[-1], 4), round(gb * cls.retrieval_usd_per_gb * retrievals, 4)
        )
        for cls in STORAGE_CLASSES
    ]


def format_cost_table(costs: list[YearCost], gb: float, months: int = 12) -> str:
    lines = [
        f"{gb:,.0f} GB for {months} months ({PRICE_NOTE}):",
        f"{'class':<31}{'$/GB-month':>11}{'storage':>10}{'1 read-back':>13}{'total':>9}{'min days':>10}",
    ]
    for c in costs:
        cls = c.storage_class
        lines.append(
            f"{cls.name:<31}{cls.usd_per_gb_month:>11.5f}{c.storage_usd:>10.2f}{c.retrieval_usd:>13.2f}"
            f"{c.total_usd:>9.2f}{cls.min_days:>10}"
        )
    return "\n".join(lines)


def draw_year_costs(costs: list[YearCost], gb: float, months: int = 12, ax=None):
    """Stacked bars: a year of storage plus one full read-back, per class, with the dollar total on top."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 3.8))
    names = [c.storage_class.name.replace("S3 ", "").replace(" Retrieval", "\nRetrieval") for c in costs]
    storage = [c.storage_usd for c in costs]
    retrieval = [c.retrieval_usd for c in costs]
    ax.bar(names, storage, color="#1565c0", label=f"storage, {months} months")
    ax.bar(names, retrieval, bottom=storage, color="#f9a825", label="reading all of it back once")
    for i, c in enumerate(costs):
        ax.text(i, c.total_usd, f"${c.total_usd:,.2f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("USD")
    ax.set_ylim(0, max(c.total_usd for c in costs) * 1.15)
    ax.set_title(f"{gb:,.0f} GB for a year, by S3 storage class", fontsize=11)
    ax.legend(loc="upper right", fontsize=8)
    ax.figure.text(0.01, 0.01, f"{PRICE_NOTE}. Source: {PRICE_SOURCE}", fontsize=6.5, color="#555")
    ax.figure.tight_layout(rect=(0, 0.04, 1, 1))
    return ax.figure
