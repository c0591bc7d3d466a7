//! Triage suggestions: the service and priority a new report most likely
//! has, from the team's own resolved incidents, explainable in one
//! sentence. No model file, no network: the model is a naive Bayes over
//! the words of past incidents, kept as counts in the database (how many
//! incidents of each service and priority used each word) that the
//! scheduler brings up to date as history grows. Reading a suggestion costs
//! the counts of the report's own words, whatever the size of the history.

use super::Priority;

/// How many trained incidents of one service (`None`: none given) and
/// priority there are: a prior.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCount {
    pub service: Option<String>,
    pub priority: Priority,
    pub incidents: i64,
}

/// How many trained incidents of one service and priority used `word`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordCount {
    pub word: String,
    pub service: Option<String>,
    pub priority: Priority,
    pub incidents: i64,
}

/// The word that speaks most for a pick, for its reason: `with_value` of
/// the `with_word` past incidents that used it had the picked value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telling {
    pub word: String,
    pub with_value: i64,
    pub with_word: i64,
}

/// One suggested value with how sure the model is of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick<T> {
    pub value: T,
    /// The model's probability for it, 0–1.
    pub confidence: f64,
    pub telling: Telling,
}

/// What triage suggests for a report.
#[derive(Debug, Clone, PartialEq)]
pub struct TriageSuggestion {
    pub service: Option<Pick<String>>,
    pub priority: Option<Pick<Priority>>,
}

impl TriageSuggestion {
    /// One sentence: "service vpn — 14 of the 15 past incidents that said
    /// “vpn” were on vpn (97 % sure); priority P2 — 11 of the 20 that said
    /// “down” (64 % sure)".
    pub fn reason(&self) -> String {
        let mut parts = Vec::new();
        if let Some(service) = &self.service {
            let t = &service.telling;
            parts.push(format!(
                "service {} — {} of the {} past incidents that said “{}” were on {} ({} sure)",
                service.value,
                t.with_value,
                t.with_word,
                t.word,
                service.value,
                percent(service.confidence)
            ));
        }
        if let Some(priority) = &self.priority {
            let t = &priority.telling;
            parts.push(format!(
                "priority {} — {} of the {} that said “{}” ({} sure)",
                priority.value,
                t.with_value,
                t.with_word,
                t.word,
                percent(priority.confidence)
            ));
        }
        parts.join("; ")
    }
}

fn percent(share: f64) -> String {
    format!("{:.0} %", (share * 100.0).floor().clamp(0.0, 100.0))
}

/// Laplace smoothing: a word never seen with a value still leaves it a
/// chance.
const SMOOTHING: f64 = 1.0;

/// Every value of one question (service, or priority) ranked by the model's
/// probability for a report using `words` (in the report's order), best
/// first, with the word that speaks most for each. Empty when none of the
/// words is known or there is no history.
pub fn rank<T: Clone + PartialEq>(
    classes: &[(T, i64)],
    words: &[(String, T, i64)],
    order: &[String],
) -> Vec<Pick<T>> {
    let total: i64 = classes.iter().map(|(_, n)| *n).sum();
    if total <= 0 || words.is_empty() {
        return Vec::new();
    }
    let known: Vec<&String> = order
        .iter()
        .filter(|w| words.iter().any(|(word, ..)| word == *w))
        .collect();
    let with_word = |w: &str| -> i64 {
        words
            .iter()
            .filter(|(word, ..)| word == w)
            .map(|(.., n)| *n)
            .sum()
    };
    let mut scored: Vec<(T, f64, Telling)> = Vec::new();
    for (value, n) in classes.iter().filter(|(_, n)| *n > 0) {
        let n = *n as f64;
        let mut score = (n / total as f64).ln();
        let mut telling: Option<(f64, Telling)> = None;
        for w in &known {
            let together: i64 = words
                .iter()
                .filter(|(word, v, _)| word == *w && v == value)
                .map(|(.., n)| *n)
                .sum();
            score += ((together as f64 + SMOOTHING) / (n + 2.0 * SMOOTHING)).ln();
            let all = with_word(w);
            let share = together as f64 / all.max(1) as f64;
            // The earliest word with the largest share (and count) tells.
            let better = telling.as_ref().is_none_or(|(best, t)| {
                share > *best || (share == *best && together > t.with_value)
            });
            if together > 0 && better {
                telling = Some((
                    share,
                    Telling {
                        word: (*w).clone(),
                        with_value: together,
                        with_word: all,
                    },
                ));
            }
        }
        if let Some((_, telling)) = telling {
            scored.push((value.clone(), score, telling));
        }
    }
    // Probabilities among the values the words speak for at all.
    let top = scored
        .iter()
        .map(|(_, s, _)| *s)
        .fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = scored.iter().map(|(_, s, _)| (s - top).exp()).sum();
    let mut picks: Vec<Pick<T>> = scored
        .into_iter()
        .map(|(value, s, telling)| Pick {
            value,
            confidence: (s - top).exp() / sum,
            telling,
        })
        .collect();
    picks.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    picks
}

