"""What `kefu config apply` plans and did: one `Change` per named thing, and the run's report.

Its own module so that the section appliers and the run that drives them both import it
downward (kefu.config.apply imports the appliers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["create", "update", "unchanged", "remove", "keep"]


@dataclass(frozen=True)
class Change:
    section: str
    name: str
    action: Action
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        what = {
            "create": f"create ({', '.join(self.fields)})" if self.fields else "create",
            "update": f"update ({', '.join(self.fields)})",
            "unchanged": "unchanged",
            "remove": "remove (not in the file; --prune)"
            + ("; DELETE IT IN WECOM (--delete-in-wecom)" if "delete_in_wecom" in self.fields else ""),
            "keep": "not in the file, kept (use --prune to remove it)",
        }[self.action]
        return f"{self.section}.{self.name}: {what}"


@dataclass
class ApplyReport:
    file: str
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action in ("create", "update", "remove")]

    def summary(self) -> str:
        if not self.pending:
            return f"{self.file}: unchanged (the database already matches the file)"
        counts = {a: sum(c.action == a for c in self.pending) for a in ("create", "update", "remove")}
        done = ", ".join(f"{n} to {a}" if self.dry_run else f"{n} {a}d" for a, n in counts.items() if n)
        if self.dry_run:
            return f"{self.file}: dry run, nothing was changed ({done})"
        return f"{self.file}: applied ({done})"
