//! The SQL both backends share.
//!
//! The two schemas have the same logical shape and the statements below are plain SQL that
//! SQLite and PostgreSQL both accept (`$N` placeholders, `ON CONFLICT ... DO UPDATE`,
//! `DELETE ... RETURNING`), so reading and writing the configuration is written once,
//! generically over the sqlx database. What differs per backend lives in its own module:
//! how a transaction starts, how the write lock is taken, and connection setup.
//!
//! Call records and capacity slots follow the same pattern; the one per-backend twist in
//! here is that statements with thousands of parameters use anonymous `?` placeholders on
//! SQLite (see [`anonymous_placeholders`]).
//!
//! Every function here runs on a connection or inside a transaction the caller opened,
//! and maps database failures to [`StoreError::Backend`] saying what it was doing.

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use std::collections::HashMap;

use crate::calls::PageOrder;
use crate::{
    AgentEndpoint, CallCounts, CallFilter, CallPage, CallRecord, CallStatus, Change, FinalStatus,
    Loaded, PolicyRecord, Record, StoreError, WebhookDelivery,
};

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
pub(crate) async fn finish<DB: Database, T>(
    tx: sqlx::Transaction<'_, DB>,
    result: Result<T, StoreError>,
    doing: &str,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(|e| backend(doing, e))?;
            Ok(value)
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

// ---------------------------------------------------------------------------------------
// Call records

/// The columns of `calls`, in the order of [`CallRecord`]'s fields.
const CALL_COLUMNS: [&str; 21] = [
    "id",
    "sip_call_id",
    "node_id",
    "trunk_id",
    "rule_id",
    "routed_from_rule_id",
    "room_name",
    "caller",
    "called",
    "source_ip",
    "transport",
    "state",
    "final_status",
    "sip_status",
    "reason",
    "hangup_by",
    "pin_attempts",
    "created_at_ms",
    "answered_at_ms",
    "ended_at_ms",
    "updated_at_ms",
];

/// Rows per `INSERT` statement of [`save_calls`]: 512 × 21 = 10,752 parameters, well under
/// SQLite's limit (32,766) and PostgreSQL's (65,535). A power of two: see [`row_chunks`].
pub(crate) const CALL_CHUNK_ROWS: usize = 512;

/// Whether statements with many parameters should use anonymous `?` placeholders.
///
/// SQLite looks a numbered or named parameter's name up by a linear scan, and sqlx asks for
/// every parameter's name when binding, so binding `$1..$N` costs O(N²): ~0.5 s for one
/// 10,000-parameter statement. Anonymous `?` parameters have no name and bind in O(N).
/// PostgreSQL only understands `$N`.
fn anonymous_placeholders<DB: Database>() -> bool {
    DB::NAME == "SQLite"
}

/// The multi-row upsert for `2^log2` rows. Only powers of two up to [`CALL_CHUNK_ROWS`] are
/// ever built, so both databases' prepared-statement caches hold at most ten of them.
fn call_upsert_sql(log2: u32, anonymous: bool) -> &'static str {
    static NUMBERED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    static ANONYMOUS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let cache = if anonymous { &ANONYMOUS } else { &NUMBERED };
    let all = cache.get_or_init(|| {
        let columns = CALL_COLUMNS.join(", ");
        let updates = CALL_COLUMNS[1..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        (0..=CALL_CHUNK_ROWS.trailing_zeros())
            .map(|log2| {
                let rows = 1usize << log2;
                let mut sql = format!("INSERT INTO calls ({columns}) VALUES ");
                for row in 0..rows {
                    if row > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('(');
                    sql.push_str(&placeholders(
                        row * CALL_COLUMNS.len() + 1,
                        CALL_COLUMNS.len(),
                        anonymous,
                    ));
                    sql.push(')');
                }
                sql.push_str(&format!(
                    " ON CONFLICT (id) DO UPDATE SET {updates} \
                     WHERE excluded.updated_at_ms >= calls.updated_at_ms"
                ));
                sql
            })
            .collect()
    });
    &all[log2 as usize]
}

/// Splits `len` rows into statement sizes: full chunks, then the powers of two of the
/// remainder (300 = 256 + 32 + 8 + 4), so every statement has one of ten shapes.
pub(crate) fn row_chunks(len: usize) -> impl Iterator<Item = usize> {
    let full = len / CALL_CHUNK_ROWS;
    let rest = len % CALL_CHUNK_ROWS;
    std::iter::repeat_n(CALL_CHUNK_ROWS, full).chain(
        (0..CALL_CHUNK_ROWS.trailing_zeros())
            .rev()
            .map(|bit| 1usize << bit)
            .filter(move |size| rest & size != 0),
    )
}

/// The records to write: one per id (the newest `updated_at_ms`, the later one on a tie,
/// as the database would have kept), in id order so that concurrent batches lock rows in
/// the same order (no deadlocks on PostgreSQL; PostgreSQL also refuses a statement that
/// upserts one id twice).
fn newest_per_id(records: &[CallRecord]) -> Vec<&CallRecord> {
    let mut newest: std::collections::BTreeMap<&str, &CallRecord> = Default::default();
    for record in records {
        newest
            .entry(record.id.as_str())
            .and_modify(|kept| {
                if record.updated_at_ms >= kept.updated_at_ms {
                    *kept = record;
                }
            })
            .or_insert(record);
    }
    newest.into_values().collect()
}

/// Upserts `records` (see [`Store::save_calls`](crate::Store::save_calls)) and drops the
/// capacity slots of calls that are now over, inside the caller's write transaction.
pub(crate) async fn save_calls<DB>(
    conn: &mut DB::Connection,
    records: &[CallRecord],
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    let records = newest_per_id(records);
    if let Some(bad) = records.iter().find(|r| r.id.is_empty()) {
        return Err(StoreError::InvalidArgument(format!(
            "a call record needs an id (SIP Call-ID {:?})",
            bad.sip_call_id
        )));
    }
    let mut rest = records.as_slice();
    for rows in row_chunks(rest.len()) {
        let (chunk, after) = rest.split_at(rows);
        rest = after;
        let sql = call_upsert_sql(rows.trailing_zeros(), anonymous_placeholders::<DB>());
        let mut query = sqlx::query::<DB>(sql);
        for r in chunk {
            query = query
                .bind(r.id.as_str())
                .bind(r.sip_call_id.as_str())
                .bind(r.node_id.as_str())
                .bind(r.trunk_id.as_deref())
                .bind(r.rule_id.as_deref())
                .bind(r.routed_from_rule_id.as_deref())
                .bind(r.room_name.as_deref())
                .bind(r.caller.as_str())
                .bind(r.called.as_str())
                .bind(r.source_ip.as_str())
                .bind(r.transport.as_str())
                .bind(r.state.as_str())
                .bind(r.final_status.map(FinalStatus::as_str))
                .bind(r.sip_status.map(i64::from))
                .bind(r.reason.as_deref())
                .bind(r.hangup_by.as_deref())
                .bind(i64::from(r.pin_attempts))
                .bind(r.created_at_ms)
                .bind(r.answered_at_ms)
                .bind(r.ended_at_ms)
                .bind(r.updated_at_ms);
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| backend(&format!("saving {rows} call records"), e))?;
    }

    // Slots of calls that are over are garbage (normally released already; this catches a
    // release that was lost).
    let ended: Vec<&str> = records
        .iter()
        .filter(|r| r.final_status.is_some())
        .map(|r| r.id.as_str())
        .collect();
    for chunk in ended.chunks(CALL_CHUNK_ROWS) {
        let sql = format!(
            "DELETE FROM call_slots WHERE call_id IN ({})",
            placeholders(1, chunk.len(), anonymous_placeholders::<DB>())
        );
        let mut query = sqlx::query::<DB>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| backend("releasing the capacity slots of ended calls", e))?;
    }
    Ok(())
}