/// The services the model ranks for a report using `words`, best first.
/// Incidents without a service say nothing about services.
pub fn rank_services(
    classes: &[ClassCount],
    words: &[WordCount],
    order: &[String],
) -> Vec<Pick<String>> {
    let mut by_service: Vec<(String, i64)> = Vec::new();
    for c in classes {
        if let Some(service) = &c.service {
            match by_service.iter_mut().find(|(s, _)| s == service) {
                Some(entry) => entry.1 += c.incidents,
                None => by_service.push((service.clone(), c.incidents)),
            }
        }
    }
    let words: Vec<(String, String, i64)> = words
        .iter()
        .filter_map(|w| Some((w.word.clone(), w.service.clone()?, w.incidents)))
        .collect();
    rank(&by_service, &sum_same(words), order)
}

/// The priorities the model ranks for a report using `words`, best first.
pub fn rank_priorities(
    classes: &[ClassCount],
    words: &[WordCount],
    order: &[String],
) -> Vec<Pick<Priority>> {
    let mut by_priority: Vec<(Priority, i64)> = Vec::new();
    for c in classes {
        match by_priority.iter_mut().find(|(p, _)| *p == c.priority) {
            Some(entry) => entry.1 += c.incidents,
            None => by_priority.push((c.priority, c.incidents)),
        }
    }
    let words: Vec<(String, Priority, i64)> = words
        .iter()
        .map(|w| (w.word.clone(), w.priority, w.incidents))
        .collect();
    rank(&by_priority, &sum_same(words), order)
}

/// Adds up the counts of the same word and value.
fn sum_same<T: PartialEq>(rows: Vec<(String, T, i64)>) -> Vec<(String, T, i64)> {
    let mut out: Vec<(String, T, i64)> = Vec::new();
    for (word, value, n) in rows {
        match out.iter_mut().find(|(w, v, _)| *w == word && *v == value) {
            Some(entry) => entry.2 += n,
            None => out.push((word, value, n)),
        }
    }
    out
}

/// The model's suggestion for a report using `words` (in the report's
/// order): the likeliest service and priority, each kept only when the
/// model is at least `min_confidence` sure of it; `None` when neither is.
pub fn suggest(
    classes: &[ClassCount],
    words: &[WordCount],
    order: &[String],
    min_confidence: f64,
) -> Option<TriageSuggestion> {
    let service = rank_services(classes, words, order)
        .into_iter()
        .next()
        .filter(|p| p.confidence >= min_confidence);
    let priority = rank_priorities(classes, words, order)
        .into_iter()
        .next()
        .filter(|p| p.confidence >= min_confidence);
    if service.is_none() && priority.is_none() {
        return None;
    }
    Some(TriageSuggestion { service, priority })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(service: Option<&str>, priority: Priority, incidents: i64) -> ClassCount {
        ClassCount {
            service: service.map(str::to_string),
            priority,
            incidents,
        }
    }

    fn word(word: &str, service: Option<&str>, priority: Priority, incidents: i64) -> WordCount {
        WordCount {
            word: word.into(),
            service: service.map(str::to_string),
            priority,
            incidents,
        }
    }

    fn order(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_words_decide_with_their_reason() {
        let classes = [
            class(Some("vpn"), Priority::P2, 10),
            class(Some("email"), Priority::P3, 30),
            class(None, Priority::P4, 5),
        ];
        let words = [
            word("vpn", Some("vpn"), Priority::P2, 9),
            word("vpn", Some("email"), Priority::P3, 1),
            word("drop", Some("vpn"), Priority::P2, 4),
            word("drop", Some("email"), Priority::P3, 4),
        ];
        let s = suggest(&classes, &words, &order(&["vpn", "drop", "home"]), 0.5).unwrap();
        let service = s.service.as_ref().unwrap();
        assert_eq!(service.value, "vpn");
        assert!(service.confidence > 0.9, "{}", service.confidence);
        assert_eq!(s.priority.as_ref().unwrap().value, Priority::P2);
        assert_eq!(
            s.reason(),
            "service vpn — 9 of the 10 past incidents that said “vpn” were on vpn (92 % sure); \
             priority P2 — 9 of the 10 that said “vpn” (92 % sure)"
        );
    }

    #[test]
    fn unknown_words_and_weak_evidence_suggest_nothing() {
        let classes = [
            class(Some("vpn"), Priority::P1, 1),
            class(Some("email"), Priority::P2, 1),
        ];
        assert!(suggest(&classes, &[], &order(&["printer"]), 0.0).is_none());
        assert!(suggest(&[], &[], &order(&["vpn"]), 0.0).is_none());
        let split = [
            word("down", Some("vpn"), Priority::P1, 1),
            word("down", Some("email"), Priority::P2, 1),
        ];
        assert!(suggest(&classes, &split, &order(&["down"]), 0.6).is_none());
        let ranked = rank_services(&classes, &split, &order(&["down"]));
        assert_eq!(ranked.len(), 2);
        assert!((ranked[0].confidence - 0.5).abs() < 1e-9);
    }
}
