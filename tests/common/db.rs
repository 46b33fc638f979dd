//! A fresh database per test: a temp-dir SQLite file, or a new PostgreSQL database on the
//! server at `RLCOACH_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`), dropped at
//! the end. When PostgreSQL is unreachable the Postgres variant prints SKIPPED and returns, or
//! fails when `RLCOACH_REQUIRE_POSTGRES=1` (as in CI).

use rlcoach::storage::{StorageConfig, Store};
use sqlx::Connection as _;

pub struct TestDb {
    pub store: Store,
    pub config: StorageConfig,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

fn pg_base() -> String {
    std::env::var("RLCOACH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig::sqlite_in(dir.path().join("data"));
        let store = Store::open(&config).await.expect("open sqlite");
        TestDb {
            store,
            config,
            _dir: dir,
            pg: None,
        }
    }

    /// None (after printing SKIPPED) when no PostgreSQL server answers; a failure instead when
    /// `RLCOACH_REQUIRE_POSTGRES=1`.
    pub async fn postgres() -> Option<TestDb> {
        let base = pg_base();
        let admin_url = format!("{base}/postgres");
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                super::skip_or_fail(
                    super::REQUIRE_POSTGRES,
                    &format!("PostgreSQL not reachable at {base} ({e}); only SQLite was tested"),
                );
                return None;
            }
        };
        let name = format!("rlcoach_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig {
            database_url: Some(format!("{base}/{name}")),
            data_dir: dir.path().join("data"),
            max_connections: 8,
        };
        let store = Store::open(&config).await.expect("open postgres");
        Some(TestDb {
            store,
            config,
            _dir: dir,
            pg: Some((admin_url, name)),
        })
    }

    /// Closes the pool and drops the Postgres database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin_url, name)) = self.pg
            && let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await;
        }
    }
}

/// Declares `sqlite_<name>` and `postgres_<name>` tests running `body(&TestDb)`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = common::db::TestDb::sqlite().await;
                ($body)(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = common::db::TestDb::postgres().await else {
                    return;
                };
                ($body)(&db).await;
                db.finish().await;
            }
        }
    };
}
