//! The OAuth2 URL that adds the bot to a server, with the permissions the
//! adapter really uses and no more.

use serenity::all::Permissions;

/// The OAuth2 scopes: the bot user, and its application (slash and message)
/// commands.
pub const SCOPES: &[&str] = &["bot", "applications.commands"];

/// What the bot does in a server's channels, flag by flag:
/// - `VIEW_CHANNEL`: see intake channels and the channels it posts in;
/// - `SEND_MESSAGES`: incident cards, notices, digests (`delivery.rs`);
/// - `EMBED_LINKS`: every card is an embed (`render.rs`);
/// - `READ_MESSAGE_HISTORY`: read the message a create reaction was put on
///   (`events.rs`, `on_reaction`);
/// - `CREATE_PUBLIC_THREADS` and `SEND_MESSAGES_IN_THREADS`: each card gets
///   a thread (`discord.incident_threads`) and notices go into it.
///
/// Not asked for: `ADD_REACTIONS` (the bot reads reactions, it never adds
/// one), `MANAGE_MESSAGES` (it edits only its own cards, which needs no
/// permission), `MANAGE_THREADS`. Surveys go by direct message, which needs
/// no server permission.
pub const PERMISSIONS: Permissions = Permissions::VIEW_CHANNEL
    .union(Permissions::SEND_MESSAGES)
    .union(Permissions::EMBED_LINKS)
    .union(Permissions::READ_MESSAGE_HISTORY)
    .union(Permissions::CREATE_PUBLIC_THREADS)
    .union(Permissions::SEND_MESSAGES_IN_THREADS);

/// The invite URL for the application `application_id`.
pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope={}&permissions={}",
        SCOPES.join("%20"),
        PERMISSIONS.bits()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invite_asks_for_the_bot_and_its_commands_with_named_permissions() {
        let url = invite_url(123_456_789_012_345_678);
        // 1024 + 2048 + 16384 + 65536 + 34359738368 + 274877906944
        assert_eq!(
            url,
            "https://discord.com/oauth2/authorize?client_id=123456789012345678&scope=bot%20applications.commands&permissions=309237730304"
        );
        assert!(!PERMISSIONS.contains(Permissions::ADMINISTRATOR));
        assert!(!PERMISSIONS.contains(Permissions::ADD_REACTIONS));
    }
}
