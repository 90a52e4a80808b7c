//! `UnsafeCell` with loom's API (`with`, `with_mut`) for the std and shuttle backends.
//!
//! What it models: nothing of the kernel; it lets model code that publishes data through atomic
//! pointers be written once and checked by loom, whose own `UnsafeCell` tracks every access.
//! Invariant: the same as `std::cell::UnsafeCell`'s; callers keep reads and writes apart.

/// A cell whose accesses go through closures, as loom's do.
#[derive(Debug, Default)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    /// A new cell holding `v`.
    pub fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }

    /// Run `f` with a shared pointer to the value.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Run `f` with an exclusive pointer to the value.
    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
