//! One write transaction on a pooled connection that is never returned to the
//! pool unless it committed.
//!
//! Owns: `BEGIN`, `COMMIT`, and what happens to the connection when either fails.
//!
//! Why not `sqlx::Transaction`: when a statement fails with `SQLITE_FULL` or
//! `SQLITE_IOERR`, SQLite may roll the transaction back by itself; sqlx's
//! rollback-on-drop then fails ("no transaction is active") and sqlx keeps counting
//! the connection as one level deep. Its next `begin()` on that connection issues
//! `SAVEPOINT` instead of `BEGIN`; after one more failure `ROLLBACK TO SAVEPOINT`
//! leaves SQLite inside a transaction that no later `RELEASE` ends. The connection
//! then goes back to the pool holding the write lock: every later write waits
//! `busy_timeout` and fails with "database is locked", and reads through that
//! connection see rows no other connection ever will. Measured in the chaos test
//! `a_full_disk_during_a_stream` with 5 000 events held while the disk was full:
//! after space came back nothing more was stored (`TOCSIN_CHAOS_FULL=5000`).
//!
//! So here a transaction that did not commit closes its connection (SQLite rolls
//! back whatever was open when a connection closes), and the pool opens a fresh
//! one. That costs a reconnect on the error path only.
//!
//! Must not: be used for reads, or hold the connection past commit.

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use crate::StoreError;

/// A write transaction: [`WriteTx::commit`] ends it; dropping it uncommitted (an
/// error, a cancelled future) closes its connection.
pub(crate) struct WriteTx {
    conn: PoolConnection<Sqlite>,
    committed: bool,
}

impl WriteTx {
    pub(crate) async fn begin(pool: &SqlitePool) -> Result<WriteTx, StoreError> {
        let conn = pool.acquire().await?;
        // From here on, dropped uncommitted means closed (see `Drop`).
        let mut tx = WriteTx { conn, committed: false };
        sqlx::query("BEGIN").execute(&mut *tx.conn).await?;
        Ok(tx)
    }

    /// Commits; the connection goes back to the pool only if that worked.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        sqlx::query("COMMIT").execute(&mut *self.conn).await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}
