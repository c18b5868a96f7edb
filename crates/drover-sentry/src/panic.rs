//! Panics are reported once.
//!
//! Sentry's panic integration captures a panic in its panic hook, on the hub current where
//! the panic happened: the job's, since the job is polled in it. Its event has the stack trace
//! (this layer, seeing the panic after it unwound, has none). So when the client has that
//! integration this layer captures nothing for a panic; otherwise it captures one event.
//! Either way it never captures the panic a second time as an error, whether the panic unwinds
//! through it or arrives as a [`PanicError`] from a catch-panic layer inside it.

use std::any::Any;
use std::error::Error as StdError;

use drover_core::layers::catch_panic::PanicError;
use sentry_core::protocol::{Event, Exception, Level, Mechanism};
use sentry_core::Hub;

/// The name `sentry_panic::PanicIntegration` registers under.
const PANIC_INTEGRATION: &str = "panic";

/// Whether the hub's client has Sentry's panic integration (which then reports panics).
pub(crate) fn integration_reports(hub: &Hub) -> bool {
    hub.client().is_some_and(|client| client.options().integrations.iter().any(|i| i.name() == PANIC_INTEGRATION))
}

/// Report a job's panic, unless the panic integration already did.
pub(crate) fn report(hub: &Hub, message: &str) {
    if integration_reports(hub) {
        return;
    }
    hub.capture_event(event(message));
}

/// The event the panic integration would send, without its stack trace.
fn event(message: &str) -> Event<'static> {
    Event {
        exception: vec![Exception {
            ty: "panic".into(),
            value: Some(message.to_owned()),
            mechanism: Some(Mechanism { ty: "panic".into(), handled: Some(false), ..Default::default() }),
            ..Default::default()
        }]
        .into(),
        level: Level::Fatal,
        ..Default::default()
    }
}

/// The message of a [`PanicError`] in the error's chain: the job panicked inside a
/// catch-panic layer.
pub(crate) fn message_in_chain<'e>(error: &'e (dyn StdError + 'static)) -> Option<&'e str> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(panic) = e.downcast_ref::<PanicError>() {
            return Some(&panic.0);
        }
        cause = e.source();
    }
    None
}

/// A panic payload's message, as [`PanicError::from_payload`] reads it.
pub(crate) fn message_of_payload(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic with a payload that is not a string"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(PanicError);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("while sending")
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_panic_error_is_found_anywhere_in_the_chain() {
        let wrapped = Wrapped(PanicError("kaboom".into()));
        assert_eq!(message_in_chain(&wrapped), Some("kaboom"));
        assert_eq!(message_in_chain(&PanicError("direct".into())), Some("direct"));
        let plain: Box<dyn StdError> = "boom".into();
        assert_eq!(message_in_chain(&*plain), None);
    }

    #[test]
    fn payload_messages_are_read_like_the_workers() {
        assert_eq!(message_of_payload(&"static"), "static");
        assert_eq!(message_of_payload(&String::from("owned")), "owned");
        assert_eq!(message_of_payload(&42_u8), "a panic with a payload that is not a string");
    }

    #[test]
    fn the_layer_event_looks_like_the_integrations() {
        let event = event("kaboom");
        assert_eq!(event.level, Level::Fatal);
        let exception = &event.exception.values[0];
        assert_eq!((exception.ty.as_str(), exception.value.as_deref()), ("panic", Some("kaboom")));
        assert_eq!(exception.mechanism.as_ref().and_then(|m| m.handled), Some(false));
    }
}
