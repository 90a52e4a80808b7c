//! Calls that mean something: a generated thread call whose arguments make it fail when run
//! alone is drawn again.
//!
//! What it does: syzkaller generates calls against the resources earlier calls made; here the
//! model itself says which draws mean something. A thread call with a path or a device is run
//! alone, by init, after the setup and the calls of its task that succeeded
//! ([`run_setup`]: the sequential run of the model that the specification uses too); when it
//! fails (`umount` of a directory no device is mounted on, `rmdir`
//! of a mountpoint or of a path that does not exist, a walk through a file) its path and device
//! bytes are drawn again, up to [`MEANINGFUL_TRIES`] times, and the first draw is kept when none
//! succeeds. One call in four keeps its first draw whatever it does ([`MEANINGFUL_BITS`]): a
//! call that fails alone may succeed beside another thread's (a `umount` of what another thread
//! mounts), and an error path is a path too.
//!
//! Invariant: the text returned is a function of the argument bytes, the program so far and the
//! pool's memory, which forgets the draws not kept ([`Pool::forget_since`]), so one case still
//! realizes to one program.

use super::pool::{text_of, Pool};
use super::ARGS;
use mountcheck_model::program::linearizable::run_setup;
use mountcheck_model::program::syntax::Piece;
use mountcheck_model::program::OpSpec;
use mountcheck_model::{parse_call, Call, LockDesign, Program};

/// Draws of a thread call's path and device bytes tried before its first draw is kept: when the
/// call fails run alone after the setup and its task's earlier calls (`umount` of a directory no
/// device is mounted on, `rmdir` of a mountpoint), its path and device bytes are drawn again, up
/// to this many times, so that most calls mean something (a call that fails alone may still
/// succeed beside another thread's, so the first draw is kept when none succeeds).
pub(super) const MEANINGFUL_TRIES: u8 = 3;

/// The bits of a call's last argument byte of which one at least must be set for its arguments
/// to be drawn again when it fails alone: three calls in four are, the fourth keeps its first
/// draw (a path that does not exist yet, a mount not made yet: what another thread's call may
/// make meaningful).
pub(super) const MEANINGFUL_BITS: u8 = 0x60;

/// What a redraw adds to each path and device byte (odd, so that the tries differ in every bit).
const REDRAW_STEP: u8 = 0x5b;

/// Whether call `text` returns 0 run alone: by init, after `p`'s setup and `earlier` (the calls
/// of its task that did), in the fixed protocol under `design`.
pub(super) fn succeeds_alone(
    p: &Program,
    earlier: &[Call],
    text: &str,
    design: LockDesign,
) -> bool {
    let Ok(call) = parse_call(text) else {
        return false;
    };
    let mut setup = p.setup.clone();
    setup.extend(earlier.iter().cloned());
    setup.push(call);
    let alone = Program {
        setup,
        ..Program::default()
    };
    run_setup(&alone, design).is_ok()
}

/// The text of a thread call of `spec` ([`text_of`]) whose path and device bytes are drawn again
/// (up to [`MEANINGFUL_TRIES`] times) while it fails run alone ([`succeeds_alone`]), the first
/// draw kept when no draw succeeds; and whether the text returned is known to succeed alone. A
/// call with no path or device, or none of [`MEANINGFUL_BITS`] set in its last argument byte, is
/// drawn once (and not run).
#[allow(clippy::too_many_arguments)]
pub(super) fn meaningful_text(
    spec: &OpSpec,
    args: &[u8; ARGS],
    pool: &Pool<'_>,
    handle: &str,
    binds: &str,
    p: &Program,
    earlier: &[Call],
    design: LockDesign,
) -> (String, bool) {
    let drawn: Vec<usize> = spec
        .syntax
        .iter()
        .enumerate()
        .filter(|(_, piece)| matches!(piece, Piece::Path(_) | Piece::Dev(_)))
        .map(|(i, _)| i % ARGS)
        .collect();
    let mark = pool.mark();
    let first = text_of(spec, args, pool, handle, binds);
    if drawn.is_empty() || args[ARGS - 1] & MEANINGFUL_BITS == 0 {
        return (first, false);
    }
    if succeeds_alone(p, earlier, &first, design) {
        return (first, true);
    }
    for k in 1..=MEANINGFUL_TRIES {
        pool.forget_since(mark);
        let mut again = *args;
        for &i in &drawn {
            again[i] = args[i].wrapping_add(REDRAW_STEP.wrapping_mul(k));
        }
        let text = text_of(spec, &again, pool, handle, binds);
        if succeeds_alone(p, earlier, &text, design) {
            return (text, true);
        }
    }
    pool.forget_since(mark);
    (text_of(spec, args, pool, handle, binds), false)
}
