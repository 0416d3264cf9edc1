"""What a clean-up run reports: one entry per resource, printed as one table with no account id in it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from labkit.backends.aws import TAG_KEY, mask_account

DELETED, WOULD_DELETE, FAILED, PENDING = "deleted", "would delete", "failed", "pending"
NOT_LISTED = "not listed"  # the service could not be listed (missing on this backend, or access denied)
LEFT = "left"  # found after the listing that was confirmed: not deleted (it was never shown)
# Failures that usually mean "something this run started is still going away": try again later.
RETRY_LATER = {"DependencyViolation", "VolumeInUse", "OriginAccessControlInUse", "DistributionNotDisabled"}


@dataclass
class Entry:
    status: str  # deleted | would delete | failed | pending | not listed | left
    kind: str  # e.g. "s3 bucket"
    name: str  # a name or id, never an ARN
    lesson: str = ""
    detail: str = ""  # an error code, or what else happened


@dataclass
class CleanupReport:
    """What ``clean_up`` deleted, would delete, could not delete (with the error code), or left pending."""

    region: str
    dry_run: bool
    lesson: str | None = None
    entries: list[Entry] = field(default_factory=list)

    def _with(self, status: str) -> list[Entry]:
        return [e for e in self.entries if e.status == status]

    @property
    def deleted(self) -> list[Entry]:
        return self._with(DELETED)

    @property
    def would_delete(self) -> list[Entry]:
        return self._with(WOULD_DELETE)

    @property
    def failed(self) -> list[Entry]:
        return self._with(FAILED)

    @property
    def pending(self) -> list[Entry]:
        return self._with(PENDING)

    @property
    def not_listed(self) -> list[Entry]:
        return self._with(NOT_LISTED)

    @property
    def left(self) -> list[Entry]:
        return self._with(LEFT)

    def names(self, kind: str | None = None, status: str | None = None) -> set[str]:
        return {e.name for e in self.entries if kind in (None, e.kind) and status in (None, e.status)}

    def __str__(self) -> str:
        head = f"labkit cleanup · region {self.region} · lesson {self.lesson or 'all'}"
        head += " · dry run: nothing deleted" if self.dry_run else ""
        lines = [head]
        if not self.entries:
            lines.append(f"  nothing tagged {TAG_KEY} found")
        else:
            rows = [("status", "type", "resource", "lesson", "detail")]
            rows += [(e.status, e.kind, e.name, e.lesson, e.detail) for e in self.entries]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for row in rows:
                cells = [row[i].ljust(widths[i]) for i in range(4)] + [row[4]]
                lines.append(("  " + "  ".join(cells)).rstrip())
        counts = [(s, len(self._with(s))) for s in (DELETED, WOULD_DELETE, PENDING, FAILED, NOT_LISTED, LEFT)]
        lines.append("  " + " · ".join(f"{s} {n}" for s, n in counts if n) if self.entries else "")
        if self.pending or any(e.detail in RETRY_LATER for e in self.failed):
            lines.append("  run `labkit cleanup` again in a few minutes for what AWS is still deleting")
        if self.not_listed:
            lines.append("  'not listed': that service was not checked (missing on this backend, or access denied)")
        if self.left:
            lines.append(
                "  'left': made after the list you confirmed, so not deleted: run `labkit cleanup` again to see it"
            )
        return mask("\n".join(line for line in lines if line))

    def __repr__(self) -> str:
        return str(self)


def mask(text: str) -> str:
    """Belt and braces: no account id (12 digits) ever reaches the screen."""
    return re.sub(r"(?<!\d)\d{12}(?!\d)", lambda m: mask_account(m.group(0)), text)
