"""Where every event the mail-tracking service published ended up: the lesson's final tally."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EventAccounting:
    """Each published webhook id is in exactly one place: processed, the worker's DLQ, or the sender's DLQ."""

    published: dict[str, str]  # webhook id -> label
    places: dict[str, set[str]]  # place -> webhook ids found there

    @property
    def missing(self) -> list[str]:
        found = set().union(*self.places.values()) if self.places else set()
        return [label for wid, label in self.published.items() if wid not in found]

    @property
    def twice(self) -> list[str]:
        """Ids found in more than one place (processed and also dead-lettered would be a bug)."""
        counts: dict[str, int] = {}
        for ids in self.places.values():
            for wid in ids & self.published.keys():
                counts[wid] = counts.get(wid, 0) + 1
        return [self.published[w] for w, n in counts.items() if n > 1]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.twice

    def __str__(self) -> str:
        lines = [f"{len(self.published)} events published"]
        for place, ids in self.places.items():
            lines.append(f"  {len(ids & self.published.keys()):>3}  {place}")
        lines.append(
            f"  accounted for {len(self.published) - len(self.missing)} of {len(self.published)}; "
            f"lost {len(self.missing)}" + (f": {', '.join(self.missing[:5])}" if self.missing else "")
        )
        if self.twice:
            lines.append(f"  in two places at once: {', '.join(self.twice[:5])}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)
