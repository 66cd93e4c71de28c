//! Request scopes: serial statements inside one reuse one connection per database, with no
//! `BEGIN`/`COMMIT` (Django's per-request connection), while concurrent ones still run at once.
//!
//! A [`RequestScope`] is a context frame; for each database used inside it, it keeps at most one
//! clean connection in a [`Sticky`] slot. A statement takes the slot's connection if it is there,
//! else checks one out of the pool (so concurrent statements never wait for each other); when the
//! statement completes, its connection goes back to the slot if the slot is empty, else to the
//! pool. An interrupted connection goes nowhere but closed (see [`crate::pool::PooledConn`]).
//! When the scope ends, the slot's connection returns to the pool.

use std::sync::{Arc, Mutex};

use sea_orm::DbErr;

use crate::pool::{Keeper, Pool, PooledConn};

/// One request scope, for every database used inside it.
#[derive(Default)]
pub(crate) struct RequestScope {
    slots: Mutex<Vec<(usize, Arc<Sticky>)>>,
}

impl RequestScope {
    /// The slot for the pool `pool_id`, made on first use.
    pub(crate) fn sticky(&self, pool_id: usize, pool: &Pool) -> Arc<Sticky> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, sticky)) = slots.iter().find(|(id, _)| *id == pool_id) {
            return sticky.clone();
        }
        let sticky = Arc::new(Sticky {
            pool: pool.clone(),
            slot: Mutex::new(None),
        });
        slots.push((pool_id, sticky.clone()));
        sticky
    }
}

impl Drop for RequestScope {
    fn drop(&mut self) {
        // Returning connections to sqlx's pool spawns a task: it belongs on home.
        let _home = crate::runtime::enter_home();
        self.slots
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The connection a request scope keeps for one database between statements.
pub(crate) struct Sticky {
    pool: Pool,
    slot: Mutex<Option<PooledConn>>,
}

impl Sticky {
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The kept connection if it is free, else a new one from the pool; either way it comes back
    /// here when released clean.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<PooledConn, DbErr> {
        let kept = self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut conn = match kept {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        let keeper: Arc<dyn Keeper> = self.clone();
        conn.keep_in(Arc::downgrade(&keeper));
        Ok(conn)
    }
}

impl Sticky {
    /// A connection proved alive since the last loss (see [`Pool::acquire_verified`]), which
    /// comes back here when released clean.
    pub(crate) async fn acquire_verified(self: &Arc<Self>) -> Result<PooledConn, DbErr> {
        let mut conn = self.pool.acquire_verified().await?;
        let keeper: Arc<dyn Keeper> = self.clone();
        conn.keep_in(Arc::downgrade(&keeper));
        Ok(conn)
    }
}

impl Keeper for Sticky {
    /// Takes back a clean connection: kept if the slot is empty and nobody may be waiting for a
    /// connection, else returned to the pool. Keeping an idle connection while the pool is
    /// exhausted would let requests that each park one here wait on each other for ever (each
    /// request's concurrent statements waiting on the pool while its own connection sits idle).
    fn keep(&self, conn: PooledConn) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() && !self.pool.is_exhausted() {
            *slot = Some(conn);
        } else {
            drop(slot);
            drop(conn);
        }
    }
}

impl Drop for Sticky {
    fn drop(&mut self) {
        let _home = crate::runtime::enter_home();
        drop(
            self.slot
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }
}
