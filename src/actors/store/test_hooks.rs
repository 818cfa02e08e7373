//! Test hooks: a store that fails, or hangs as a stuck disk would, so the black-box tests can
//! prove the supervisor restarts it and the watchdog stops being fed.

use std::time::Duration;

use super::{StoreHandle, StoreMsg};

/// The test hooks.
pub enum Msg {
    /// Panic, to prove the supervisor restarts the store.
    Fail,
    /// Hold the mailbox this long, as a stuck disk would, to prove the watchdog stops being
    /// fed.
    Wedge(Duration),
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Test(msg)
    }
}

impl StoreHandle {
    /// Test hook: makes the store panic.
    pub fn fail(&self) {
        self.tell(Msg::Fail);
    }

    /// Test hook: holds the store's mailbox for `period`.
    pub fn wedge(&self, period: Duration) {
        self.tell(Msg::Wedge(period));
    }
}

/// Carries out a test hook.
pub(super) fn handle(msg: Msg) {
    match msg {
        Msg::Fail => panic!("store: failure injected by a test"),
        Msg::Wedge(period) => tokio::task::block_in_place(|| std::thread::sleep(period)),
    }
}
