//! The shell adapter: each line typed is a chat message from one user in
//! one channel; replies are printed as plain text.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::commands::reply::Outcome;
use crate::commands::Engine;
use crate::commands::Inbound;
use crate::domain::moment::Reader;
use crate::domain::{Platform, UserId};
use crate::lifecycle::Shutdown;

/// Who is typing, and where.
#[derive(Debug, Clone)]
pub struct ShellSession {
    pub user: UserId,
    pub channel: String,
    /// Whether to print a prompt (only when a person is at a terminal).
    pub prompt: bool,
}

impl ShellSession {
    /// A session for the shell user `name` in `channel`.
    pub fn new(
        name: &str,
        channel: &str,
        prompt: bool,
    ) -> Result<Self, crate::domain::user::UserIdError> {
        Ok(ShellSession {
            user: UserId::new(Platform::Shell, name)?,
            channel: channel.to_string(),
            prompt,
        })
    }
}

/// The text printed for a reply: refusals and outages are marked so they
/// stand out in a terminal and in scripts.
pub fn render(outcome: Outcome, text: &str) -> String {
    match outcome {
        Outcome::Done => text.to_string(),
        Outcome::Refused => format!("refused: {text}"),
        Outcome::Unavailable => format!("error: {text}"),
    }
}

/// Prints scheduler posts for shell channels (SLA warnings, digests) as
/// they happen, so a terminal session sees them inline.
pub fn print_posts(
    mut posts: tokio::sync::mpsc::UnboundedReceiver<crate::commands::notice::Posted>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(posted) = posts.recv().await {
            let line = format!("\n[#{}] {}\n", posted.channel, posted.text);
            if out.write_all(line.as_bytes()).await.is_err() || out.flush().await.is_err() {
                return;
            }
        }
    })
}

/// Reads lines from `input` until it ends or `shutdown` fires, answering
/// each on `output`.
pub async fn run<R, W>(
    engine: &Engine,
    session: &ShellSession,
    input: R,
    mut output: W,
    mut shutdown: Shutdown,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut lines = input.lines();
    let prompt = format!("{}@#{}> ", session.user.id(), session.channel);
    if session.prompt {
        output
            .write_all(b"itsm-bot shell: type /itsm help, Ctrl-D to leave.\n")
            .await?;
    }
    loop {
        if session.prompt {
            output.write_all(prompt.as_bytes()).await?;
            output.flush().await?;
        }
        let line = tokio::select! {
            line = lines.next_line() => line?,
            () = shutdown.wait() => None,
        };
        let Some(line) = line else {
            break;
        };
        if line.trim().is_empty() {
            continue;
        }
        let inbound = Inbound::new(session.user.clone(), session.channel.clone(), line);
        let reply = engine.handle(&inbound).await;
        // Times in the person's own zone (`/itsm timezone`), else the team's.
        let reader = Reader::Person(engine.reader_zone(&session.user).await);
        let text = render(reply.outcome, &reply.message.plain_text_for(reader));
        output.write_all(text.as_bytes()).await?;
        output.write_all(b"\n").await?;
        output.flush().await?;
    }
    if session.prompt {
        output.write_all(b"\n").await?;
        output.flush().await?;
    }
    Ok(())
}
