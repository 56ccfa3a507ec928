"""Who is acting: the plain value delivery code hands to the domain (never a User document)."""
from __future__ import annotations

from dataclasses import dataclass, field

# lead: a department's head, hears of overdue cases; helper: 帮办代办 staff acting for residents who authorised them
ROLES = ("resident", "designer", "approver", "lead", "helper", "admin")


@dataclass(frozen=True)
class Actor:
    user_id: str
    roles: frozenset[str] = frozenset()
    # role → department ids where the role is held (designer, approver and lead are held per department)
    departments: dict = field(default_factory=dict, hash=False, compare=False)
    username: str = ""
    session_id: str | None = None   # the login session behind the token, for logout
    display_name: str = ""          # what others read (a timeline's 办理人); never the login name

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def has_role(self, role: str, department_id: str | None = None) -> bool:
        if role not in self.roles:
            return False
        return department_id is None or department_id in self.departments.get(role, ())

    def may_design(self, department_id: str | None = None) -> bool:
        """Admins design for every department; designers for theirs (for some department, when none is named)."""
        return self.is_admin or self.has_role("designer", department_id)

    def require_designer(self) -> None:
        """Forbidden (403) unless the actor may design for at least one department."""
        from core.errors import Forbidden

        if not self.may_design():
            raise Forbidden()

    def department_ids(self, role: str) -> frozenset[str]:
        return frozenset(self.departments.get(role, ()))

    @classmethod
    def system(cls) -> "Actor":
        """The actor for command-line and background work."""
        return cls(user_id="system", roles=frozenset({"admin"}), username="system")
