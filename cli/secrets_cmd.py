"""`tidemill secrets ...`: operations on the master key."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from server import settings

app = typer.Typer(help="Manage the master key that encrypts variables and resources.")


async def _rotate(config: settings.Settings, dsn: str, new_key_text: str) -> int:
    from server import db, rotation, secrets

    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        old = secrets.Vault(secrets.master_key(config))
        new = secrets.Vault(secrets.key_from_text(new_key_text))
        return await rotation.reencrypt_all(pool, old, new)
    finally:
        await pool.close()


@app.command("rotate-key")
def rotate_key(
    new_key: Annotated[
        str | None,
        typer.Option(
            help="The new key (default: a random one). Needed when TIDEMILL_SECRET_KEY is set."
        ),
    ] = None,
) -> None:
    """Re-encrypt every variable and resource under a new master key, in one transaction."""
    # imported here: the other commands talk HTTP and should not load the database stack
    from server import errors, secrets, settings

    config = settings.from_env()
    if not config.database_url:
        typer.echo("error: set TIDEMILL_DATABASE_URL to the database to re-encrypt", err=True)
        raise typer.Exit(1)
    if config.secret_key and not new_key:
        typer.echo("error: TIDEMILL_SECRET_KEY is set: pass --new-key, then set it", err=True)
        raise typer.Exit(1)
    key_text = new_key or secrets.new_key_text()
    try:
        count = asyncio.run(_rotate(config, config.database_url, key_text))
    except errors.TidemillError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    if config.secret_key:
        typer.echo(f"re-encrypted {count} values; now set TIDEMILL_SECRET_KEY to the new key")
    else:
        secrets.write_key_file(config.home / secrets.KEY_FILE, key_text)
        typer.echo(
            f"re-encrypted {count} values; new key saved to {config.home / secrets.KEY_FILE}"
        )
