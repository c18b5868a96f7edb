//! Turning `async fn(job, extractors…) -> Result<R, E>` into a tower service.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::BoxDynError;
use crate::extract::FromTask;
use crate::request::Request;

/// A job handler: an async function of the job and up to eight extractors, returning a
/// `Result`. Implemented for every such function; `Args` is a marker for its extractors.
pub trait JobFn<T, Args>: Clone + Send + Sync + 'static {
    /// What the handler returns on success.
    type Output: Send + 'static;
    /// The handler's future.
    type Future: Future<Output = Result<Self::Output, BoxDynError>> + Send + 'static;

    /// Run the handler for one request.
    fn call(&self, request: Request<T>) -> Self::Future;
}

/// The service made by `WorkerBuilder::build_fn` from a [`JobFn`].
pub struct ServiceFn<F, Args> {
    f: F,
    _args: PhantomData<fn() -> Args>,
}

impl<F: Clone, Args> Clone for ServiceFn<F, Args> {
    fn clone(&self) -> Self {
        Self { f: self.f.clone(), _args: PhantomData }
    }
}

impl<F, Args> ServiceFn<F, Args> {
    /// Wrap a handler.
    pub fn new(f: F) -> Self {
        Self { f, _args: PhantomData }
    }
}

impl<T, F, Args> tower::Service<Request<T>> for ServiceFn<F, Args>
where
    F: JobFn<T, Args>,
{
    type Response = F::Output;
    type Error = BoxDynError;
    type Future = F::Future;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<T>) -> Self::Future {
        JobFn::call(&self.f, request)
    }
}

/// The boxed future of a handler whose extractors could not all be built.
pub type HandlerFuture<R> = Pin<Box<dyn Future<Output = Result<R, BoxDynError>> + Send>>;

macro_rules! impl_job_fn {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<T, F, Fut, R, E, $($arg,)*> JobFn<T, ($($arg,)*)> for F
        where
            T: Send + 'static,
            F: Fn(T, $($arg,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = Result<R, E>> + Send + 'static,
            R: Send + 'static,
            E: Into<BoxDynError> + 'static,
            $($arg: FromTask + Send + 'static,)*
        {
            type Output = R;
            type Future = HandlerFuture<R>;

            fn call(&self, request: Request<T>) -> Self::Future {
                $(
                    let $arg = match $arg::from_task(&request.ctx) {
                        Ok(value) => value,
                        Err(e) => return Box::pin(std::future::ready(Err(e))),
                    };
                )*
                let fut = (self)(request.job, $($arg,)*);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
        }
    };
}

impl_job_fn!();
impl_job_fn!(A1);
impl_job_fn!(A1, A2);
impl_job_fn!(A1, A2, A3);
impl_job_fn!(A1, A2, A3, A4);
impl_job_fn!(A1, A2, A3, A4, A5);
impl_job_fn!(A1, A2, A3, A4, A5, A6);
impl_job_fn!(A1, A2, A3, A4, A5, A6, A7);
impl_job_fn!(A1, A2, A3, A4, A5, A6, A7, A8);