/// `$first, $first+1, ...` (or `?, ?, ...`), `count` of them.
fn placeholders(first: usize, count: usize, anonymous: bool) -> String {
    if anonymous {
        return vec!["?"; count].join(", ");
    }
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn select_calls_sql() -> String {
    format!("SELECT {} FROM calls", CALL_COLUMNS.join(", "))
}

fn call_from_row<DB>(row: &DB::Row) -> Result<CallRecord, StoreError>
where
    DB: Database,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = "reading a call record";
    let id: String = row.try_get(0).map_err(|e| backend(doing, e))?;
    let damaged = |what: String| {
        StoreError::Backend(format!(
            "reading call record {id}: {what}; the row was written by a newer switchboard or \
             edited by hand"
        ))
    };
    let get_str = |i: usize| row.try_get::<String, _>(i).map_err(|e| backend(doing, e));
    let get_opt_str = |i: usize| {
        row.try_get::<Option<String>, _>(i)
            .map_err(|e| backend(doing, e))
    };
    let get_i64 = |i: usize| row.try_get::<i64, _>(i).map_err(|e| backend(doing, e));
    let get_opt_i64 = |i: usize| {
        row.try_get::<Option<i64>, _>(i)
            .map_err(|e| backend(doing, e))
    };

    let state = get_str(11)?;
    let state = state
        .parse()
        .map_err(|_| damaged(format!("unknown state {state:?}")))?;
    let final_status = match get_opt_str(12)? {
        None => None,
        Some(text) => Some(
            text.parse()
                .map_err(|_| damaged(format!("unknown final status {text:?}")))?,
        ),
    };
    let sip_status = match get_opt_i64(13)? {
        None => None,
        Some(code) => Some(
            u16::try_from(code).map_err(|_| damaged(format!("SIP status {code} out of range")))?,
        ),
    };
    let pin_attempts = get_i64(16)?;
    let pin_attempts = u32::try_from(pin_attempts)
        .map_err(|_| damaged(format!("pin_attempts {pin_attempts} out of range")))?;
    Ok(CallRecord {
        sip_call_id: get_str(1)?,
        node_id: get_str(2)?,
        trunk_id: get_opt_str(3)?,
        rule_id: get_opt_str(4)?,
        routed_from_rule_id: get_opt_str(5)?,
        room_name: get_opt_str(6)?,
        caller: get_str(7)?,
        called: get_str(8)?,
        source_ip: get_str(9)?,
        transport: get_str(10)?,
        state,
        final_status,
        sip_status,
        reason: get_opt_str(14)?,
        hangup_by: get_opt_str(15)?,
        pin_attempts,
        created_at_ms: get_i64(17)?,
        answered_at_ms: get_opt_i64(18)?,
        ended_at_ms: get_opt_i64(19)?,
        updated_at_ms: get_i64(20)?,
        id,
    })
}

