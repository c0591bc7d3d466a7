//! How tickets look, whatever the platform: list lines, cards with their
//! buttons, and the whole record `show` answers with. The adapters render
//! these platform-free messages; the engine and the outbox build them here.

pub mod change;
pub mod incident;
pub mod request;
pub mod summary;
