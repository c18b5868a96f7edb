//! Unique keys: a KV bucket maps each key to the task holding it.
//!
//! The bucket `<prefix>_<queue>_unique` has one key per unique key (`u.<hex of the key>`)
//! whose value is the holding task's id. A push with a key creates it (create-if-absent, so
//! of pushers racing for one key exactly one wins); a pusher that finds the key returns the
//! holder's id while the holder is pending or running (its message is in the work or the
//! delay stream). A key whose holder finished without releasing it (its process died) is
//! taken over by compare-and-set on the revision read. A task that ends (done, dead,
//! cancelled) deletes its key, expecting the revision that names it, so a newer holder's key
//! is never deleted.
//!
//! The key is not used as a `Nats-Msg-Id`: the duplicate window would drop a new push of a
//! key whose task finished within it. The bucket decides, within the window and beyond it.

use async_nats::jetstream::kv::{CreateErrorKind, Operation, Store, UpdateErrorKind};
use async_nats::jetstream::stream;
use drover_core::{BackendError, TaskId};

use crate::inner::Inner;

/// A key younger than this is trusted without looking for its task: its pusher may still be
/// publishing (the publish pipeline gives up after 10 s).
const FRESH_SECS: i64 = 30;

/// The bucket key of a unique key: its bytes in hex, so any string is a valid KV key.
pub(crate) fn bucket_key(key: &str) -> String {
    format!("u.{}", crate::envelope::to_hex(key))
}

/// Who holds a key after [`Inner::take_key`].
pub(crate) enum Held {
    /// This push: publish the task.
    Taken,
    /// A pending or running task: return its id, publish nothing.
    By(TaskId),
}

/// Open (or create) a KV bucket made by hand: async-nats 0.51's `create_key_value` cannot read
/// nats-server 2.9's reply.
pub(crate) async fn open_bucket(inner: &Inner, bucket: &str, description: &str) -> Result<Store, BackendError> {
    let js = &inner.top.js;
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        description: Some(description.to_owned()),
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        storage: match inner.config.storage() {
            crate::NatsStorageType::File => stream::StorageType::File,
            crate::NatsStorageType::Memory => stream::StorageType::Memory,
        },
        num_replicas: inner.config.replicas(),
        ..Default::default()
    })
    .await
    .map_err(|e| {
        BackendError::server("create a KV bucket", format!("could not create the KV bucket `{bucket}`: {e}"))
    })?;
    js.get_key_value(bucket)
        .await
        .map_err(|e| BackendError::server("open a KV bucket", format!("could not open the KV bucket `{bucket}`: {e}")))
}

impl Inner {
    async fn unique(&self) -> Result<&Store, BackendError> {
        self.unique_kv
            .get_or_try_init(|| open_bucket(self, &self.names.unique_bucket, "Drover: each unique key's task"))
            .await
    }

    /// Take `key` for the task `id`, or tell which pending or running task holds it.
    pub(crate) async fn take_key(&self, key: &str, id: TaskId) -> Result<Held, BackendError> {
        let store = self.unique().await?;
        let k = bucket_key(key);
        let value = bytes::Bytes::from(id.to_string());
        for _ in 0..20 {
            match store.create(&k, value.clone()).await {
                Ok(_) => return Ok(Held::Taken),
                Err(e) if matches!(e.kind(), CreateErrorKind::AlreadyExists) => {}
                Err(e) => return Err(BackendError::connection("take a unique key", e)),
            }
            let entry = store.entry(&k).await.map_err(|e| BackendError::connection("read a unique key", e))?;
            let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else { continue };
            let holder = std::str::from_utf8(&entry.value).ok().and_then(|s| s.parse::<TaskId>().ok());
            if let Some(holder) = holder {
                if holder == id {
                    // The same task pushed again (`enqueue` retried with the same ids): publish
                    // it only if the first push did not store it.
                    return Ok(if self.unfinished_settled(id).await? { Held::By(id) } else { Held::Taken });
                }
                let age = crate::envelope::now_ms() / 1000 - entry.created.unix_timestamp();
                if age < FRESH_SECS || self.unfinished_settled(holder).await? {
                    return Ok(Held::By(holder));
                }
            }
            // The holder finished without releasing the key (or the value is not a task id).
            match store.update(&k, value.clone(), entry.revision).await {
                Ok(_) => return Ok(Held::Taken),
                Err(e) if matches!(e.kind(), UpdateErrorKind::WrongLastRevision) => continue,
                Err(e) => return Err(BackendError::connection("take over a unique key", e)),
            }
        }
        Err(BackendError::server(
            "take a unique key",
            format!("the key `{key}` kept changing under 20 tries: too many pushers racing for it"),
        ))
    }

    /// Whether `id` is pending or running, looked up twice when absent: a task moving between
    /// the work and the delay stream is briefly in both, and one look can fall between them.
    async fn unfinished_settled(&self, id: TaskId) -> Result<bool, BackendError> {
        Ok(self.unfinished(id).await? || self.unfinished(id).await?)
    }

    /// Release `key` if the task `id` still holds it. Failures are logged: a key left behind is
    /// taken over by the next push that finds its task finished.
    pub(crate) async fn release_key(&self, key: &str, id: TaskId) {
        if let Err(error) = self.try_release_key(key, id).await {
            tracing::warn!(%error, %id, "could not release a unique key; the next push of it takes it over");
        }
    }

    async fn try_release_key(&self, key: &str, id: TaskId) -> Result<(), BackendError> {
        let store = self.unique().await?;
        let k = bucket_key(key);
        let entry = store.entry(&k).await.map_err(|e| BackendError::connection("read a unique key", e))?;
        let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else { return Ok(()) };
        if entry.value.as_ref() != id.to_string().as_bytes() {
            return Ok(());
        }
        match store.delete_expect_revision(&k, Some(entry.revision)).await {
            Ok(()) => Ok(()),
            // Taken by a newer push meanwhile: not ours to delete.
            Err(e) if e.to_string().contains("wrong last sequence") => Ok(()),
            Err(e) => Err(BackendError::connection("release a unique key", e)),
        }
    }
}
