//! The registry in PostgreSQL, for several gateways sharing one registry.
//!
//! The state keeps its shape: one row per user, role, pending request, ban and
//! token (a JSONB document each, keyed by its name or id), the settings tables
//! one row each, and the files beside the state (the registry's CA) in a table
//! of their own. A change is a transaction that takes one advisory lock, reads
//! the rows (or reuses the copy of the generation it already holds), runs the
//! same edit the file store runs, and writes back only the rows that differ:
//! writers on every gateway are serialized by the database, so none loses
//! another's update, and a failed edit writes nothing.
//!
//! Every committed change bumps `mqreg_meta.generation` and sends
//! `NOTIFY mqreg_changes`; a gateway keeps one connection that LISTENs, and
//! re-reads everything after it reconnects, since notifications sent while it
//! was away are lost.
//!
//! The schema is created and migrated by mqreg (see [`MIGRATIONS`]); a
//! database migrated by a newer mqreg is refused rather than misread.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::{Map, Value};
use tokio_postgres::{Config, NoTls};

use super::State;
use crate::error::{with_causes, Error, Result};

/// Which key serializes the writers of every gateway (any constant unlikely
/// to collide with an application sharing the database).
const WRITE_LOCK: i64 = 0x6d71_7265_6701;
const MIGRATION_LOCK: i64 = 0x6d71_7265_6702;

/// The channel every change is announced on.
pub const CHANNEL: &str = "mqreg_changes";

/// The schema, one step per version; a step never changes once released.
const MIGRATIONS: &[&str] = &[
    // 1: the registry, a row per entry.
    "CREATE TABLE mqreg_meta (
        id integer PRIMARY KEY CHECK (id = 1),
        generation bigint NOT NULL
     );
     INSERT INTO mqreg_meta VALUES (1, 0);
     CREATE TABLE mqreg_settings (name text PRIMARY KEY, doc jsonb NOT NULL);
     CREATE TABLE mqreg_users (name text PRIMARY KEY, doc jsonb NOT NULL);
     CREATE TABLE mqreg_roles (name text PRIMARY KEY, doc jsonb NOT NULL);
     CREATE TABLE mqreg_pending (name text PRIMARY KEY, doc jsonb NOT NULL);
     CREATE TABLE mqreg_tokens (name text PRIMARY KEY, doc jsonb NOT NULL);
     CREATE TABLE mqreg_bans (name text PRIMARY KEY, doc jsonb NOT NULL);
     CREATE TABLE mqreg_files (name text PRIMARY KEY, contents bytea NOT NULL);",
];

/// The state's maps, each in a table of its own: (field, table).
const ENTRY_TABLES: &[(&str, &str)] = &[
    ("users", "mqreg_users"),
    ("roles", "mqreg_roles"),
    ("pending", "mqreg_pending"),
    ("tokens", "mqreg_tokens"),
];

/// A state as rows: table → key → document.
type Rows = BTreeMap<&'static str, BTreeMap<String, Value>>;

/// Whether `text` names a database rather than a file.
pub fn is_url(text: &str) -> bool {
    text.starts_with("postgresql://") || text.starts_with("postgres://")
}

/// The URL with any password taken out, for messages and `registry status`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                let start = scheme_end + 3 + colon;
                out.replace_range(start..scheme_end + 3 + at, ":***");
            }
        }
    }
    // `?password=...` in the query.
    if let Some(query) = out.find('?') {
        let (head, tail) = out.split_at(query + 1);
        let params: Vec<String> = tail
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key == "password" => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out = format!("{head}{}", params.join("&"));
    }
    out
}

/// Whether the database answered the last time it was asked.
#[derive(Debug, Default)]
pub struct Health {
    unreachable: AtomicBool,
    error: Mutex<Option<(String, chrono::DateTime<chrono::Utc>)>>,
}

