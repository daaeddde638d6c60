"""What a migration needs that Alembic does not do on both engines: letting an
enum column (VARCHAR with a CHECK) take more values. Used by migrations only."""


def _check(table: str, column: str, name: str, values: list[str]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"CONSTRAINT ck_{table}_{name} CHECK ({column} IN ({listed}))"


def widen_enum(op, table: str, column: str, name: str, before: list[str], after: list[str]) -> None:
    """Let an enum column (VARCHAR with a CHECK) take other values.

    PostgreSQL replaces the constraint. SQLite cannot alter a constraint, and
    rebuilding `cases` would drop its state trigger and trip the foreign keys that
    point at it; so the constraint's text is changed in the schema table, the
    procedure SQLite documents for changing a CHECK constraint (lang_altertable,
    section 7), with the schema version bumped so every connection reads it anew.
    The constraint must read exactly as the migration that made it wrote it, or
    this stops and changes nothing."""
    old, new = _check(table, column, name, before), _check(table, column, name, after)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_{name}")
        op.execute(f"ALTER TABLE {table} ADD {new}")
        return
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (table,)).scalar_one()
    if sql.count(old) != 1:
        raise RuntimeError(f"{table}: constraint ck_{table}_{name} is not as expected; not changed")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                         (sql.replace(old, new), table))
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