pub(crate) async fn get_call<DB>(
    conn: &mut DB::Connection,
    id: &str,
) -> Result<Option<CallRecord>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let sql = format!("{} WHERE id = $1", select_calls_sql());
    let row = sqlx::query::<DB>(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| backend(&format!("reading call {id}"), e))?;
    row.as_ref().map(call_from_row::<DB>).transpose()
}

/// A bind parameter of a query built at run time.
enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// A `WHERE` clause under construction: conditions joined with `AND`, `$N` numbered in
/// the order the parameters are pushed.
#[derive(Default)]
struct Conditions<'a> {
    sql: Vec<String>,
    params: Vec<Param<'a>>,
}

impl<'a> Conditions<'a> {
    /// The placeholder for `param`.
    fn param(&mut self, param: Param<'a>) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    fn push(&mut self, condition: String) {
        self.sql.push(condition);
    }

    fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }
}

pub(crate) async fn list_calls<DB>(
    conn: &mut DB::Connection,
    filter: &CallFilter,
) -> Result<CallPage, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let cursor = filter.cursor()?;
    let order = filter.order();
    let page_size = filter.page_size();

    let mut cond = Conditions::default();
    if let Some(rule_id) = &filter.rule_id {
        let p = cond.param(Param::Text(rule_id));
        cond.push(format!("rule_id = {p}"));
    }
    if let Some(trunk_id) = &filter.trunk_id {
        let p = cond.param(Param::Text(trunk_id));
        cond.push(format!("trunk_id = {p}"));
    }
    match filter.status {
        None => {}
        Some(CallStatus::Live) => cond.push("final_status IS NULL".to_owned()),
        Some(CallStatus::Final(status)) => {
            let p = cond.param(Param::Text(status.as_str()));
            cond.push(format!("final_status = {p}"));
        }
    }
    // The number filter is not a condition: it splits the query in two (below).
    let number = filter
        .number
        .as_deref()
        .map(|number| cond.param(Param::Text(number)));
    if let Some(since) = filter.since_ms {
        let p = cond.param(Param::Int(since));
        cond.push(format!("created_at_ms >= {p}"));
    }
    // A cursor implies the bound on its own order's column (its row met the bound: the
    // token is tied to the filter), and leaving the looser bound out keeps SQLite from
    // scanning the index from that bound rather than from the cursor.
    if let Some(until) = filter.until_ms
        && !(cursor.is_some() && order == PageOrder::Newest)
    {
        let p = cond.param(Param::Int(until));
        cond.push(format!("created_at_ms < {p}"));
    }
    if let Some(after) = filter.updated_after_ms
        && cursor.is_none()
    {
        let p = cond.param(Param::Int(after));
        cond.push(format!("updated_at_ms > {p}"));
    }
    let (time_column, direction, compare) = match order {
        PageOrder::Newest => ("created_at_ms", "DESC", "<"),
        PageOrder::Changes => ("updated_at_ms", "ASC", ">"),
    };
    if let Some(cursor) = &cursor {
        // Row-value comparison: both databases use the (time, id) index for it.
        let t = cond.param(Param::Int(cursor.time_ms));
        let i = cond.param(Param::Text(&cursor.id));
        cond.push(format!("({time_column}, id) {compare} ({t}, {i})"));
    }
    // One more than the page: tells whether there is a next page.
    let limit = cond.param(Param::Int(i64::from(page_size) + 1));
    let order_by = format!("ORDER BY {time_column} {direction}, id {direction} LIMIT {limit}");
    let sql = match number {
        None => format!("{}{} {order_by}", select_calls_sql(), cond.where_clause()),
        // `caller = n OR called = n` would make both databases collect every call of the
        // number and sort them (a busy DID has most of the table). Instead: the first page
        // of each side, each read in order from its own index, then merged.
        Some(n) => {
            let branch = |column: &str, alias: &str| {
                let mut branch = Conditions {
                    sql: cond.sql.clone(),
                    params: Vec::new(),
                };
                branch.push(format!("{column} = {n}"));
                format!(
                    "SELECT * FROM ({}{} {order_by}) AS {alias}",
                    select_calls_sql(),
                    branch.where_clause()
                )
            };
            format!(
                "SELECT {} FROM ({} UNION {}) AS either {order_by}",
                CALL_COLUMNS.join(", "),
                branch("caller", "by_caller"),
                branch("called", "by_called"),
            )
        }
    };

    let mut query = sqlx::query::<DB>(&sql);
    for param in &cond.params {
        query = match param {
            Param::Text(text) => query.bind(*text),
            Param::Int(int) => query.bind(*int),
        };
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| backend("listing calls", e))?;
    let more = rows.len() > page_size as usize;
    let mut calls = rows
        .iter()
        .take(page_size as usize)
        .map(call_from_row::<DB>)
        .collect::<Result<Vec<_>, _>>()?;
    calls.shrink_to_fit();

    let next_page_token = match (order, calls.last()) {
        (PageOrder::Newest, Some(last)) if more => {
            Some(filter.token_after(last.created_at_ms, &last.id))
        }
        (PageOrder::Newest, _) => None,
        (PageOrder::Changes, Some(last)) => Some(filter.token_after(last.updated_at_ms, &last.id)),
        (PageOrder::Changes, None) => filter.page_token.clone().filter(|t| !t.is_empty()),
    };
    Ok(CallPage {
        calls,
        next_page_token,
    })
}

