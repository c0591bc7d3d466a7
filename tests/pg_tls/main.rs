//! TLS to PostgreSQL: a private cluster (tests/fault's helper) that accepts
//! TLS connections only (`ssl = on`, `hostssl` alone in pg_hba.conf), with a
//! certificate authority and server certificate this test makes. The real
//! binary connects with `sslmode`/`sslrootcert` in `database.url`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[allow(dead_code)] // the fault test uses other parts of the helper
#[path = "../fault/cluster.rs"]
mod cluster;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

const BIN: &str = env!("CARGO_BIN_EXE_itsm-bot");
/// Trust authentication ignores it; it is here to prove no error shows it.
const PASSWORD: &str = "tls-test-s3cret-password";

/// A free TCP port on 127.0.0.1 (the cluster helper asks for one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}

/// A certificate authority: its certificate (PEM) and issuer.
fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn bot(url: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env_remove("ITSM_CONFIG")
        .env_remove("PGSSLMODE")
        .env_remove("PGSSLROOTCERT")
        .stdin(Stdio::null());
    command
}

fn texts(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn url(port: u16, query: &str) -> String {
    format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/itsm?{query}")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_bot_speaks_tls_to_a_tls_only_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster::Cluster::create(dir.path());

    // The CA and the server's certificate, for 127.0.0.1 (verify-full
    // checks the address) and localhost.
    let ca = authority("itsm-bot test CA");
    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "itsm-bot test server");
    let server_cert = server.signed_by(&server_key, &ca).unwrap();
    let wrong_ca = authority("some other CA");
    let certs = tempfile::tempdir().unwrap();
    let ca_file = certs.path().join("ca.pem");
    let wrong_ca_file = certs.path().join("wrong-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&wrong_ca_file, wrong_ca.pem()).unwrap();

    cluster.write_data_file("server.crt", server_cert.pem().as_bytes(), 0o644);
    cluster.write_data_file("server.key", server_key.serialize_pem().as_bytes(), 0o600);
    let mut conf = cluster.read_data_file("postgresql.conf");
    conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
    cluster.write_data_file("postgresql.conf", conf.as_bytes(), 0o600);
    // TCP only with TLS; the Unix socket (pg_ctl's readiness check) as before.
    cluster.write_data_file(
        "pg_hba.conf",
        b"local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        0o600,
    );
    cluster.stop();
    cluster.start();

    // verify-full with the right CA: migrate (creating the database) and a command.
    let good = url(
        cluster.port,
        &format!("sslmode=verify-full&sslrootcert={}", path(&ca_file)),
    );
    let output = bot(&good).arg("migrate").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output));
    let output = bot(&good)
        .args([
            "say",
            "--user",
            "alice",
            "--channel",
            "ops",
            "--",
            "/incident TLS all the way P3",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output));
    assert!(texts(&output).contains("INC-1"), "{}", texts(&output));
    let output = bot(&good)
        .args(["check-config", "--connect"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output));
    assert!(texts(&output).contains("ok   database:"));

    // verify-ca and require connect too.
    for mode in [
        format!("sslmode=verify-ca&sslrootcert={}", path(&ca_file)),
        "sslmode=require".to_string(),
    ] {
        let output = bot(&url(cluster.port, &mode))
            .args(["say", "--user", "alice", "--", "/incident INC-1 show"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{mode}: {}", texts(&output));
    }

    // A CA that did not sign the server's certificate is refused, clearly,
    // and the password appears nowhere.
    let wrong = url(
        cluster.port,
        &format!("sslmode=verify-full&sslrootcert={}", path(&wrong_ca_file)),
    );
    let output = bot(&wrong).arg("migrate").output().unwrap();
    let text = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("certificate"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    let output = bot(&wrong)
        .args(["check-config", "--connect"])
        .output()
        .unwrap();
    let text = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL database:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("sslrootcert") && line.contains("***"),
        "{line}"
    );
    assert!(!text.contains(PASSWORD), "{text}");

    // Without TLS the TLS-only server refuses, and says why.
    let output = bot(&url(cluster.port, "sslmode=disable"))
        .arg("migrate")
        .output()
        .unwrap();
    let text = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("pg_hba.conf") && text.contains("no encryption"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
}