impl Health {
    /// `None` while reachable; else the error and since when.
    pub fn problem(&self) -> Option<(String, chrono::DateTime<chrono::Utc>)> {
        if !self.unreachable.load(Ordering::Acquire) {
            return None;
        }
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a failure; true when this starts an outage (log it once).
    fn failed(&self, error: &str) -> bool {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        let starts = !self.unreachable.swap(true, Ordering::AcqRel);
        match slot.as_mut() {
            Some((message, _)) if !starts => *message = error.to_owned(),
            _ => *slot = Some((error.to_owned(), chrono::Utc::now())),
        }
        starts
    }

    /// Records success; true when this ends an outage.
    fn answered(&self) -> bool {
        self.unreachable.swap(false, Ordering::AcqRel)
    }
}

/// Our own runtime for the pool and the listener: the store is called from
/// blocking code (the CLI, the broker's blocking threads), which waits on it.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's async context panics.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A connection to the registry database, shared by a store's clones.
pub struct Postgres {
    url: String,
    config: Config,
    runtime: Runtime,
    pool: Pool,
    /// The last rows read and their generation: a change or a load at the same
    /// generation needs no read.
    cached: Mutex<Option<(i64, State)>>,
    migrated: AtomicBool,
    pub health: Health,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("url", &self.url).finish()
    }
}

impl Postgres {
    /// Parses the URL; connects lazily, at the first use.
    pub fn new(url: &str) -> Result<Self> {
        let shown = redact(url);
        let mut config = Config::from_str(url).map_err(|e| {
            Error::usage(format!(
                "'{shown}' is not a PostgreSQL URL: {e}; write it like postgresql://USER@HOST:5432/DATABASE"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(3));
        }
        if config.get_application_name().is_none() {
            config.application_name("mqreg");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mqreg-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::failure(format!("cannot start the database runtime: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
                .max_size(4)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(Duration::from_secs(10)))
                .create_timeout(Some(Duration::from_secs(5)))
                .recycle_timeout(Some(Duration::from_secs(5)))
                .build()
                .map_err(|e| Error::failure(format!("cannot set up the database pool: {e}")))?
        };
        Ok(Self {
            url: shown,
            config,
            runtime: Runtime(Some(runtime)),
            pool,
            cached: Mutex::new(None),
            migrated: AtomicBool::new(false),
            health: Health::default(),
        })
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.0.as_ref().expect("runtime").block_on(future)
    }

    /// An error naming the database; a lost connection also marks an outage.
    fn fail(&self, what: &str, error: impl std::fmt::Display) -> Error {
        let error = error.to_string();
        debug_assert!(!error.is_empty());
        let text = format!("{what} (registry database {}): {error}", self.url);
        if self.health.failed(&error) {
            tracing::error!("{text}; serving the last copy of the registry until it is back");
        }
        Error::failure(text)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| self.fail("cannot reach the database", describe_pool_error(&e)))?;
        if !self.migrated.load(Ordering::Acquire) {
            migrate(&client)
                .await
                .map_err(|e| self.fail("cannot create or migrate the schema", e))?;
            self.migrated.store(true, Ordering::Release);
        }
        Ok(client)
    }

    fn answered(&self) {
        if self.health.answered() {
            tracing::info!("registry database {} is reachable again", self.url);
        }
    }

    /// The whole state and its generation.
    pub fn load(&self) -> Result<(State, i64)> {
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(|e| self.fail("cannot read the registry", with_causes(&e)))?;
            let (state, generation) = self
                .read(&tx)
                .await
                .map_err(|e| self.fail("cannot read the registry", with_causes(&e)))?;
            tx.commit()
                .await
                .map_err(|e| self.fail("cannot read the registry", with_causes(&e)))?;
            self.answered();
            Ok((state?, generation))
        })
    }

