"""The query-vs-scan chart of 09-databases."""

from __future__ import annotations


def read_cost_chart(rows: list[tuple[str, int, int]], title: str = "Items read vs items returned"):
    """A horizontal bar chart of (label, ScannedCount, Count): what each read touched vs what it returned."""
    import matplotlib.pyplot as plt

    labels = [r[0] for r in rows]
    scanned = [r[1] for r in rows]
    returned = [r[2] for r in rows]
    y = range(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.8 + 0.7 * len(rows)))
    ax.barh([i + 0.2 for i in y], scanned, height=0.4, label="ScannedCount (items read, and paid for)")
    ax.barh([i - 0.2 for i in y], returned, height=0.4, label="Count (items returned)")
    for i, (s, c) in enumerate(zip(scanned, returned, strict=True)):
        ax.text(s, i + 0.2, f" {s}", va="center", fontsize="small")
        ax.text(c, i - 0.2, f" {c}", va="center", fontsize="small")
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlabel("items")
    ax.set_title(title)
    ax.legend(loc="center right", fontsize="small")
    ax.set_xlim(0, max(scanned + returned + [1]) * 1.15)
    fig.tight_layout()
    return fig
