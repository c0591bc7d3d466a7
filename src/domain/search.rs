//! Search queries: what a person typed after `/itsm search` or `/kb search`
//! (or the title of a new report), parsed and checked, with the team's
//! synonyms expanded, ready for PostgreSQL's full-text search.
//!
//! The query becomes `to_tsquery` text built here from words reduced to
//! letters and digits, so nothing a person types is read as a tsquery
//! operator. `websearch_to_tsquery` cannot group alternatives
//! ("(vpn | remote <-> access) & home"), which synonyms need.

use std::collections::BTreeMap;

use super::reference::TicketKind;

/// Longest query, in characters: a search is a few words, not a paragraph.
pub const MAX_QUERY_CHARS: usize = 200;

/// Most hits one search lists.
pub const MAX_HITS: i64 = 10;

/// Shortest word matched on its own by trigrams for typos: shorter words
/// have too few trigrams to tell a typo from another word.
const FUZZY_MIN_CHARS: usize = 4;

/// Most suggestions (articles and known errors) offered on a new report.
pub const MAX_SUGGESTIONS: i64 = 3;

/// Statuses in which a ticket needs nobody any more, over every kind:
/// `status:open` leaves these out, and a retired article is never found.
pub const FINISHED_STATUSES: [&str; 9] = [
    "resolved",
    "closed",
    "completed",
    "failed",
    "rolled_back",
    "rejected",
    "cancelled",
    "fulfilled",
    "retired",
];

/// What a search may be narrowed to with `kind:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchKind {
    Incident,
    Problem,
    Change,
    /// Service requests (`REQ-n`); found once the request catalog exists.
    Request,
    Kb,
}

impl SearchKind {
    /// Every kind, as typed after `kind:`.
    pub const ALL: [SearchKind; 5] = [
        SearchKind::Incident,
        SearchKind::Problem,
        SearchKind::Change,
        SearchKind::Request,
        SearchKind::Kb,
    ];

    /// The name in the `tickets.kind` column, and after `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchKind::Incident => "incident",
            SearchKind::Problem => "problem",
            SearchKind::Change => "change",
            SearchKind::Request => "request",
            SearchKind::Kb => "kb",
        }
    }

    /// The kind of `TicketKind`.
    pub fn of(kind: TicketKind) -> SearchKind {
        match kind {
            TicketKind::Incident => SearchKind::Incident,
            TicketKind::Problem => SearchKind::Problem,
            TicketKind::Change => SearchKind::Change,
            TicketKind::Kb => SearchKind::Kb,
            TicketKind::Request => SearchKind::Request,
        }
    }

    fn parse(text: &str) -> Option<SearchKind> {
        let text = text.to_ascii_lowercase();
        let text = match text.as_str() {
            "incidents" | "inc" => "incident",
            "problems" | "prb" => "problem",
            "changes" | "chg" => "change",
            "requests" | "req" => "request",
            "article" | "articles" | "knowledge" => "kb",
            other => other,
        }
        .to_string();
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Why a query was refused. The text says what would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("there is nothing to search for; give some words, e.g. `vpn drops` or `\"remote access\" -printer`")]
    Empty,
    #[error("`{0}` has no words to search for, only signs; give some words, e.g. `vpn drops` or `\"remote access\" -printer`")]
    NoWords(String),
    #[error("the search is {given} characters long; the limit is {MAX_QUERY_CHARS}: give a few telling words")]
    TooLong { given: usize },
    #[error("`{0}` is not a kind to search; use kind:incident, kind:problem, kind:change, kind:request or kind:kb")]
    UnknownKind(String),
    #[error("`{0}` is not a status filter; `status:open` leaves out finished tickets")]
    UnknownStatus(String),
    #[error("the {0} filter is given twice; give it once")]
    Twice(&'static str),
}

/// The team's synonyms (`[search.synonyms]`): each entry makes a word and
/// its equivalents one group, so any of them finds the others — both ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synonyms {
    /// Groups of equivalent phrases, each phrase as its words.
    groups: Vec<Vec<Vec<String>>>,
}

