//! The Lua scripts, each with `scripts/common.lua` prepended. `redis::Script` sends `EVALSHA`
//! and, when the server answers `NOSCRIPT` (after a restart or `SCRIPT FLUSH`), loads the
//! script and sends it again, so a restarted server needs nothing from us.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(concat!(include_str!("../scripts/common.lua"), include_str!($file))));
    };
}

script!(ENQUEUE, "../scripts/enqueue.lua");
script!(CLAIM, "../scripts/claim.lua");
script!(COMPLETE, "../scripts/complete.lua");
script!(EXTEND, "../scripts/extend.lua");
script!(RELEASE, "../scripts/release.lua");
script!(CANCEL, "../scripts/cancel.lua");
script!(REQUEUE, "../scripts/requeue.lua");
script!(STATS, "../scripts/stats.lua");
script!(LIST, "../scripts/list.lua");
