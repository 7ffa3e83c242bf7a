"""Re-encrypting every stored value under a new master key (`tidemill secrets rotate-key`)."""

from __future__ import annotations

from server import db, resources, secrets, variables


async def reencrypt_all(pool: db.Pool, old: secrets.Vault, new: secrets.Vault) -> int:
    """Re-encrypt every stored value under a new key, in one transaction; returns the count."""
    count = 0
    async with pool.acquire() as conn, conn.transaction():
        for row in await conn.fetch(db.query("all_ciphertexts")):
            kind, workspace, path = row["kind"], row["workspace"], row["path"]
            where = (variables.context if kind == "variables" else resources.context)(
                workspace, path
            )
            plaintext = old.decrypt(row["ciphertext"], context=where)
            query = "set_variable_ciphertext" if kind == "variables" else "set_resource_ciphertext"
            await conn.execute(
                db.query(query), workspace, path, new.encrypt(plaintext, context=where)
            )
            count += 1
    return count
