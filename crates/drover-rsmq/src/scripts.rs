//! The Lua scripts, each with `scripts/common.lua` prepended. `redis::Script` sends `EVALSHA`
//! and loads the script on `NOSCRIPT` (after a server restart or `SCRIPT FLUSH`).

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(concat!(include_str!("../scripts/common.lua"), include_str!($file))));
    };
}

script!(SEND, "../scripts/send.lua");
script!(CLAIM, "../scripts/claim.lua");
script!(COMPLETE, "../scripts/complete.lua");
script!(EXTEND, "../scripts/extend.lua");
script!(RELEASE, "../scripts/release.lua");
script!(CANCEL, "../scripts/cancel.lua");
script!(REQUEUE, "../scripts/requeue.lua");
script!(ATTRIBUTES, "../scripts/attributes.lua");
script!(CREATE, "../scripts/create.lua");
script!(DELETE, "../scripts/delete.lua");