    /// Reads the generation, and the rows unless the cache holds them.
    async fn read(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
    ) -> std::result::Result<(Result<State>, i64), tokio_postgres::Error> {
        let generation: i64 = tx
            .query_one("SELECT generation FROM mqreg_meta WHERE id = 1", &[])
            .await?
            .get(0);
        if let Some((cached, state)) = &*self.cached.lock().unwrap_or_else(|e| e.into_inner()) {
            if *cached == generation {
                return Ok((Ok(state.clone()), generation));
            }
        }
        let mut rows = Rows::new();
        for table in all_tables() {
            let mut entries = BTreeMap::new();
            for row in tx
                .query(&format!("SELECT name, doc FROM {table}"), &[])
                .await?
            {
                entries.insert(row.get::<_, String>(0), row.get::<_, Value>(1));
            }
            rows.insert(table, entries);
        }
        let state = from_rows(rows).map_err(|e| {
            Error::failure(format!(
                "the registry database {} holds a state this mqreg cannot read: {e}",
                self.url
            ))
        });
        if let Ok(state) = &state {
            *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((generation, state.clone()));
        }
        Ok((state, generation))
    }

    /// Runs `change` on the state in one transaction, serialized with every
    /// other writer, and writes back the rows that differ. Returns the
    /// change's result and the state as written.
    pub fn update<T>(
        &self,
        lock_timeout: Duration,
        change: impl FnOnce(&mut State) -> Result<T>,
    ) -> Result<(T, State)> {
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = client
                .transaction()
                .await
                .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
            tx.batch_execute(&format!(
                "SET LOCAL lock_timeout = '{}ms'",
                lock_timeout.as_millis()
            ))
            .await
            .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await
                .map_err(|e| {
                    Error::failure(format!(
                        "gave up waiting for the registry's write lock in {}: {e}; another mqreg still holds it. Try again, or raise MQREG_LOCK_TIMEOUT",
                        self.url
                    ))
                })?;
            let (before, _) = self
                .read(&tx)
                .await
                .map_err(|e| self.fail("cannot read the registry", with_causes(&e)))?;
            let before = before?;
            let mut after = before.clone();
            let result = change(&mut after)?;
            let old = to_rows(&before)?;
            let new = to_rows(&after)?;
            let mut changed = false;
            for (table, new_entries) in &new {
                let old_entries = &old[table];
                for (name, doc) in new_entries {
                    if old_entries.get(name) != Some(doc) {
                        changed = true;
                        tx.execute(
                            &format!(
                                "INSERT INTO {table} (name, doc) VALUES ($1, $2)
                                 ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc"
                            ),
                            &[name, doc],
                        )
                        .await
                        .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
                    }
                }
                for name in old_entries.keys() {
                    if !new_entries.contains_key(name) {
                        changed = true;
                        tx.execute(&format!("DELETE FROM {table} WHERE name = $1"), &[name])
                            .await
                            .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
                    }
                }
            }
            if changed {
                let generation = self.bump(&tx).await?;
                tx.commit()
                    .await
                    .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
                *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((generation, after.clone()));
            } else {
                tx.rollback().await.ok();
            }
            self.answered();
            Ok((result, after))
        })
    }

    async fn bump(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<i64> {
        let generation: i64 = tx
            .query_one(
                "UPDATE mqreg_meta SET generation = generation + 1 WHERE id = 1 RETURNING generation",
                &[],
            )
            .await
            .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?
            .get(0);
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&CHANNEL, &generation.to_string()],
        )
        .await
        .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
        Ok(generation)
    }

    /// A file kept with the registry (the CA), `None` when there is none.
    pub fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.block_on(async {
            let client = self.client().await?;
            let row = client
                .query_opt("SELECT contents FROM mqreg_files WHERE name = $1", &[&name])
                .await
                .map_err(|e| self.fail("cannot read the registry", with_causes(&e)))?;
            self.answered();
            Ok(row.map(|row| row.get::<_, Vec<u8>>(0)))
        })
    }

    /// Writes files together, in one transaction; unless `replace`, an existing
    /// one is a conflict and nothing is written.
    pub fn write_files(&self, files: &[(&str, &[u8])], replace: bool) -> Result<()> {
        self.block_on(async {
            let mut client = self.client().await?;
            let tx = client
                .transaction()
                .await
                .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await
                .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
            for (name, contents) in files {
                let written = if replace {
                    tx.execute(
                        "INSERT INTO mqreg_files (name, contents) VALUES ($1, $2)
                         ON CONFLICT (name) DO UPDATE SET contents = EXCLUDED.contents",
                        &[name, contents],
                    )
                    .await
                } else {
                    tx.execute(
                        "INSERT INTO mqreg_files (name, contents) VALUES ($1, $2)
                         ON CONFLICT (name) DO NOTHING",
                        &[name, contents],
                    )
                    .await
                }
                .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
                if written == 0 {
                    return Err(Error::conflict(format!(
                        "{name} exists already in the registry database {}; nothing was written",
                        self.url
                    )));
                }
            }
            // Gateways re-read on the generation: the CA is part of the registry.
            self.bump(&tx).await?;
            tx.commit()
                .await
                .map_err(|e| self.fail("cannot change the registry", with_causes(&e)))?;
            self.answered();
            Ok(())
        })
    }

    /// Whether the database holds no registry yet (nothing a migration would
    /// overwrite).
    pub fn is_empty(&self) -> Result<bool> {
        let (state, _) = self.load()?;
        let files = self.block_on(async {
            let client = self.client().await?;
            client
                .query_one("SELECT count(*) FROM mqreg_files", &[])
                .await
                .map_err(|e| self.fail("cannot read the registry", with_causes(&e)))
                .map(|row| row.get::<_, i64>(0))
        })?;
        Ok(state.users.is_empty()
            && state.roles.is_empty()
            && state.pending.is_empty()
            && state.bans.is_empty()
            && state.tokens.is_empty()
            && files == 0)
    }

    /// Listens for changes on a connection of its own, for as long as the
    /// process lives: `changed` is called for every change announced, and
    /// after every (re)connection, since what was announced meanwhile is lost.
    /// Reconnects with backoff and jitter.
    pub fn listen(self: &Arc<Self>, changed: impl Fn() + Send + Sync + 'static) {
        let this = Arc::clone(self);
        let runtime = self.runtime.0.as_ref().expect("runtime");
        runtime.spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                match this.listen_once(&changed).await {
                    Ok(()) => backoff = Duration::from_millis(200),
                    Err(error) => {
                        this.fail("lost the connection that listens for changes", &error);
                        tracing::debug!("listening for registry changes: {error}");
                    }
                }
                let wait = crate::backoff::jittered(backoff, Duration::from_millis(250));
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }

    /// One connection's life: LISTEN, resync, then every notification.
    /// `Ok` when the connection had worked, so the backoff starts over.
    async fn listen_once(
        &self,
        changed: &(impl Fn() + Send + Sync),
    ) -> std::result::Result<(), String> {
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| with_causes(&e))?;
        let (notices, mut notified) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                        let _ = notices.send(Ok(()));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        let _ = notices.send(Err(with_causes(&error)));
                        return;
                    }
                }
            }
            let _ = notices.send(Err("the server closed the connection".to_owned()));
        });
        let listening = client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| e.to_string());
        if let Err(error) = listening {
            driver.abort();
            return Err(error);
        }
        self.answered();
        changed();
        let mut worked = Ok(());
        loop {
            // A quiet connection is checked now and then: a peer that vanished
            // without a reset is found by the query failing.
            match tokio::time::timeout(Duration::from_secs(5), notified.recv()).await {
                Ok(Some(Ok(()))) => changed(),
                Ok(Some(Err(error))) => {
                    worked = Err(error);
                    break;
                }
                Ok(None) => break,
                Err(_) => {
                    if let Err(error) = client.simple_query("SELECT 1").await {
                        worked = Err(error.to_string());
                        break;
                    }
                }
            }
        }
        driver.abort();
        // It had connected: the caller starts its backoff over, but the error
        // still marks the outage.
        if let Err(error) = worked {
            self.fail("lost the connection that listens for changes", &error);
        }
        Ok(())
    }
}