impl Synonyms {
    /// Builds the groups from config: `vpn = ["remote access", "tunnel"]`.
    /// Phrases are reduced to their words as queries are, so "Remote-Access"
    /// in config matches "remote access" typed.
    pub fn new(config: &BTreeMap<String, Vec<String>>) -> Self {
        let groups = config
            .iter()
            .map(|(word, equivalents)| {
                std::iter::once(word)
                    .chain(equivalents)
                    .map(|phrase| words_of(phrase))
                    .filter(|words| !words.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|group| group.len() > 1)
            .collect();
        Synonyms { groups }
    }

    /// The longest phrase of any group that starts `words`, with its group:
    /// the words it covers and every alternative.
    fn longest_at(&self, words: &[String]) -> Option<(usize, Vec<Vec<String>>)> {
        let mut best: Option<(usize, &Vec<Vec<String>>)> = None;
        for group in &self.groups {
            for phrase in group {
                let n = phrase.len();
                if words.len() >= n
                    && words[..n] == phrase[..]
                    && best.is_none_or(|(len, _)| n > len)
                {
                    best = Some((n, group));
                }
            }
        }
        best.map(|(n, group)| (n, group.clone()))
    }
}

/// One thing looked for: any of its alternatives, each a phrase of words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub alternatives: Vec<Vec<String>>,
}

impl Term {
    /// This term as `to_tsquery` text: `(remote <-> access | vpn | tunnel)`.
    pub fn tsquery(&self) -> String {
        let alternatives: Vec<String> = self
            .alternatives
            .iter()
            .map(|phrase| phrase.join(" <-> "))
            .collect();
        format!("({})", alternatives.join(" | "))
    }
}

/// A checked search: the terms to look for, the ones to leave out, and the
/// filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// What was typed, without the filters: the trigram match for typos
    /// compares titles with it.
    pub text: String,
    pub terms: Vec<Term>,
    pub excluded: Vec<Term>,
    pub kind: Option<SearchKind>,
    pub open_only: bool,
}

