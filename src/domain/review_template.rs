//! The post-incident review's Markdown template: the built-in one, a
//! replacement from config, and rendering a review with it. Pure: the
//! template is text, the review a value.

use crate::domain::postmortem::Review;

/// The built-in review template; `[postmortem] template_file` replaces it.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/postmortem.md");

/// The template environment with `template` loaded as `postmortem.md`;
/// config loading uses it to check a replacement template at start.
pub fn template_env(template: &str) -> Result<minijinja::Environment<'_>, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    // Block tags on their own lines leave no blank lines behind, so the
    // template can be laid out readably and still give tidy Markdown.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    env.add_template("postmortem.md", template)?;
    Ok(env)
}

/// Renders `review` with `template` (Markdown).
pub fn render_markdown(template: &str, review: &Review) -> Result<String, minijinja::Error> {
    template_env(template)?
        .get_template("postmortem.md")?
        .render(minijinja::value::Serde(review))
}
