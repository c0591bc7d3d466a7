//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!`
//! embeds the `migrations/` directory at compile time, and without this
//! cargo would not notice a new file there and keep a binary without it.
//!
//! Links the binaries with packed relative relocations (`DT_RELR`, glibc
//! 2.36 and GNU ld 2.38 or later: Debian 12, Ubuntu 22.10). A position
//! independent executable carries one relocation per pointer in its
//! read-only data, which the loader reads at every start: 2.1 MB of
//! `.rela.dyn` for this binary, resident for the process's whole life, a
//! twelfth of an idle `serve`. Packed, they take a few kilobytes. The binary
//! stays position independent (ASLR is unchanged).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
