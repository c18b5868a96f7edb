//! Extractors: the arguments a job handler may take after the job itself.

use std::ops::Deref;

use crate::context::{TaskContext, WorkerContext};
use crate::error::BoxDynError;
use crate::task::TaskId;

/// Something a handler can take as an argument, built from the task's context.
pub trait FromTask: Sized {
    /// Build the value, or say why it cannot be built.
    fn from_task(ctx: &TaskContext) -> Result<Self, BoxDynError>;
}

/// Shared data registered with `WorkerBuilder::data`. `Data<()>` is always available.
///
/// ```
/// use drover_core::{BoxDynError, Data};
///
/// #[derive(Clone)]
/// struct Mailer;
///
/// async fn send(to: String, mailer: Data<Mailer>) -> Result<(), BoxDynError> {
///     let _mailer: &Mailer = &mailer;
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Data<T>(T);

impl<T> Data<T> {
    /// Wrap a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Data<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone + Send + Sync + 'static> FromTask for Data<T> {
    fn from_task(ctx: &TaskContext) -> Result<Self, BoxDynError> {
        ctx.data.get::<T>().cloned().map(Data).ok_or_else(|| {
            format!(
                "the handler asks for Data<{0}> but the worker has none; register it with \
                 WorkerBuilder::data(value_of_type_{0})",
                std::any::type_name::<T>()
            )
            .into()
        })
    }
}

/// The attempt number (1 for the first run) as a handler argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt(pub u32);

impl FromTask for Attempt {
    fn from_task(ctx: &TaskContext) -> Result<Self, BoxDynError> {
        Ok(Attempt(ctx.attempt))
    }
}

impl FromTask for TaskId {
    fn from_task(ctx: &TaskContext) -> Result<Self, BoxDynError> {
        Ok(ctx.id)
    }
}

impl FromTask for WorkerContext {
    fn from_task(ctx: &TaskContext) -> Result<Self, BoxDynError> {
        Ok(ctx.worker.clone())
    }
}

impl FromTask for TaskContext {
    fn from_task(ctx: &TaskContext) -> Result<Self, BoxDynError> {
        Ok(ctx.clone())
    }
}
