"""`sigma user add|list|show|set-role|disable|enable|rm|passwd` (admin, except passwd)."""

import typer

from sigma.commands.common import (
    AllOption,
    FormatOption,
    PageOption,
    PerPageOption,
    QuietOption,
    confirm_or_yes,
    done,
    listing,
    state,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

COLUMNS = (
    ("ID", lambda u: u["id"][:8]),
    ("Email", lambda u: u["email"]),
    ("Name", lambda u: u["name"], "text", 3),
    ("Role", lambda u: u["role"]),
    ("Active", lambda u: "yes" if u["active"] else "no"),
    ("MFA", lambda u: "on" if u["totp_enabled"] else "off", "keep", 1),
    ("Created", lambda u: u["created_at"][:10], "keep", 2),
)


def _new_password(prompt: str = "Password") -> str:
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)


@app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Email (the login)."),
    role: str = typer.Option("readonly", "--role", help="admin, operator, readonly or agent."),
    name: str = typer.Option("", "--name", help="Display name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin."
    ),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Create a user. Without --password-stdin a random password is generated and shown
    once, and the user must change it at first login.

    Example: sigma user add ops@example.com --role operator --name "Ops team"
    """
    import secrets
    import sys

    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.identity import UserCreate

    generated = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        generated = password = secrets.token_urlsafe(12)
    data = validate(
        UserCreate,
        {
            "email": email,
            "role": role,
            "name": name,
            "password": password,
            "force_password_change": generated is not None,
        },
    )
    user = state(ctx).backend.create_user(data).model_dump(mode="json")
    if quiet or fmt != "table":
        emit(user, fmt, quiet=quiet)
    else:
        done(f"Created user {user['email']} ({user['role']}, {user['id']})")
    if generated:
        done(f"One-time password (shown only now): {generated}")


@app.command("list")
def list_(
    ctx: typer.Context,
    role: str = typer.Option(None, "--role", help="Only this role."),
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List users, newest first. A table shows one page; -q, json, yaml and csv give every
    user unless --page or --per-page asks for a page.

    Example: sigma user list --role operator
    """
    from sigma.output import check_format, emit

    fmt = check_format(fmt)
    backend = state(ctx).backend
    items, footer = listing(
        lambda n, size: backend.list_users(role, n, size),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=quiet,
        fmt=fmt,
        noun="users",
    )
    from sigma.schemas.identity import User

    rows = [u.model_dump(mode="json") for u in items]
    emit(rows, fmt, columns=COLUMNS, quiet=quiet, footer=footer, fields=list(User.model_fields))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="User id, prefix or email."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Show one user.

    Example: sigma user show ops@example.com
    """
    from sigma.output import emit

    emit(state(ctx).backend.get_user(ref).model_dump(mode="json"), fmt, quiet=quiet)


def _update(ctx: typer.Context, ref: str, values: dict, message: str) -> None:
    from sigma.schemas.common import validate
    from sigma.schemas.identity import UserUpdate

    user = state(ctx).backend.update_user(ref, validate(UserUpdate, values))
    done(message.format(email=user.email, role=user.role))


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="User id, prefix or email."),
    role: str = typer.Argument(..., help="admin, operator, readonly or agent."),
) -> None:
    """Change a user's role.

    Example: sigma user set-role ops@example.com admin
    """
    _update(ctx, ref, {"role": role}, "{email} is now {role}")


@app.command("disable")
def disable(
    ctx: typer.Context, ref: str = typer.Argument(..., help="User id, prefix or email.")
) -> None:
    """Disable a user: their tokens and API keys stop working at once.

    Example: sigma user disable old@example.com
    """
    _update(ctx, ref, {"active": False}, "Disabled {email}")


@app.command("enable")
def enable(
    ctx: typer.Context, ref: str = typer.Argument(..., help="User id, prefix or email.")
) -> None:
    """Re-enable a disabled user.

    Example: sigma user enable old@example.com
    """
    _update(ctx, ref, {"active": True}, "Enabled {email}")


@app.command("reset-mfa")
def reset_mfa(
    ctx: typer.Context, ref: str = typer.Argument(..., help="User id, prefix or email.")
) -> None:
    """Turn off a user's MFA (lost phone).

    Example: sigma user reset-mfa ops@example.com
    """
    _update(ctx, ref, {"totp_enabled": False}, "MFA turned off for {email}")


@app.command("rm")
def rm(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="User id, prefix or email."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Delete a user.

    Example: sigma user rm old@example.com --yes
    """
    backend = state(ctx).backend
    user = backend.get_user(ref)
    confirm_or_yes(f"Delete user {user.email}?", yes)
    backend.delete_user(user.id)
    done(f"Deleted user {user.email}")


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    ref: str = typer.Argument(None, help="(admin) another user's id or email; default: yourself."),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read current and new password from stdin, one per line (for yourself) "
        "or the new one (for another user).",
    ),
) -> None:
    """Change your password (remote), or set another user's password (admin).

    Example: sigma user passwd
    """
    import sys

    from sigma.schemas.common import validate
    from sigma.schemas.identity import ChangePassword

    backend = state(ctx).backend
    read = (lambda _p: sys.stdin.readline().rstrip("\n")) if password_stdin else None
    if ref:
        new = read("New password") if read else _new_password("New password")
        _update(
            ctx,
            ref,
            {"password": new, "force_password_change": True},
            "Password set for {email}; they must change it at next login",
        )
        return
    current = (
        read("Current") if read else typer.prompt("Current password", hide_input=True, err=True)
    )
    new = read("New") if read else _new_password("New password")
    user = backend.change_password(
        validate(ChangePassword, {"current_password": current, "new_password": new})
    )
    done(f"Password changed for {user.email}")