pub(crate) async fn call_counts<DB>(
    conn: &mut DB::Connection,
    rule_ids: Option<&[String]>,
) -> Result<Vec<CallCounts>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = "counting calls per rule";
    let select = "SELECT rule_id, \
                  SUM(CASE WHEN final_status IS NULL THEN 1 ELSE 0 END), \
                  SUM(CASE WHEN final_status = 'completed' THEN 1 ELSE 0 END), \
                  COUNT(*) \
                  FROM calls";
    let mut counts: std::collections::BTreeMap<String, CallCounts> = Default::default();
    let mut collect = |rows: Vec<DB::Row>| -> Result<(), StoreError> {
        for row in rows {
            let rule_id: String = row.try_get(0).map_err(|e| backend(doing, e))?;
            let get = |i: usize| -> Result<u64, StoreError> {
                let n: i64 = row.try_get(i).map_err(|e| backend(doing, e))?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            let entry = CallCounts {
                live: get(1)?,
                completed: get(2)?,
                total: get(3)?,
                rule_id: rule_id.clone(),
            };
            counts.insert(rule_id, entry);
        }
        Ok(())
    };
    match rule_ids {
        None => {
            let sql = format!("{select} WHERE rule_id IS NOT NULL GROUP BY rule_id");
            let rows = sqlx::query::<DB>(&sql)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| backend(doing, e))?;
            collect(rows)?;
        }
        Some(rule_ids) => {
            for chunk in rule_ids.chunks(CALL_CHUNK_ROWS) {
                let sql = format!(
                    "{select} WHERE rule_id IN ({}) GROUP BY rule_id",
                    placeholders(1, chunk.len(), anonymous_placeholders::<DB>())
                );
                let mut query = sqlx::query::<DB>(&sql);
                for id in chunk {
                    query = query.bind(id.as_str());
                }
                let rows = query
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| backend(doing, e))?;
                collect(rows)?;
            }
            for id in rule_ids {
                counts.entry(id.clone()).or_insert_with(|| CallCounts {
                    rule_id: id.clone(),
                    ..CallCounts::default()
                });
            }
        }
    }
    Ok(counts.into_values().collect())
}

