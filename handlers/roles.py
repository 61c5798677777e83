"""Admins give roles through one-time invite links and take them back; every change is audited.

Nobody's account id is shown: staff appear with their language and a short pseudonymous code.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from bot.i18n import native_name
from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Reply, Toast, Turn
from handlers.keyboards import back_to_menu
from storage.audit import AuditLog
from storage.models import Organisation, RoleInvite, User, utcnow
from storage.pseudonyms import Pseudonyms

router = Router()

GRANTABLE = ("helper", "moderator", "coordinator")
INVITE_LIFETIME = timedelta(days=7)
TOKEN_PATTERN = r"^r(?P<token>[A-Za-z0-9_-]{16,32})$"


def is_admin(turn: Turn) -> bool:
    """Checked at the moment of every action."""
    return turn.user is not None and "admin" in turn.user.roles


def refusal(turn: Turn) -> list[Reply]:
    """What anyone else gets for role commands and buttons."""
    return [Message("🔒 " + turn._("Only admins can manage roles."), back_to_menu(turn.t))]


def role_label(turn: Turn, role: str) -> str:
    """A role's name in the reader's language."""
    labels = {
        "admin": turn._("Admin"),
        "helper": turn._("Helper (answers questions)"),
        "moderator": turn._("Moderator"),
        "coordinator": turn._("Coordinator of an organisation"),
    }
    return labels.get(role, role)


@router.command("grant")
async def grant_command(turn: Turn) -> list[Reply]:
    """/grant: choose the role to invite someone to."""
    if not is_admin(turn):
        return refusal(turn)
    rows = tuple(
        (Key(role_label(turn, role), callback("roles", "new", role)),) for role in GRANTABLE
    )
    text = "🎫 " + turn._("Which role? I will make a one-time link to send to that person.")
    return [Message(text, (*rows, *back_to_menu(turn.t)))]


@router.command("staff")
async def staff_command(turn: Turn) -> list[Reply]:
    """/staff: everyone with a role, with a button to take each role back."""
    if not is_admin(turn):
        return refusal(turn)
    return await staff_page(turn, edit=False)


async def staff_page(turn: Turn, *, edit: bool) -> list[Reply]:
    """People with roles, by pseudonymous code and language."""
    users = [
        user for user in await turn.session.scalars(select(User).order_by(User.id)) if user.roles
    ]
    lines = [
        "👥 "
        + turn.ngettext("%(count)s person has a role.", "%(count)s people have a role.", len(users))
    ]
    rows = []
    codes = await Pseudonyms.load(turn.session)
    for user in users:
        roles = ", ".join(role_label(turn, role) for role in user.roles)
        lines.append(
            f"• {turn.t.isolate(codes.of(user))} — {native_name(user.locale or 'en')} — {roles}"
        )
        for role in user.roles:
            if role in GRANTABLE:
                label = turn._(
                    "Take back: %(role)s %(who)s", role=role_label(turn, role), who=codes.of(user)
                )
                rows.append((Key("✖️ " + label, callback("roles", "revoke", user.id, role)),))
    return [Message("\n".join(lines), (*rows, *back_to_menu(turn.t)), edit=edit)]


@router.button("roles")
async def roles_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """roles:new:<role>[:<organisation>] and roles:revoke:<user>:<role>; admins only."""
    if not is_admin(turn):
        return refusal(turn)
    assert turn.user is not None
    match args:
        case ("new", "coordinator"):
            organisations = await turn.session.scalars(
                select(Organisation).order_by(Organisation.name)
            )
            rows = tuple(
                (
                    Key(
                        organisation.name[:60],
                        callback("roles", "new", "coordinator", organisation.id),
                    ),
                )
                for organisation in organisations
            )
            return [Message("🏢 " + turn._("Coordinator of which organisation?"), rows, edit=True)]
        case ("new", role) if role in ("helper", "moderator"):
            return await invite(turn, role, None)
        case ("new", "coordinator", organisation) if organisation.isdigit():
            if await turn.session.get(Organisation, int(organisation)) is None:
                raise Expired
            return await invite(turn, "coordinator", int(organisation))
        case ("revoke", user_id, role) if user_id.isdigit() and role in GRANTABLE:
            user = await turn.session.get(User, int(user_id))
            if user is None or role not in user.roles:
                raise Expired
            user.roles = [held for held in user.roles if held != role]
            if role == "coordinator":
                user.organisation_id = None
            codes = await Pseudonyms.load(turn.session)
            await AuditLog(turn.session).record(
                turn.user.id, "role.revoke", {"user": codes.of(user), "role": role}
            )
            return [Toast(turn._("Done.")), *await staff_page(turn, edit=True)]
    raise Expired


async def invite(turn: Turn, role: str, organisation_id: int | None) -> list[Reply]:
    """Make the one-time link, and log who made it."""
    assert turn.user is not None
    token = secrets.token_urlsafe(18)
    turn.session.add(
        RoleInvite(
            token=token, role=role, organisation_id=organisation_id, created_by=turn.user.id,
            expires_at=utcnow() + INVITE_LIFETIME,
        )
    )  # fmt: skip
    await AuditLog(turn.session).record(
        turn.user.id, "role.invite", {"role": role, "organisation": organisation_id}
    )
    link = f"{turn.event.bot_url}?start=r{token}"
    text = "🎫 " + turn._(
        "Send this link to the person, privately. It works once, for 7 days: %(link)s", link=link
    )
    return [Message(text, back_to_menu(turn.t), edit=True)]


async def accept(turn: Turn, token: str) -> list[Reply]:
    """Someone opened an invite link: give them the role if the link is valid."""
    assert turn.user is not None
    invitation = await turn.session.scalar(select(RoleInvite).where(RoleInvite.token == token))
    now = utcnow()
    expires = invitation.expires_at if invitation else now
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=now.tzinfo)
    if invitation is None or invitation.used_at is not None or expires < now:
        text = "⌛ " + turn._("This link has expired or was already used. Ask for a new one.")
        return [Message(text, back_to_menu(turn.t))]
    invitation.used_at = now
    if invitation.role not in turn.user.roles:
        turn.user.roles = [*turn.user.roles, invitation.role]
    if invitation.organisation_id is not None:
        turn.user.organisation_id = invitation.organisation_id
    codes = await Pseudonyms.load(turn.session)
    details = {
        "user": codes.of(turn.user),
        "role": invitation.role,
        "organisation": invitation.organisation_id,
    }
    await AuditLog(turn.session).record(invitation.created_by, "role.grant", details)
    text = "🎉 " + turn._(
        "Welcome to the team! Your new role: %(role)s.", role=role_label(turn, invitation.role)
    )
    return [Message(text, back_to_menu(turn.t))]
