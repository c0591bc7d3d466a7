use itsm_bot::chat::shell::{run, ShellSession};
use itsm_bot::lifecycle::Shutdown;
use sqlx::PgPool;

use crate::helpers::Desk;

#[sqlx::test]
async fn the_shell_answers_each_line(pool: PgPool) {
    let desk = Desk::new(pool).await;
    let session = ShellSession::new("alice", "ops", false).unwrap();
    let input: &[u8] =
        b"/incident VPN down P2\n\n/incident INC-1 ack\n/incident INC-9 ack\nhello\n";
    let mut output = Vec::new();
    let (_trigger, stop) = Shutdown::new();
    run(&desk.engine, &session, input, &mut output, stop)
        .await
        .unwrap();
    let output = String::from_utf8(output).unwrap();
    assert!(output.contains("INC-1 reported: VPN down"), "{output}");
    assert!(
        output.contains("INC-1 acknowledged by shell:alice"),
        "{output}"
    );
    assert!(output.contains("refused: There is no INC-9."), "{output}");
    assert!(
        output.contains("refused: That is not a command."),
        "{output}"
    );
}
