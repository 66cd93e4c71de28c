//! An application adopts its own runtime as duetto's home, then shuts it down. Its own test binary:
//! the home runtime is process-wide, so this must run before anything else creates one.

use std::time::Duration;

use duetto::bridge::async_to_sync;
use duetto::runtime::{adopt, is_home, on_home};
use duetto::{Db, Error};
use tokio::runtime::Builder;

#[test]
fn adopted_home_serves_calls_until_it_shuts_down() {
    let current_thread = Builder::new_current_thread().build().unwrap();
    assert!(matches!(
        adopt(current_thread.handle().clone()),
        Err(Error::Runtime(_))
    ));

    let app = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    adopt(app.handle().clone()).unwrap();
    let again = Builder::new_multi_thread().build().unwrap();
    assert!(
        matches!(adopt(again.handle().clone()), Err(Error::Runtime(_))),
        "a second adopt must be refused"
    );

    // The application's own tasks are on home: async calls run in place.
    let db = app.block_on(async {
        assert!(tokio::spawn(async { is_home() }).await.unwrap());
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.aping().await.unwrap();
        db
    });
    // Blocking calls from plain threads use the adopted runtime too.
    assert!(async_to_sync(async { is_home() }).unwrap());
    db.ping().unwrap();

    // A blocking caller waiting while home shuts down gets RuntimeShutdown, not a hang.
    let waiting = std::thread::spawn(|| async_to_sync(std::future::pending::<()>()));
    std::thread::sleep(Duration::from_millis(100));
    app.shutdown_timeout(Duration::from_secs(5));
    assert!(matches!(
        waiting.join().unwrap(),
        Err(Error::RuntimeShutdown)
    ));

    // After shutdown every entry point reports it.
    assert!(matches!(
        async_to_sync(async { 1 }),
        Err(Error::RuntimeShutdown)
    ));
    assert!(matches!(db.ping(), Err(Error::RuntimeShutdown)));
    let foreign = Builder::new_current_thread().enable_all().build().unwrap();
    assert!(matches!(
        foreign.block_on(on_home(async { 1 })),
        Err(Error::RuntimeShutdown)
    ));
    assert!(matches!(
        foreign.block_on(db.aping()),
        Err(Error::RuntimeShutdown)
    ));
}
