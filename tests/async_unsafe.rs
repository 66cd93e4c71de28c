//! `DUETTO_ALLOW_ASYNC_UNSAFE=1`: blocking calls on a multi-thread worker are let through (they
//! wait in `block_in_place`); on a current_thread runtime they still cannot be made safe.
//! Its own test binary, because the variable is read once per process.

use duetto::bridge::{async_to_sync, check_sync_allowed};
use duetto::{Db, Error};
use tokio::runtime::Builder;

#[test]
fn opt_out_allows_multi_thread_workers_only() {
    // SAFETY: the only test of this binary, and it sets the variable before any thread reads it.
    std::env::set_var("DUETTO_ALLOW_ASYNC_UNSAFE", "1");

    let multi = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    multi.block_on(async {
        tokio::spawn(async {
            check_sync_allowed("get").unwrap();
            assert_eq!(async_to_sync(async { 3 }).unwrap(), 3);
            let db = Db::connect_blocking("sqlite::memory:").unwrap();
            db.ping().unwrap();
        })
        .await
        .unwrap();
    });

    let single = Builder::new_current_thread().enable_all().build().unwrap();
    single.block_on(async {
        assert!(matches!(
            check_sync_allowed("get"),
            Err(Error::SynchronousOnlyOperation { operation: "get" })
        ));
        assert!(matches!(
            async_to_sync(async { 3 }),
            Err(Error::SynchronousOnlyOperation { .. })
        ));
    });
}
