//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!`
//! embeds the `migrations/` directory at compile time, and without this
//! cargo would not notice a new file there and keep a binary without it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
