//! `[requests]`: the service catalog (`[[requests.catalog]]`) and approver
//! reminders, read as written and checked into domain
//! [`CatalogItem`]s while loading, so an unknown runbook or calendar, a
//! choice without choices or a runbook parameter no field supplies stops
//! the bot at start with the key that holds it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{invalid, CalendarConfig, ConfigError, DurationSetting, RotationConfig};
use crate::domain::automation::runbook::Runbook;
use crate::domain::calendar::{BusinessCalendar, Hours};
use crate::domain::channel::ChannelRef;
use crate::domain::duration::BusinessLength;
use crate::domain::request::{Approver, CatalogItem, FieldKind, FieldSpec, Team};
use crate::domain::{Role, UserId};

/// `[requests]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestsConfig {
    #[serde(default)]
    pub catalog: Vec<CatalogItemConfig>,
    /// An approval waiting this long (counted in the item's calendar, or
    /// office days 09:00–17:00 UTC) reminds the approvers; default `8h`,
    /// one business day.
    #[serde(default = "default_remind")]
    pub remind_approvers_after: DurationSetting,
    /// The team's channel: where every item's request cards are posted
    /// (and edited in place), unless the item names its own `channel`.
    /// Without either, a card goes where the request was asked.
    pub channel: Option<ChannelRef>,
    /// The catalog, checked.
    #[serde(skip)]
    pub items: Vec<CatalogItem>,
    /// The business calendars items count in, by name.
    #[serde(skip)]
    pub calendars: BTreeMap<String, BusinessCalendar>,
}

impl Default for RequestsConfig {
    fn default() -> Self {
        RequestsConfig {
            catalog: Vec::new(),
            remind_approvers_after: default_remind(),
            channel: None,
            items: Vec::new(),
            calendars: BTreeMap::new(),
        }
    }
}

fn default_remind() -> DurationSetting {
    DurationSetting(chrono::Duration::hours(8))
}

/// One `[[requests.catalog]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogItemConfig {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub fields: Vec<FieldConfig>,
    /// Users (`shell:mia`) or `"role:<role>"`; absent = no approval.
    #[serde(default)]
    pub approval: Vec<String>,
    #[serde(default = "one")]
    pub approvals_needed: u32,
    /// `"role:<role>"` or an on-call rotation name; default `role:engineer`.
    pub team: Option<String>,
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Business time from approval: `d` is a working day of `calendar`
    /// (3d with 09:00–17:00 days is 24 counted hours), `w` a working week,
    /// `h`/`m` business hours and minutes.
    pub fulfil_within: Option<String>,
    pub calendar: Option<String>,
    pub runbook: Option<String>,
    /// The channel of the team that fulfils it, where its request cards
    /// go; default `requests.channel`.
    pub channel: Option<ChannelRef>,
}

fn one() -> u32 {
    1
}

/// One field of a catalog item as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    pub name: String,
    /// `text`, `choice`, `date` or `user`.
    pub kind: String,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub required: bool,
}

impl RequestsConfig {
    /// The catalog item called `name`.
    pub fn item(&self, name: &str) -> Option<&CatalogItem> {
        self.items.iter().find(|i| i.name == name)
    }

    /// The hours `item`'s times count in: its calendar's business hours,
    /// else office days (Monday to Friday) in UTC, since people, not
    /// pagers, approve and fulfil requests.
    pub fn hours(&self, item: &CatalogItem) -> Hours {
        let calendar = item
            .calendar
            .as_ref()
            .and_then(|name| self.calendars.get(name))
            .cloned()
            .unwrap_or_else(BusinessCalendar::office_utc);
        Hours::Business(calendar)
    }