impl SearchQuery {
    /// Parses what a person typed: words, `"a phrase"`, `-left out`,
    /// `kind:…`, `status:open`.
    pub fn parse(input: &str, synonyms: &Synonyms) -> Result<SearchQuery, QueryError> {
        let given = input.chars().count();
        if given > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong { given });
        }
        if input.trim().is_empty() {
            return Err(QueryError::Empty);
        }
        let mut kind = None;
        let mut open_only = false;
        let mut text = Vec::new();
        let mut terms = Vec::new();
        let mut excluded = Vec::new();
        // Plain words since the last phrase or filter.
        let mut pending: Vec<String> = Vec::new();
        for chunk in chunks(input) {
            let plain =
                matches!(&chunk, Chunk::Word(word) if !word.starts_with('-') && !is_filter(word));
            if !plain {
                terms.extend(expand(&pending, synonyms));
                pending.clear();
            }
            match chunk {
                Chunk::Phrase(phrase, negated) => {
                    let words = words_of(&phrase);
                    if words.is_empty() {
                        continue;
                    }
                    text.push(phrase.clone());
                    // A quoted phrase that is a synonym stands for its group.
                    let alternatives = match synonyms.longest_at(&words) {
                        Some((covered, group)) if covered == words.len() => group,
                        _ => vec![words],
                    };
                    let term = Term { alternatives };
                    if negated {
                        excluded.push(term);
                    } else {
                        terms.push(term);
                    }
                }
                Chunk::Word(word) => {
                    let filter = word.split_once(':').filter(|_| is_filter(&word));
                    match filter {
                        Some((key, value)) if key.eq_ignore_ascii_case("kind") => {
                            let parsed = SearchKind::parse(value)
                                .ok_or_else(|| QueryError::UnknownKind(value.to_string()))?;
                            if kind.replace(parsed).is_some() {
                                return Err(QueryError::Twice("kind:"));
                            }
                        }
                        Some((_, value)) => {
                            if !value.eq_ignore_ascii_case("open") {
                                return Err(QueryError::UnknownStatus(value.to_string()));
                            }
                            if open_only {
                                return Err(QueryError::Twice("status:"));
                            }
                            open_only = true;
                        }
                        None => {
                            let (negated, word) = match word.strip_prefix('-') {
                                Some(rest) => (true, rest),
                                None => (false, word.as_str()),
                            };
                            let words = words_of(word);
                            if words.is_empty() {
                                continue;
                            }
                            if negated {
                                excluded.push(Term {
                                    alternatives: vec![words],
                                });
                            } else {
                                text.push(word.to_string());
                                // Expanded together with its neighbours, so
                                // a synonym of several words is found.
                                pending.extend(words);
                                continue;
                            }
                        }
                    }
                }
            }
        }
        terms.extend(expand(&pending, synonyms));
        if terms.is_empty() {
            // Filters alone, or signs alone: nothing would rank the hits.
            return Err(QueryError::NoWords(input.trim().to_string()));
        }
        Ok(SearchQuery {
            text: text.join(" "),
            terms,
            excluded,
            kind,
            open_only,
        })
    }

    /// The words of a new report's title as a query (no filters, no signs),
    /// or `None` when it has no words to match on.
    pub fn from_title(title: &str, synonyms: &Synonyms) -> Option<SearchQuery> {
        let words = words_of(title);
        let terms = expand(&words, synonyms);
        if terms.is_empty() {
            return None;
        }
        Some(SearchQuery {
            text: words.join(" "),
            terms,
            excluded: Vec::new(),
            kind: None,
            open_only: false,
        })
    }

    /// The whole query as `to_tsquery` text: any term (ranking favours
    /// documents with more of them), none of the excluded ones.
    pub fn tsquery(&self) -> String {
        let any: Vec<String> = self.terms.iter().map(Term::tsquery).collect();
        let mut query = format!("({})", any.join(" | "));
        for term in &self.excluded {
            query.push_str(&format!(" & !{}", term.tsquery()));
        }
        query
    }

    /// Each term as `to_tsquery` text, for counting how many of them a
    /// document matches.
    pub fn term_queries(&self) -> Vec<String> {
        self.terms.iter().map(Term::tsquery).collect()
    }

    /// Each term's words (every alternative's) as plain text, in the order
    /// of [`SearchQuery::term_queries`]: how common a term is, is read
    /// from its words.
    pub fn term_words(&self) -> Vec<String> {
        self.terms
            .iter()
            .map(|term| {
                term.alternatives
                    .iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The typed words long enough for trigrams to recognise a
    /// misspelling of them (four letters or more), each once: searches
    /// match each against titles on its own, so one misspelt word among
    /// several still finds ("priner jams" → "Printer jams").
    pub fn fuzzy_words(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        for word in words_of(&self.text) {
            if word.chars().count() >= FUZZY_MIN_CHARS && !words.contains(&word) {
                words.push(word);
            }
        }
        words
    }

    /// How many terms a suggestion must share with a report: two, so one
    /// common word ("vpn", "printer") alone does not match half the
    /// database, or all of them when there are fewer.
    pub fn min_shared(&self) -> i64 {
        self.terms.len().min(2) as i64
    }
}

/// Whether `word` is a `kind:…` or `status:…` filter.
fn is_filter(word: &str) -> bool {
    word.split_once(':').is_some_and(|(key, value)| {
        !value.is_empty()
            && (key.eq_ignore_ascii_case("kind") || key.eq_ignore_ascii_case("status"))
    })
}

/// Replaces runs of words that name a synonym group with that group.
fn expand(words: &[String], synonyms: &Synonyms) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut at = 0;
    while at < words.len() {
        match synonyms.longest_at(&words[at..]) {
            Some((covered, alternatives)) => {
                terms.push(Term { alternatives });
                at += covered;
            }
            None => {
                terms.push(Term {
                    alternatives: vec![vec![words[at].clone()]],
                });
                at += 1;
            }
        }
    }
    terms
}

/// The words of `text`: runs of letters and digits, lower-cased. Everything
/// else separates words, so no sign reaches `to_tsquery`.
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

enum Chunk {
    Word(String),
    /// A quoted phrase, and whether it was left out (`-"…"`).
    Phrase(String, bool),
}

/// Splits the input into words and quoted phrases; an unclosed quote runs
/// to the end.
fn chunks(input: &str) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut rest = input.trim();
    while !rest.is_empty() {
        let (negated, body) = match rest.strip_prefix("-\"") {
            Some(body) => (true, body),
            None => (false, rest.strip_prefix('"').unwrap_or("")),
        };
        if negated || rest.starts_with('"') {
            let (phrase, after) = body.split_once('"').unwrap_or((body, ""));
            out.push(Chunk::Phrase(phrase.to_string(), negated));
            rest = after.trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push(Chunk::Word(rest[..end].to_string()));
        rest = rest[end..].trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synonyms() -> Synonyms {
        let mut config = BTreeMap::new();
        config.insert(
            "vpn".to_string(),
            vec!["remote access".to_string(), "tunnel".to_string()],
        );
        Synonyms::new(&config)
    }

    #[test]
    fn refuses_empty_and_sign_only_queries() {
        let s = synonyms();
        assert_eq!(SearchQuery::parse("", &s), Err(QueryError::Empty));
        assert_eq!(SearchQuery::parse("   ", &s), Err(QueryError::Empty));
        for bad in [
            "\"",
            "-",
            ":",
            "\"\"",
            "- -",
            "kind:kb",
            "status:open",
            "-vpn",
            "!&|",
        ] {
            let err = SearchQuery::parse(bad, &s).unwrap_err();
            assert!(matches!(err, QueryError::NoWords(_)), "{bad}: {err}");
            assert!(err.to_string().contains("e.g."), "{err}");
        }
    }

    #[test]
    fn refuses_long_queries_naming_the_limit() {
        let long = "vpn ".repeat(60);
        let err = SearchQuery::parse(&long, &synonyms()).unwrap_err();
        assert_eq!(err, QueryError::TooLong { given: 240 });
        assert!(err.to_string().contains("200"));
    }

    #[test]
    fn reads_filters() {
        let q = SearchQuery::parse("vpn kind:Incident status:open", &synonyms()).unwrap();
        assert_eq!(q.kind, Some(SearchKind::Incident));
        assert!(q.open_only);
        assert_eq!(q.text, "vpn");
        assert!(matches!(
            SearchQuery::parse("vpn kind:printer", &synonyms()),
            Err(QueryError::UnknownKind(_))
        ));
        assert!(matches!(
            SearchQuery::parse("vpn status:closed", &synonyms()),
            Err(QueryError::UnknownStatus(_))
        ));
        assert_eq!(
            SearchQuery::parse("vpn kind:kb kind:change", &synonyms()),
            Err(QueryError::Twice("kind:"))
        );
        // A colon inside a word that is not a filter is just a separator.
        let q = SearchQuery::parse("error:42", &synonyms()).unwrap();
        assert_eq!(q.tsquery(), "((error) | (42))");
    }

    #[test]
    fn expands_synonyms_both_ways() {
        let s = synonyms();
        let from_phrase = SearchQuery::parse("Cannot connect remote access from home", &s).unwrap();
        assert_eq!(
            from_phrase.tsquery(),
            "((cannot) | (connect) | (vpn | remote <-> access | tunnel) | (from) | (home))"
        );
        let quoted = SearchQuery::parse("\"Remote Access\" -printer", &s).unwrap();
        assert_eq!(
            quoted.tsquery(),
            "((vpn | remote <-> access | tunnel)) & !(printer)"
        );
        let from_word = SearchQuery::parse("VPN", &s).unwrap();
        assert_eq!(from_word.tsquery(), "((vpn | remote <-> access | tunnel))");
        let from_other = SearchQuery::from_title("tunnel down", &s).unwrap();
        assert_eq!(from_other.terms.len(), 2);
        assert_eq!(
            from_other.term_words(),
            ["vpn remote access tunnel", "down"]
        );
        assert_eq!(from_other.min_shared(), 2);
    }

    #[test]
    fn phrases_and_exclusions_carry_no_operators_through() {
        let q = SearchQuery::parse("\"drops often\" -printer -\"new york\" a&b|!c", &synonyms())
            .unwrap();
        assert_eq!(
            q.tsquery(),
            "((drops <-> often) | (a) | (b) | (c)) & !(printer) & !(new <-> york)"
        );
        // An unclosed quote runs to the end.
        let q = SearchQuery::parse("\"vpn drops", &synonyms()).unwrap();
        assert_eq!(q.tsquery(), "((vpn <-> drops))");
    }

    #[test]
    fn long_enough_words_are_matched_on_their_own_for_typos() {
        let q = SearchQuery::parse("Priner jams on floor -toner kind:kb", &synonyms()).unwrap();
        assert_eq!(q.fuzzy_words(), ["priner", "jams", "floor"]);
    }

    #[test]
    fn a_title_without_words_gives_no_query() {
        assert!(SearchQuery::from_title("!!!", &synonyms()).is_none());
    }
}