/// Closes the node's live calls as interrupted and drops its slots, inside the caller's
/// write transaction. Returns the result of the `UPDATE` (its row count is the answer).
pub(crate) async fn close_interrupted<DB>(
    conn: &mut DB::Connection,
    node_id: &str,
    now_ms: i64,
) -> Result<DB::QueryResult, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    // updated_at_ms moves past every earlier write, so a late batch from before the crash
    // cannot reopen the call (and `calls tail` sees the change).
    let closed = sqlx::query::<DB>(
        "UPDATE calls SET state = 'ended', final_status = 'interrupted', \
         reason = 'interrupted', ended_at_ms = $2, \
         updated_at_ms = CASE WHEN updated_at_ms < $2 THEN $2 ELSE updated_at_ms + 1 END \
         WHERE node_id = $1 AND final_status IS NULL",
    )
    .bind(node_id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        backend(
            &format!("closing the interrupted calls of node {node_id}"),
            e,
        )
    })?;
    release_node_slots::<DB>(conn, node_id).await?;
    Ok(closed)
}

// ---------------------------------------------------------------------------------------
// Capacity slots

/// Counts the rule's slots and takes one for `call_id` if there is room, inside a
/// transaction that holds the rule's capacity lock (see the backends). Returns whether the
/// call holds a slot of `rule_id` now.
pub(crate) async fn take_slot_locked<DB>(
    conn: &mut DB::Connection,
    rule_id: &str,
    limit: u32,
    call_id: &str,
    node_id: &str,
    now_ms: i64,
) -> Result<bool, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = format!("taking a capacity slot of rule {rule_id}");
    // One round trip: the rule this call holds a slot of (if any), and the rule's count.
    let (held, taken): (Option<String>, i64) = sqlx::query::<DB>(
        "SELECT (SELECT rule_id FROM call_slots WHERE call_id = $1), \
         (SELECT COUNT(*) FROM call_slots WHERE rule_id = $2)",
    )
    .bind(call_id)
    .bind(rule_id)
    .fetch_one(&mut *conn)
    .await
    .and_then(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
    .map_err(|e| backend(&doing, e))?;
    if held.as_deref() == Some(rule_id) {
        return Ok(true);
    }
    if taken >= i64::from(limit) {
        return Ok(false);
    }
    // A call holding a slot of another rule (sent on by a route policy) moves it.
    sqlx::query::<DB>(
        "INSERT INTO call_slots (call_id, rule_id, node_id, taken_at_ms) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (call_id) DO UPDATE SET rule_id = excluded.rule_id, \
         node_id = excluded.node_id, taken_at_ms = excluded.taken_at_ms",
    )
    .bind(call_id)
    .bind(rule_id)
    .bind(node_id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .map_err(|e| backend(&doing, e))?;
    Ok(true)
}

pub(crate) async fn release_slot<DB>(
    conn: &mut DB::Connection,
    call_id: &str,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>("DELETE FROM call_slots WHERE call_id = $1")
        .bind(call_id)
        .execute(&mut *conn)
        .await
        .map_err(|e| backend(&format!("releasing the capacity slot of call {call_id}"), e))?;
    Ok(())
}

pub(crate) async fn release_node_slots<DB>(
    conn: &mut DB::Connection,
    node_id: &str,
) -> Result<DB::QueryResult, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>("DELETE FROM call_slots WHERE node_id = $1")
        .bind(node_id)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            backend(
                &format!("releasing the capacity slots of node {node_id}"),
                e,
            )
        })
}

