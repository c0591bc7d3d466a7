//! Roles and who holds them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::user::{Platform, UserId, UserIdError};

/// What a person may do. Everyone is a [`Role::Reporter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Reporter,
    Engineer,
    Manager,
    Cab,
    EmergencyCab,
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 6] = [
        Role::Reporter,
        Role::Engineer,
        Role::Manager,
        Role::Cab,
        Role::EmergencyCab,
        Role::Admin,
    ];

    /// The role's name in config and chat.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::Engineer => "engineer",
            Role::Manager => "manager",
            Role::Cab => "cab",
            Role::EmergencyCab => "emergency_cab",
            Role::Admin => "admin",
        }
    }
}

/// Why a role name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role; roles are reporter, engineer, manager, cab, emergency_cab and admin")]
pub struct RoleError(pub String);

impl FromStr for Role {
    type Err = RoleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| RoleError(text.to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a grant in config applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserPattern {
    /// One person, `slack:U024BE7LH`.
    Exact(UserId),
    /// Everyone on a platform, `shell:*`.
    Platform(Platform),
    /// Everyone, `*`.
    Everyone,
}

impl FromStr for UserPattern {
    type Err = UserIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "*" {
            return Ok(UserPattern::Everyone);
        }
        if let Some(platform) = text.strip_suffix(":*") {
            return Ok(UserPattern::Platform(platform.parse()?));
        }
        Ok(UserPattern::Exact(text.parse()?))
    }
}

impl UserPattern {
    fn matches(&self, user: &UserId) -> bool {
        match self {
            UserPattern::Exact(id) => id == user,
            UserPattern::Platform(platform) => user.platform() == *platform,
            UserPattern::Everyone => true,
        }
    }
}

/// The role grants from config, to which grants stored in the database add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleBook {
    grants: Vec<(Role, UserPattern)>,
}

impl RoleBook {
    /// A book with these grants.
    pub fn new(grants: Vec<(Role, UserPattern)>) -> Self {
        RoleBook { grants }
    }

    /// The people named one by one for `role` (not `shell:*` or `*`), for
    /// telling who is asked.
    pub fn named_holders(&self, role: Role) -> Vec<String> {
        self.grants
            .iter()
            .filter_map(|(granted, pattern)| match pattern {
                UserPattern::Exact(user) if *granted == role => Some(user.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Every role `user` holds: reporter, the config grants, and `stored`
    /// (grants from the database).
    pub fn roles_of(&self, user: &UserId, stored: &[Role]) -> RoleSet {
        let mut roles: BTreeSet<Role> = stored.iter().copied().collect();
        roles.insert(Role::Reporter);
        roles.extend(
            self.grants
                .iter()
                .filter(|(_, pattern)| pattern.matches(user))
                .map(|(role, _)| *role),
        );
        RoleSet(roles)
    }
}

/// The roles one person holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    /// Whether these roles allow what `needed` allows. Admins may do what
    /// engineers and managers do; approving changes stays with the CAB roles,
    /// which are a duty, not a rank.
    pub fn allows(&self, needed: Role) -> bool {
        if self.0.contains(&needed) {
            return true;
        }
        matches!(needed, Role::Engineer | Role::Manager) && self.0.contains(&Role::Admin)
    }

    /// The roles, least powerful first.
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_match_people_platforms_and_everyone() {
        let book = RoleBook::new(vec![
            (Role::Engineer, "shell:*".parse().unwrap()),
            (Role::Cab, "slack:U1".parse().unwrap()),
            (Role::Manager, "*".parse().unwrap()),
        ]);
        let alice: UserId = "shell:alice".parse().unwrap();
        let u1: UserId = "slack:U1".parse().unwrap();
        let u2: UserId = "slack:U2".parse().unwrap();
        assert!(book.roles_of(&alice, &[]).allows(Role::Engineer));
        assert!(!book.roles_of(&alice, &[]).allows(Role::Cab));
        assert!(book.roles_of(&u1, &[]).allows(Role::Cab));
        assert!(!book.roles_of(&u2, &[]).allows(Role::Engineer));
        assert!(book.roles_of(&u2, &[Role::Engineer]).allows(Role::Engineer));
        assert!(book.roles_of(&u2, &[]).allows(Role::Reporter));
        assert!(book.roles_of(&u2, &[]).allows(Role::Manager));
    }

    #[test]
    fn admins_work_tickets_but_do_not_approve() {
        let admin = RoleBook::default().roles_of(&"slack:U9".parse().unwrap(), &[Role::Admin]);
        assert!(admin.allows(Role::Engineer));
        assert!(!admin.allows(Role::Cab));
    }
}