/// A pool error in words: deadpool's wrap the database's.
fn describe_pool_error(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(error) => with_causes(error),
        other => other.to_string(),
    }
}

async fn migrate(client: &deadpool_postgres::Object) -> std::result::Result<(), String> {
    // Asked first: CREATE TABLE IF NOT EXISTS would log a notice every time.
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('mqreg_schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| with_causes(&e))?
        .get(0);
    if !exists {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS mqreg_schema_migrations (
                    version integer PRIMARY KEY,
                    applied timestamptz NOT NULL DEFAULT now()
                 )",
            )
            .await
            .map_err(|e| with_causes(&e))?;
    }
    let current: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM mqreg_schema_migrations",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    let known = MIGRATIONS.len() as i32;
    if current > known {
        return Err(format!(
            "the database's schema is version {current}, newer than this mqreg knows ({known}); upgrade mqreg"
        ));
    }
    if current == known {
        return Ok(());
    }
    // Two gateways starting at once: one migrates, the other waits and finds
    // nothing left to do.
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| e.to_string())?;
    let outcome = async {
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let current: i32 = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM mqreg_schema_migrations",
                &[],
            )
            .await?
            .get(0);
        for (index, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            client.batch_execute(step).await?;
            client
                .execute(
                    "INSERT INTO mqreg_schema_migrations (version) VALUES ($1)",
                    &[&(index as i32 + 1)],
                )
                .await?;
        }
        Ok::<(), tokio_postgres::Error>(())
    }
    .await;
    match outcome {
        Ok(()) => client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| e.to_string()),
        Err(error) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(with_causes(&error))
        }
    }
}

