//! Encoding jobs to the bytes a backend stores.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A job could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CodecError {
    message: String,
}

impl CodecError {
    /// An error with a message saying what could not be encoded or decoded and why.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// Turns jobs of type `T` into bytes and back. Backends store bytes only; typing happens at the
/// edge through a codec, so one storage can be read by producers in other languages.
pub trait Codec<T>: Send + Sync + 'static {
    /// Encode a job for storage.
    fn encode(job: &T) -> Result<Vec<u8>, CodecError>;
    /// Decode a stored payload.
    fn decode(bytes: &[u8]) -> Result<T, CodecError>;
}

/// JSON through serde: the default codec.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonCodec;

impl<T: Serialize + DeserializeOwned> Codec<T> for JsonCodec {
    fn encode(job: &T) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(job)
            .map_err(|e| CodecError::new(format!("could not encode a `{}` as JSON: {e}", std::any::type_name::<T>())))
    }

    fn decode(bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| {
            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
            CodecError::new(format!(
                "could not decode the payload as a `{}` from JSON: {e} (payload starts: {shown:?})",
                std::any::type_name::<T>()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_decode_error_names_type_and_payload() {
        let err = <JsonCodec as Codec<u32>>::decode(b"not json").unwrap_err().to_string();
        assert!(err.contains("u32"), "{err}");
        assert!(err.contains("not json"), "{err}");
    }
}
