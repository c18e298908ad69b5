//! The SQL both backends share.
//!
//! The two schemas have the same logical shape and the statements below are plain SQL that
//! SQLite and PostgreSQL both accept (`$N` placeholders, `ON CONFLICT ... DO UPDATE`,
//! `DELETE ... RETURNING`), so reading and writing the configuration is written once,
//! generically over the sqlx database. What differs per backend lives in its own module:
//! how a transaction starts, how the write lock is taken, and connection setup.
//!
//! Every function here runs inside a transaction the caller opened, and maps database
//! failures to [`StoreError::Backend`] saying what it was doing.

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::{Change, Loaded, PolicyRecord, Record, StoreError};

/// Wraps a database error with what the store was doing when it happened.
pub(crate) fn backend(doing: &str, err: sqlx::Error) -> StoreError {
    StoreError::Backend(format!("{doing}: {}", cause(&err)))
}

/// The error's own words: the database's message without sqlx's "error returned from
/// database" preamble.
pub(crate) fn cause(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        err => err.to_string(),
    }
}

/// The two tables holding [`Record`]s.
#[derive(Clone, Copy)]
enum Table {
    Trunks,
    Rules,
}

impl Table {
    fn select_sql(self) -> &'static str {
        match self {
            Table::Trunks => {
                "SELECT id, name, body, created_at_ms, updated_at_ms FROM trunks ORDER BY id"
            }
            Table::Rules => {
                "SELECT id, name, body, created_at_ms, updated_at_ms \
                 FROM dispatch_rules ORDER BY id"
            }
        }
    }

    fn upsert_sql(self) -> &'static str {
        match self {
            Table::Trunks => {
                "INSERT INTO trunks (id, name, body, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, body = excluded.body, \
                 created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms"
            }
            Table::Rules => {
                "INSERT INTO dispatch_rules (id, name, body, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, body = excluded.body, \
                 created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms"
            }
        }
    }

    fn delete_sql(self) -> &'static str {
        match self {
            Table::Trunks => "DELETE FROM trunks WHERE id = $1 RETURNING id",
            Table::Rules => "DELETE FROM dispatch_rules WHERE id = $1 RETURNING id",
        }
    }

    /// What [`StoreError::NotFound`] calls a record of this table.
    fn what(self) -> &'static str {
        match self {
            Table::Trunks => "trunk",
            Table::Rules => "dispatch rule",
        }
    }
}

/// Reads the configuration version.
pub(crate) async fn read_version<'c, DB, E>(executor: E) -> Result<i64, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let row = sqlx::query::<DB>("SELECT version FROM config_meta WHERE id = 1")
        .fetch_optional(executor)
        .await
        .map_err(|e| backend("reading the configuration version", e))?;
    match row {
        Some(row) => row
            .try_get::<i64, _>(0)
            .map_err(|e| backend("reading the configuration version", e)),
        None => Err(StoreError::Backend(
            "reading the configuration version: the config_meta row is missing; \
             the database is damaged or was not created by switchboard"
                .to_owned(),
        )),
    }
}

