//! Stack depth: deeply nested input is refused with 54001 ("stack depth
//! limit exceeded"), as PostgreSQL refuses it, instead of overflowing the
//! thread's stack, which would abort the whole process and every
//! connection with it.
//!
//! Like PostgreSQL's `check_stack_depth`, this measures the stack itself:
//! each session entry point ([`StackBase::enter`]) records where its stack
//! stood, and every recursive step of binding, optimizing, compiling and
//! evaluating ([`check`]) compares the current position with that base.
//! Input nesting is bounded before any of that runs: the parser refuses
//! deeper nesting than `parser::MAX_NESTING` and longer chains of infix
//! operators than `parser::MAX_CHAIN`, which also bounds how deep the
//! syntax tree is when it is dropped.
//!
//! Invariant: the limit plus the deepest single step between two checks
//! fits in the stack a session runs on. The default, [`MAX_STACK_DEPTH`],
//! fits Rust's default of 2 MiB for spawned threads; the server's threads
//! have a larger stack and say so with [`set_thread_limit`].

use std::cell::Cell;

use crate::error::{Error, Result, SqlState};

/// How much stack a statement may use below its session entry point, on
/// a thread that has not said it has more ([`set_thread_limit`]).
pub const MAX_STACK_DEPTH: usize = 1024 * 1024;

thread_local! {
    /// The stack position of the outermost session call on this thread
    /// (0: none is running).
    static BASE: Cell<usize> = const { Cell::new(0) };
    /// How far below `BASE` the stack may grow on this thread.
    static LIMIT: Cell<usize> = const { Cell::new(MAX_STACK_DEPTH) };
}

/// Lets statements on the calling thread use `bytes` of stack. The thread
/// must have been created with a stack larger than that by at least
/// [`MAX_STACK_DEPTH`], the headroom for the deepest unchecked step and
/// for dropping what a refused statement had built.
pub fn set_thread_limit(bytes: usize) {
    LIMIT.with(|limit| limit.set(bytes));
}

/// How much stack statements may use on the calling thread.
pub fn thread_limit() -> usize {
    LIMIT.with(Cell::get)
}

/// The position of the caller's stack frame.
#[inline(always)]
fn position() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// Marks a session entry point; the outermost one on the thread sets the
/// base, and dropping it clears the base again.
pub struct StackBase {
    outermost: bool,
}

impl StackBase {
    pub fn enter() -> StackBase {
        let outermost = BASE.with(|base| {
            if base.get() == 0 {
                base.set(position());
                true
            } else {
                false
            }
        });
        StackBase { outermost }
    }
}

impl Drop for StackBase {
    fn drop(&mut self) {
        if self.outermost {
            BASE.with(|base| base.set(0));
        }
    }
}

/// The 54001 error.
pub fn stack_depth_exceeded() -> Error {
    Error::sql(
        SqlState::STATEMENT_TOO_COMPLEX,
        "stack depth limit exceeded",
    )
}

/// Fails with 54001 when the stack has grown more than
/// [`MAX_STACK_DEPTH`] below the session's entry point.
#[inline]
pub fn check() -> Result<()> {
    let base = BASE.with(Cell::get);
    // Stacks grow down on every platform basalt runs on.
    if base != 0 && base.saturating_sub(position()) > LIMIT.with(Cell::get) {
        return Err(stack_depth_exceeded());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recurse(depth: usize) -> Result<usize> {
        check()?;
        // Keep a frame of some size alive across the call.
        let frame = [depth as u8; 512];
        let below = recurse(depth + 1)?;
        Ok(below + usize::from(frame[0] == 1))
    }

    #[test]
    fn unbounded_recursion_is_an_error_not_an_overflow() {
        let _base = StackBase::enter();
        let error = recurse(0).unwrap_err();
        assert_eq!(error.sqlstate(), SqlState::STATEMENT_TOO_COMPLEX);
    }

    #[test]
    fn a_thread_with_a_larger_stack_goes_deeper() {
        fn deepest(depth: usize) -> usize {
            if check().is_err() {
                return depth;
            }
            let frame = [depth as u8; 512];
            deepest(depth + 1) + usize::from(frame[0] == 1)
        }
        let shallow = std::thread::spawn(|| {
            let _base = StackBase::enter();
            deepest(0)
        })
        .join()
        .expect("no overflow");
        let deep = std::thread::Builder::new()
            .stack_size(8 * MAX_STACK_DEPTH)
            .spawn(|| {
                set_thread_limit(4 * MAX_STACK_DEPTH);
                let _base = StackBase::enter();
                deepest(0)
            })
            .expect("thread starts")
            .join()
            .expect("no overflow");
        assert!(deep > 3 * shallow, "{deep} levels against {shallow}");
    }

    #[test]
    fn without_a_session_nothing_is_checked() {
        assert!(check().is_ok());
    }
}