    /// Checks the catalog against the runbooks, calendars and rotations it
    /// names and builds [`RequestsConfig::items`].
    pub(super) fn build(
        &mut self,
        runbooks: &[Runbook],
        calendars: &BTreeMap<String, CalendarConfig>,
        rotations: &[RotationConfig],
        locale: chrono_tz::Tz,
    ) -> Result<(), ConfigError> {
        if self.remind_approvers_after.0 <= chrono::Duration::zero() {
            return Err(invalid(
                "requests.remind_approvers_after",
                "must be longer than nothing, e.g. \"1d\"",
            ));
        }
        let built = super::sla::build_calendars(calendars, locale)?;
        let mut names = BTreeSet::new();
        let mut items = Vec::with_capacity(self.catalog.len());
        for (index, entry) in self.catalog.iter().enumerate() {
            let key = |field: &str| format!("requests.catalog[{index}].{field}");
            if !crate::domain::service::valid_name(&entry.name) {
                return Err(invalid(
                    key("name"),
                    format!(
                        "`{}` is not a name; use lower-case letters, digits, `-`, `_` or `.`",
                        entry.name
                    ),
                ));
            }
            if !names.insert(entry.name.as_str()) {
                return Err(invalid(
                    key("name"),
                    format!(
                        "`{}` is defined twice; give each item its own name",
                        entry.name
                    ),
                ));
            }
            if entry.title.trim().is_empty() || entry.title.chars().count() > 200 {
                return Err(invalid(key("title"), "must be 1 to 200 characters"));
            }
            let mut fields = Vec::new();
            let mut field_names = BTreeSet::new();
            for (f, field) in entry.fields.iter().enumerate() {
                let fkey = |part: &str| key(&format!("fields[{f}].{part}"));
                if !crate::domain::service::valid_name(&field.name) {
                    return Err(invalid(
                        fkey("name"),
                        format!(
                            "`{}` is not a field name; use lower-case letters, digits, `-` or `_`",
                            field.name
                        ),
                    ));
                }
                if !field_names.insert(field.name.as_str()) {
                    return Err(invalid(
                        fkey("name"),
                        format!("`{}` is defined twice", field.name),
                    ));
                }
                let kind = match field.kind.as_str() {
                    "text" => FieldKind::Text,
                    "date" => FieldKind::Date,
                    "user" => FieldKind::User,
                    "choice" if field.choices.is_empty() => {
                        return Err(invalid(
                            fkey("choices"),
                            "a `choice` field needs `choices = [\"…\", …]`",
                        ))
                    }
                    "choice" => FieldKind::Choice(field.choices.clone()),
                    other => {
                        return Err(invalid(
                            fkey("kind"),
                            format!(
                                "`{other}` is not a field kind; use text, choice, date or user"
                            ),
                        ))
                    }
                };
                if !field.choices.is_empty() && !matches!(kind, FieldKind::Choice(_)) {
                    return Err(invalid(
                        fkey("choices"),
                        "only a field of kind `choice` has choices",
                    ));
                }
                if field
                    .choices
                    .iter()
                    .any(|c| c.trim().is_empty() || c.contains(char::is_whitespace))
                {
                    return Err(invalid(
                        fkey("choices"),
                        "each choice is one word (`13-inch`, not `13 inch`), so it can be typed as `field:value`",
                    ));
                }
                fields.push(FieldSpec {
                    name: field.name.clone(),
                    kind,
                    required: field.required,
                });
            }
            let mut approval = Vec::new();
            for (a, text) in entry.approval.iter().enumerate() {
                let akey = key(&format!("approval[{a}]"));
                approval.push(match text.strip_prefix("role:") {
                    Some(role) => Approver::Role(
                        role.parse::<Role>()
                            .map_err(|_| invalid(akey.clone(), not_a_role(role)))?,
                    ),
                    None => Approver::User(text.parse::<UserId>().map_err(|err| {
                        invalid(
                            akey.clone(),
                            format!(
                                "{err}; name a user (`slack:U024BE7LH`) or a role (`role:manager`)"
                            ),
                        )
                    })?),
                });
            }
            if entry.approvals_needed == 0 || entry.approvals_needed > 20 {
                return Err(invalid(
                    key("approvals_needed"),
                    format!("{} is not between 1 and 20", entry.approvals_needed),
                ));
            }
            let only_users = approval.iter().all(|a| matches!(a, Approver::User(_)));
            if !approval.is_empty()
                && only_users
                && entry.approvals_needed as usize > approval.len()
            {
                return Err(invalid(
                    key("approvals_needed"),
                    format!(
                        "{} approvals cannot come from the {} people listed in `approval`",
                        entry.approvals_needed,
                        approval.len()
                    ),
                ));
            }
            let team = match entry.team.as_deref() {
                None => Team::Role(Role::Engineer),
                Some(text) => match text.strip_prefix("role:") {
                    Some(role) => Team::Role(
                        role.parse::<Role>()
                            .map_err(|_| invalid(key("team"), not_a_role(role)))?,
                    ),
                    None if rotations.iter().any(|r| r.name == text) => Team::Rotation(text.into()),
                    None => {
                        return Err(invalid(
                            key("team"),
                            format!(
                                "`{text}` is neither `role:<role>` nor an `[[oncall.rotations]]` name{}",
                                listing(rotations.iter().map(|r| r.name.as_str()))
                            ),
                        ))
                    }
                },
            };
            if entry.tasks.iter().any(|t| t.trim().is_empty()) {
                return Err(invalid(key("tasks"), "a task needs a name"));
            }
            let calendar = match &entry.calendar {
                Some(calendar) => built.get(calendar).cloned().ok_or_else(|| {
                    invalid(
                        key("calendar"),
                        format!(
                            "there is no calendar `{calendar}` in `[calendars]`{}",
                            listing(calendars.keys().map(String::as_str))
                        ),
                    )
                })?,
                None => BusinessCalendar::office_utc(),
            };
            let business_day = calendar.working_day();
            let fulfil_within = match &entry.fulfil_within {
                None => None,
                Some(text) => {
                    let length = BusinessLength::parse(text).map_err(|err| {
                        invalid(
                            key("fulfil_within"),
                            format!("{err}; e.g. \"3d\" (three working days) or \"16h\""),
                        )
                    })?;
                    let within = length.in_hours_of(business_day, calendar.working_days_per_week());
                    if within <= chrono::Duration::zero() {
                        return Err(invalid(key("fulfil_within"), "must be longer than nothing"));
                    }
                    Some(within)
                }
            };
            if let Some(name) = &entry.runbook {
                let Some((r, runbook)) = runbooks.iter().enumerate().find(|(_, r)| &r.name == name)
                else {
                    return Err(invalid(
                        key("runbook"),
                        format!(
                            "there is no runbook `{name}` in `[[automation.runbooks]]`{}",
                            listing(runbooks.iter().map(|r| r.name.as_str()))
                        ),
                    ));
                };
                for param in runbook.params.keys() {
                    if !field_names.contains(param.as_str()) {
                        return Err(invalid(
                            key("runbook"),
                            format!(
                                "runbook `{name}` takes parameter `{param}` (`automation.runbooks[{r}].params.{param}`), and no field of `{}` supplies it; add a field `{param}` to `{}`",
                                entry.name,
                                key("fields")
                            ),
                        ));
                    }
                }
            }
            items.push(CatalogItem {
                name: entry.name.clone(),
                title: entry.title.clone(),
                description: entry.description.clone(),
                fields,
                approval,
                approvals_needed: entry.approvals_needed,
                team,
                tasks: entry.tasks.clone(),
                fulfil_within,
                business_day,
                calendar: entry.calendar.clone(),
                runbook: entry.runbook.clone(),
                channel: entry.channel.clone().or_else(|| self.channel.clone()),
            });
        }
        self.items = items;
        self.calendars = built;
        Ok(())
    }
}

fn not_a_role(text: &str) -> String {
    format!(
        "`{text}` is not a role; use one of {}",
        Role::ALL.map(Role::as_str).join(", ")
    )
}

/// "; known: a, b" for a refusal, or nothing when there are none.
fn listing<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "; none are configured".into()
    } else {
        format!("; known: {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests;
