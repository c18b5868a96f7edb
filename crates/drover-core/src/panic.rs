//! The error a caught panic becomes: the runtime catches every job's panic, and the
//! catch-panic layer turns one into an error where it sits in the stack.

use std::any::Any;
use std::fmt;

/// A job panicked; the message is the panic's payload when it was a string.
#[derive(Debug, Clone)]
pub struct PanicError(pub String);

impl PanicError {
    /// Make an error from a caught panic payload.
    pub fn from_payload(payload: Box<dyn Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic with a payload that is not a string".to_owned()
        };
        Self(message)
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job panicked: {}", self.0)
    }
}

impl std::error::Error for PanicError {}