pub(crate) async fn slot_counts<DB>(
    conn: &mut DB::Connection,
) -> Result<HashMap<String, u32>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = "counting capacity slots";
    let rows = sqlx::query::<DB>("SELECT rule_id, COUNT(*) FROM call_slots GROUP BY rule_id")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| backend(doing, e))?;
    rows.iter()
        .map(|row| {
            let rule_id: String = row.try_get(0)?;
            let count: i64 = row.try_get(1)?;
            Ok((rule_id, u32::try_from(count).unwrap_or(u32::MAX)))
        })
        .collect::<Result<HashMap<_, _>, sqlx::Error>>()
        .map_err(|e| backend(doing, e))
}

// ---------------------------------------------------------------------------------------
// Media-stream agent endpoints

const SELECT_ENDPOINTS: &str =
    "SELECT agent_name, url, created_at_ms, updated_at_ms FROM agent_endpoints";

fn endpoint_from_row<DB>(row: &DB::Row) -> Result<AgentEndpoint, sqlx::Error>
where
    DB: Database,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    Ok(AgentEndpoint {
        agent_name: row.try_get(0)?,
        url: row.try_get(1)?,
        created_at_ms: row.try_get(2)?,
        updated_at_ms: row.try_get(3)?,
    })
}

pub(crate) async fn list_agent_endpoints<DB>(
    conn: &mut DB::Connection,
) -> Result<Vec<AgentEndpoint>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = "listing agent endpoints";
    let rows = sqlx::query::<DB>(&format!("{SELECT_ENDPOINTS} ORDER BY agent_name"))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| backend(doing, e))?;
    rows.iter()
        .map(endpoint_from_row::<DB>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| backend(doing, e))
}

pub(crate) async fn get_agent_endpoint<DB>(
    conn: &mut DB::Connection,
    agent_name: &str,
) -> Result<Option<AgentEndpoint>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = format!("reading the agent endpoint of {agent_name:?}");
    let row = sqlx::query::<DB>(&format!("{SELECT_ENDPOINTS} WHERE agent_name = $1"))
        .bind(agent_name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| backend(&doing, e))?;
    row.as_ref()
        .map(endpoint_from_row::<DB>)
        .transpose()
        .map_err(|e| backend(&doing, e))
}

pub(crate) async fn put_agent_endpoint<DB>(
    conn: &mut DB::Connection,
    endpoint: &AgentEndpoint,
) -> Result<AgentEndpoint, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = format!("saving the agent endpoint of {:?}", endpoint.agent_name);
    let row = sqlx::query::<DB>(
        "INSERT INTO agent_endpoints (agent_name, url, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (agent_name) DO UPDATE SET url = excluded.url, \
         updated_at_ms = excluded.updated_at_ms \
         RETURNING agent_name, url, created_at_ms, updated_at_ms",
    )
    .bind(endpoint.agent_name.as_str())
    .bind(endpoint.url.as_str())
    .bind(endpoint.created_at_ms)
    .bind(endpoint.updated_at_ms)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| backend(&doing, e))?;
    endpoint_from_row::<DB>(&row).map_err(|e| backend(&doing, e))
}

