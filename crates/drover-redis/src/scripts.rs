//! The Lua scripts, each with `scripts/common.lua` (and, where needed, `retention.lua`)
//! prepended, but for the push script, which names what it needs itself. `redis::Script` sends `EVALSHA` and, when the server answers `NOSCRIPT` (after a
//! restart or `SCRIPT FLUSH`), loads the script and sends it again, so a restarted server
//! needs nothing from us.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $($file:literal),+) => {
        pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(include_str!("../scripts/common.lua"), $(include_str!($file)),+))
        });
    };
}

// Only the scripts that finish tasks carry the retention helpers: every function defined in a
// script is a closure made on each call. The push script, the one a single push waits on, has
// no prelude at all, and a single plain push has a script of its own.
pub(crate) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../scripts/enqueue.lua")));
/// One plain task (a single push of a job without options): three keys, four arguments.
pub(crate) static PUSH_ONE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../scripts/push_one.lua")));
script!(TICK, "../scripts/tick.lua", "../scripts/enqueue.lua");
script!(CLAIM, "../scripts/retention.lua", "../scripts/claim.lua");
script!(COMPLETE, "../scripts/retention.lua", "../scripts/complete.lua");
script!(EXTEND, "../scripts/extend.lua");
script!(RELEASE, "../scripts/release.lua");
script!(CANCEL, "../scripts/retention.lua", "../scripts/cancel.lua");
script!(REQUEUE, "../scripts/requeue.lua");
script!(STATS, "../scripts/stats.lua");
script!(LIST, "../scripts/list.lua");