fn all_tables() -> impl Iterator<Item = &'static str> {
    ENTRY_TABLES
        .iter()
        .map(|(_, table)| *table)
        .chain(["mqreg_bans", "mqreg_settings"])
}

/// A state as rows: each map's entries, each ban by its id, and every other
/// field as a settings row.
fn to_rows(state: &State) -> Result<Rows> {
    let value = serde_json::to_value(state)
        .map_err(|e| Error::failure(format!("cannot serialize the state: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(Error::failure("the state did not serialize to an object"));
    };
    let mut rows = Rows::new();
    for (field, table) in ENTRY_TABLES {
        let entries = match fields.remove(*field) {
            Some(Value::Object(map)) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        rows.insert(table, entries);
    }
    let bans = match fields.remove("bans") {
        Some(Value::Array(bans)) => bans
            .into_iter()
            .map(|ban| {
                (
                    ban.get("id").map(|id| id.to_string()).unwrap_or_default(),
                    ban,
                )
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    rows.insert("mqreg_bans", bans);
    rows.insert("mqreg_settings", fields.into_iter().collect());
    Ok(rows)
}

fn from_rows(mut rows: Rows) -> std::result::Result<State, String> {
    let mut fields: Map<String, Value> = rows
        .remove("mqreg_settings")
        .unwrap_or_default()
        .into_iter()
        .collect();
    for (field, table) in ENTRY_TABLES {
        let entries: Map<String, Value> =
            rows.remove(table).unwrap_or_default().into_iter().collect();
        fields.insert((*field).to_owned(), Value::Object(entries));
    }
    let mut bans: Vec<Value> = rows
        .remove("mqreg_bans")
        .unwrap_or_default()
        .into_values()
        .collect();
    bans.sort_by_key(|ban| ban.get("id").and_then(Value::as_u64).unwrap_or(0));
    fields.insert("bans".to_owned(), Value::Array(bans));
    let state: State = serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())?;
    state.check().map_err(|e| e.to_string())?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgresql://mqreg:s3cret@db.example:5432/registry"),
            "postgresql://mqreg:***@db.example:5432/registry"
        );
        assert_eq!(
            redact("postgres://db/registry?user=mqreg&password=s3cret&sslmode=disable"),
            "postgres://db/registry?user=mqreg&password=***&sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://mqreg@db/registry"),
            "postgresql://mqreg@db/registry"
        );
    }

    #[test]
    fn a_state_survives_its_rows() {
        let mut state = State::default();
        state.roles.insert(
            "sensors".into(),
            crate::state::Role {
                permissions: vec!["readwrite:plant/{username}/#".parse().unwrap()],
                ..Default::default()
            },
        );
        let rows = to_rows(&state).unwrap();
        assert_eq!(rows["mqreg_roles"].len(), 1);
        assert!(rows["mqreg_settings"].contains_key("registry"));
        let back = from_rows(rows).unwrap();
        assert_eq!(back, state);
    }
}
