//! The per-piece code of the operation table's macro: how each piece of a call's syntax
//! (`path`, `dev`, `binds`, `uses`, `lit`, `opt`, `flags`) is parsed, printed, named as a handle
//! and described, so that [`super::OPERATIONS`] rows only list their pieces; and the defaults of
//! the table's optional columns (`handle_use!`, `steps!`).
//!
//! What it models: nothing of the kernel; it is the scenario language's grammar, one arm per piece.
//!
//! Invariant: every piece has exactly one `@parse`, `@show` and `@desc` arm, and printing what
//! was parsed gives the same text (the round-trip test of every example in `super`).

/// Per-piece code for `operations!`: parsing, printing, handles and the description.
macro_rules! piece {
    (@parse $t:ident, path($f:ident)) => {
        let $f = $t.path()?;
    };
    (@parse $t:ident, dev($f:ident)) => {
        let $f = $t.name("a device name")?;
    };
    (@parse $t:ident, binds($f:ident)) => {
        let $f = $t.as_handle()?;
    };
    (@parse $t:ident, uses($f:ident)) => {
        let $f = $t.handle()?;
    };
    (@parse $t:ident, lit($s:literal)) => {
        $t.literal($s)?;
    };
    (@parse $t:ident, opt($s:literal, $f:ident)) => {
        let $f = $t.optional($s);
    };
    (@parse $t:ident, flags($f:ident : $ty:ty)) => {
        let $f: $ty = $t.flags()?;
    };

    (@show $w:ident, path($f:ident)) => {
        write!($w, " {}", $f)?;
    };
    (@show $w:ident, dev($f:ident)) => {
        write!($w, " {}", $f)?;
    };
    (@show $w:ident, binds($f:ident)) => {
        write!($w, " as {}", $f)?;
    };
    (@show $w:ident, uses($f:ident)) => {
        write!($w, " {}", $f)?;
    };
    (@show $w:ident, lit($s:literal)) => {
        write!($w, " {}", $s)?;
    };
    (@show $w:ident, opt($s:literal, $f:ident)) => {
        if *$f {
            write!($w, " {}", $s)?;
        }
    };
    (@show $w:ident, flags($f:ident : $ty:ty)) => {
        Flags::show($f, $w)?;
    };

    (@binds $o:ident, binds($f:ident)) => {
        $o = Some($f.as_str());
    };
    (@binds $o:ident, $($other:tt)*) => {};
    (@uses $o:ident, uses($f:ident)) => {
        $o = Some($f.as_str());
    };
    (@uses $o:ident, $($other:tt)*) => {};

    (@desc path($f:ident)) => {
        Piece::Path(stringify!($f))
    };
    (@desc dev($f:ident)) => {
        Piece::Dev(stringify!($f))
    };
    (@desc binds($f:ident)) => {
        Piece::Binds(stringify!($f))
    };
    (@desc uses($f:ident)) => {
        Piece::Uses(stringify!($f))
    };
    (@desc lit($s:literal)) => {
        Piece::Lit($s)
    };
    (@desc opt($s:literal, $f:ident)) => {
        Piece::Opt($s)
    };
    (@desc flags($f:ident : $ty:ty)) => {
        Piece::Flags(<$ty as Flags>::LETTERS)
    };
}

/// The `handle` column of `operations!`: [`super::HandleUse::None`] when a row leaves it out.
macro_rules! handle_use {
    () => {
        HandleUse::None
    };
    ($h:expr) => {
        $h
    };
}

/// The `steps` column of `operations!`: [`super::Steps::None`] when a row leaves it out.
macro_rules! steps {
    () => {
        Steps::None
    };
    ($s:expr) => {
        $s
    };
}
