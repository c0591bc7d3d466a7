use std::io::Write;

use crate::config::Config;
use crate::domain::request::{Approver, FieldKind, Team};
use crate::domain::Role;

const RUNBOOK: &str = r#"
[[automation.runbooks]]
name = "provision-vm"
role = "engineer"
params = { size = ["small", "medium", "large"], name = "string" }
request = { method = "POST", url = "http://127.0.0.1:9000/provision", body = '{"size": "{{ size }}", "name": "{{ name }}"}' }
"#;

const CATALOG: &str = r#"
[[requests.catalog]]
name = "laptop"
title = "New or replacement laptop"
description = "For new starters and broken machines"
fields = [
  { name = "model", kind = "choice", choices = ["13-inch", "15-inch"], required = true },
  { name = "reason", kind = "text" },
]
approval = ["shell:mia", "role:manager"]
tasks = ["Order", "Image", "Hand over"]
fulfil_within = "3d"
calendar = "office"

[[requests.catalog]]
name = "vm"
title = "Virtual machine"
fields = [ { name = "size", kind = "choice", choices = ["small", "medium", "large"], required = true },
           { name = "name", kind = "text", required = true } ]
runbook = "provision-vm"
"#;

fn load(contents: &str) -> Result<Config, String> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    Config::load_with_env(Some(file.path()), Vec::new()).map_err(|e| e.to_string())
}

#[test]
fn the_spec_catalog_loads_with_its_defaults() {
    let config = load(&format!("{RUNBOOK}{CATALOG}")).unwrap();
    let laptop = config.requests.item("laptop").unwrap();
    assert_eq!(laptop.approvals_needed, 1);
    assert_eq!(laptop.team, Team::Role(Role::Engineer));
    assert_eq!(laptop.approval[1], Approver::Role(Role::Manager));
    assert!(matches!(laptop.fields[0].kind, FieldKind::Choice(_)));
    // Three working days of the office calendar (09:00-17:00): 24 counted hours.
    assert_eq!(laptop.fulfil_within, Some(chrono::Duration::hours(24)));
    assert_eq!(laptop.business_day, chrono::Duration::hours(8));
    let vm = config.requests.item("vm").unwrap();
    assert!(vm.approval.is_empty());
    assert_eq!(vm.runbook.as_deref(), Some("provision-vm"));
    assert_eq!(
        config.requests.remind_approvers_after.0,
        chrono::Duration::hours(8)
    );
    assert!(Config::defaults().unwrap().requests.items.is_empty());
}

#[test]
fn bad_catalogs_name_their_key() {
    let vm_without_name = CATALOG.replace(
        r#",
           { name = "name", kind = "text", required = true } ]"#,
        " ]",
    );
    for (contents, key, words) in [
        (
            CATALOG.to_string(),
            "requests.catalog[1].runbook",
            "no runbook `provision-vm`",
        ),
        (
            format!("{RUNBOOK}{vm_without_name}"),
            "requests.catalog[1].runbook",
            "automation.runbooks[0].params.name",
        ),
        (
            format!(
                "{RUNBOOK}{}",
                CATALOG.replace(r#"choices = ["13-inch", "15-inch"], "#, "")
            ),
            "requests.catalog[0].fields[0].choices",
            "needs `choices",
        ),
        (
            format!(
                "{RUNBOOK}{}",
                CATALOG.replace(r#"name = "vm""#, r#"name = "laptop""#)
            ),
            "requests.catalog[1].name",
            "defined twice",
        ),
        (
            format!(
                "{RUNBOOK}{}",
                CATALOG.replace(r#"calendar = "office""#, r#"calendar = "moon""#)
            ),
            "requests.catalog[0].calendar",
            "no calendar `moon`",
        ),
        (
            format!("{RUNBOOK}{}", CATALOG.replace("role:manager", "role:boss")),
            "requests.catalog[0].approval[1]",
            "not a role",
        ),
        (
            format!(
                "{RUNBOOK}{}",
                CATALOG.replace(r#"kind = "text" }"#, r#"kind = "number" }"#)
            ),
            "requests.catalog[0].fields[1].kind",
            "text, choice, date or user",
        ),
        (
            format!(
                "{RUNBOOK}{}",
                CATALOG.replace("tasks = [", "team = \"nobody\"\ntasks = [")
            ),
            "requests.catalog[0].team",
            "neither",
        ),
        (
            format!(
                "{RUNBOOK}{}",
                CATALOG.replace(
                    "approval = [\"shell:mia\", \"role:manager\"]",
                    "approval = [\"shell:mia\"]\napprovals_needed = 2"
                )
            ),
            "requests.catalog[0].approvals_needed",
            "cannot come from the 1 people",
        ),
    ] {
        let error = load(&contents).unwrap_err();
        assert!(error.contains(&format!("`{key}`")), "{key}: {error}");
        assert!(error.contains(words), "{words}: {error}");
    }
}