pub(crate) async fn delete_agent_endpoint<DB>(
    conn: &mut DB::Connection,
    agent_name: &str,
) -> Result<bool, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    let doing = format!("deleting the agent endpoint of {agent_name:?}");
    let row =
        sqlx::query::<DB>("DELETE FROM agent_endpoints WHERE agent_name = $1 RETURNING agent_name")
            .bind(agent_name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| backend(&doing, e))?;
    Ok(row.is_some())
}

// ---------------------------------------------------------------------------------------
// Webhook deliveries

const SELECT_WEBHOOKS: &str = "SELECT id, url, event, body, attempts, next_attempt_at_ms, \
     delivered_at_ms, last_error, created_at_ms FROM webhook_deliveries";

fn webhook_from_row<DB>(row: &DB::Row) -> Result<WebhookDelivery, sqlx::Error>
where
    DB: Database,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let attempts: i64 = row.try_get(4)?;
    Ok(WebhookDelivery {
        id: row.try_get(0)?,
        url: row.try_get(1)?,
        event: row.try_get(2)?,
        body: row.try_get(3)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at_ms: row.try_get(5)?,
        delivered_at_ms: row.try_get(6)?,
        last_error: row.try_get(7)?,
        created_at_ms: row.try_get(8)?,
    })
}

/// Inserts the deliveries (an id already queued is left alone); run inside a transaction.
pub(crate) async fn enqueue_webhooks<DB>(
    conn: &mut DB::Connection,
    deliveries: &[WebhookDelivery],
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    let doing = "queueing webhook deliveries";
    for d in deliveries {
        sqlx::query::<DB>(
            "INSERT INTO webhook_deliveries (id, url, event, body, attempts, \
             next_attempt_at_ms, delivered_at_ms, last_error, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(d.id.as_str())
        .bind(d.url.as_str())
        .bind(d.event.as_str())
        .bind(d.body.as_str())
        .bind(i64::from(d.attempts))
        .bind(d.next_attempt_at_ms)
        .bind(d.delivered_at_ms)
        .bind(d.last_error.as_deref())
        .bind(d.created_at_ms)
        .execute(&mut *conn)
        .await
        .map_err(|e| backend(doing, e))?;
    }
    Ok(())
}

pub(crate) async fn due_webhooks<DB>(
    conn: &mut DB::Connection,
    now_ms: i64,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Option<i64>: Decode<'r, DB>,
    for<'r> Option<String>: Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let doing = "reading due webhook deliveries";
    let rows = sqlx::query::<DB>(&format!(
        "{SELECT_WEBHOOKS} WHERE delivered_at_ms IS NULL AND next_attempt_at_ms <= $1 \
         ORDER BY next_attempt_at_ms, id LIMIT $2"
    ))
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| backend(doing, e))?;
    rows.iter()
        .map(webhook_from_row::<DB>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| backend(doing, e))
}

pub(crate) async fn webhook_delivered<DB>(
    conn: &mut DB::Connection,
    id: &str,
    now_ms: i64,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(
        "UPDATE webhook_deliveries SET delivered_at_ms = $1, attempts = attempts + 1, \
         last_error = NULL WHERE id = $2",
    )
    .bind(now_ms)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(|e| backend(&format!("marking webhook delivery {id} delivered"), e))?;
    Ok(())
}

pub(crate) async fn webhook_failed<DB>(
    conn: &mut DB::Connection,
    id: &str,
    attempts: u32,
    next_attempt_at_ms: i64,
    error: &str,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(
        "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at_ms = $2, \
         last_error = $3 WHERE id = $4",
    )
    .bind(i64::from(attempts))
    .bind(next_attempt_at_ms)
    .bind(error)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(|e| backend(&format!("recording a failed webhook delivery {id}"), e))?;
    Ok(())
}
