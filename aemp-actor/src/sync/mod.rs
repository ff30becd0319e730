//! What the kernel's subsystems share to stay safe under concurrency: poison-tolerant locks,
//! one way to run user code that may panic, a subscriber bus whose callbacks run after the
//! lock is released, and an ordered job runner.

pub(crate) mod bus;
pub(crate) mod serial;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`. No lock is held while user code runs, so a poisoned lock (a panic in kernel
/// code between two consistent states cannot happen) still holds consistent data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read-locks `l` (see [`lock`] on poisoning).
pub(crate) fn rlock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

/// Write-locks `l` (see [`lock`] on poisoning).
pub(crate) fn wlock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// User code panicked; the text is the panic's message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Panicked(String);

/// Runs user code `f`; a panic becomes `Err`. The one place the kernel catches panics of
/// synchronous user code (handlers, node-port functions, spawn inits, callbacks).
pub(crate) fn run_user<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| Panicked(panic_text(p)))
}

/// Runs fallible user code `f`: its error, or its panic as an error.
pub(crate) fn run_fallible<T, E: From<Panicked>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    run_user(f).unwrap_or_else(|p| Err(p.into()))
}

/// The text of a panic payload.
pub(crate) fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// Waits until `ready()` holds, re-checking each time `notify` wakes its waiters (no wake-up
/// is lost between the check and the wait).
pub(crate) async fn until(notify: &tokio::sync::Notify, ready: impl Fn() -> bool) {
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if ready() {
            return;
        }
        woken.await;
    }
}

/// Lets an idle worker thread run the task just woken, instead of the current thread once
/// its task yields.
///
/// tokio puts a task woken from a worker thread into that worker's LIFO slot, which other
/// workers cannot steal, and wakes no idle worker for it. A producer that sends many
/// messages without yielding would then run before the consumer, on one core, the other one
/// idle. Scheduling an empty task moves the woken one from the LIFO slot into the worker's
/// run queue and wakes an idle worker, which takes it. Used only for bursts (a lone message
/// stays on its thread: a hop would cost latency); a no-op outside a multi-threaded runtime.
pub(crate) fn hand_to_idle_worker() {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            rt.spawn(async {});
        }
    }
}