/// Reads everything. The caller runs this in one transaction that sees a single snapshot,
/// so the version matches the records.
pub(crate) async fn read_all<DB>(conn: &mut DB::Connection) -> Result<Loaded, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let version = read_version::<DB, _>(&mut *conn).await?;
    let trunks = read_records::<DB>(&mut *conn, Table::Trunks).await?;
    let rules = read_records::<DB>(&mut *conn, Table::Rules).await?;

    let doing = "loading route policies";
    let rows = sqlx::query::<DB>(
        "SELECT rule_id, body_json, created_at_ms, updated_at_ms \
         FROM route_policies ORDER BY rule_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| backend(doing, e))?;
    let policies = rows
        .iter()
        .map(|row| {
            Ok(PolicyRecord {
                rule_id: row.try_get(0)?,
                body_json: row.try_get(1)?,
                created_at_ms: row.try_get(2)?,
                updated_at_ms: row.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(|e| backend(doing, e))?;

    Ok(Loaded {
        version,
        trunks,
        rules,
        policies,
    })
}

async fn read_records<DB>(
    conn: &mut DB::Connection,
    table: Table,
) -> Result<Vec<Record>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = format!("loading {}s", table.what());
    let rows = sqlx::query::<DB>(table.select_sql())
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| backend(&doing, e))?;
    rows.iter()
        .map(|row| {
            Ok(Record {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                body: row.try_get(2)?,
                created_at_ms: row.try_get(3)?,
                updated_at_ms: row.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(|e| backend(&doing, e))
}

/// Checks the version and applies `changes`, inside a transaction that already holds the
/// write lock. Returns the new version. On error the caller rolls the transaction back.
pub(crate) async fn apply_locked<DB>(
    conn: &mut DB::Connection,
    expected_version: i64,
    changes: &[Change],
) -> Result<i64, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let current = read_version::<DB, _>(&mut *conn).await?;
    if current != expected_version {
        return Err(StoreError::Stale { current });
    }
    for change in changes {
        match change {
            Change::PutTrunk(record) => put_record::<DB>(conn, Table::Trunks, record).await?,
            Change::DeleteTrunk(id) => delete_record::<DB>(conn, Table::Trunks, id).await?,
            Change::PutRule(record) => put_record::<DB>(conn, Table::Rules, record).await?,
            Change::DeleteRule(id) => {
                delete_record::<DB>(conn, Table::Rules, id).await?;
                sqlx::query::<DB>("DELETE FROM route_policies WHERE rule_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| backend("deleting the dispatch rule's route policy", e))?;
            }
            Change::PutPolicy(policy) => put_policy::<DB>(conn, policy).await?,
            Change::DeletePolicy(rule_id) => delete_policy::<DB>(conn, rule_id).await?,
        }
    }
    let next = expected_version + 1;
    sqlx::query::<DB>("UPDATE config_meta SET version = $1 WHERE id = 1")
        .bind(next)
        .execute(&mut *conn)
        .await
        .map_err(|e| backend("bumping the configuration version", e))?;
    Ok(next)
}

/// Commits a write transaction whose changes succeeded, or rolls it back now (releasing the
/// write lock before the next writer starts, rather than when the pool next reuses the
/// connection; if the rollback fails, dropping the transaction queues another).
pub(crate) async fn finish<DB: Database>(
    tx: sqlx::Transaction<'_, DB>,
    result: Result<i64, StoreError>,
    doing: &str,
) -> Result<i64, StoreError> {
    match result {
        Ok(version) => {
            tx.commit().await.map_err(|e| backend(doing, e))?;
            Ok(version)
        }
        Err(err) => {
            let _ = tx.rollback().await;
            Err(err)
        }
    }
}

async fn put_record<DB>(
    conn: &mut DB::Connection,
    table: Table,
    record: &Record,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(table.upsert_sql())
        .bind(record.id.as_str())
        .bind(record.name.as_str())
        .bind(record.body.as_slice())
        .bind(record.created_at_ms)
        .bind(record.updated_at_ms)
        .execute(&mut *conn)
        .await
        .map_err(|e| backend(&format!("saving {} {}", table.what(), record.id), e))?;
    Ok(())
}

async fn delete_record<DB>(
    conn: &mut DB::Connection,
    table: Table,
    id: &str,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    let deleted = sqlx::query::<DB>(table.delete_sql())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| backend(&format!("deleting {} {id}", table.what()), e))?;
    match deleted {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound {
            what: table.what(),
            id: id.to_owned(),
        }),
    }
}

async fn put_policy<DB>(conn: &mut DB::Connection, policy: &PolicyRecord) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO route_policies (rule_id, body_json, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (rule_id) DO UPDATE SET body_json = excluded.body_json, \
         created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(policy.rule_id.as_str())
    .bind(policy.body_json.as_str())
    .bind(policy.created_at_ms)
    .bind(policy.updated_at_ms)
    .execute(&mut *conn)
    .await
    .map_err(|e| backend(&format!("saving route policy {}", policy.rule_id), e))?;
    Ok(())
}

async fn delete_policy<DB>(conn: &mut DB::Connection, rule_id: &str) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    let deleted =
        sqlx::query::<DB>("DELETE FROM route_policies WHERE rule_id = $1 RETURNING rule_id")
            .bind(rule_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| backend(&format!("deleting route policy {rule_id}"), e))?;
    match deleted {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound {
            what: "route policy",
            id: rule_id.to_owned(),
        }),
    }
}
