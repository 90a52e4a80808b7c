//! Compile the shared model sources with `cfg(loom)`, for this package only (a RUSTFLAGS cfg
//! would reach every crate of the build, and cargo unifies features).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
    println!("cargo::rustc-cfg=loom");
    println!("cargo::rerun-if-changed=build.rs");
}
