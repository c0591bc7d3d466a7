//! Triage suggestions: the service and priority a new report most likely
//! has, from the team's own resolved incidents that read most like it
//! (nearest neighbours by PostgreSQL's full-text rank), explainable in one
//! sentence. No model file, no network: the history is the model.

use super::Priority;

/// A past incident near a new report: what it turned out to be, and how
/// alike the two read (the full-text rank; larger is nearer).
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    pub service: Option<String>,
    pub priority: Priority,
    pub similarity: f64,
}

/// One suggested value with its support among the neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick<T> {
    pub value: T,
    /// Neighbours that had this value.
    pub votes: usize,
    /// Their share of the neighbours' similarity, 0–1.
    pub confidence: f64,
}

/// What triage suggests for a report.
#[derive(Debug, Clone, PartialEq)]
pub struct TriageSuggestion {
    pub service: Option<Pick<String>>,
    pub priority: Option<Pick<Priority>>,
    /// How many neighbours were looked at.
    pub considered: usize,
}

impl TriageSuggestion {
    /// One sentence: "service vpn — 14 of the 20 most similar past
    /// incidents; priority P2 — 11 of the 20".
    pub fn reason(&self) -> String {
        let n = self.considered;
        let mut parts = Vec::new();
        if let Some(service) = &self.service {
            parts.push(format!(
                "service {} — {} of the {n} most similar past incidents",
                service.value, service.votes
            ));
        }
        if let Some(priority) = &self.priority {
            parts.push(format!(
                "priority {} — {} of the {n}",
                priority.value, priority.votes
            ));
        }
        parts.join("; ")
    }
}

/// The similarity-weighted vote of `neighbours` for a service and a
/// priority, each kept only when its confidence reaches `min_confidence`;
/// `None` when neither does (or there are no neighbours). Neighbours
/// without a service vote for no service.
pub fn suggest(neighbours: &[Neighbour], min_confidence: f64) -> Option<TriageSuggestion> {
    let total: f64 = neighbours.iter().map(|n| n.similarity.max(0.0)).sum();
    if neighbours.is_empty() || total <= 0.0 {
        return None;
    }
    let service = vote(
        neighbours
            .iter()
            .filter_map(|n| n.service.clone().map(|s| (s, n.similarity))),
        total,
    );
    let priority = vote(neighbours.iter().map(|n| (n.priority, n.similarity)), total);
    let service = service.filter(|p| p.confidence >= min_confidence);
    let priority = priority.filter(|p| p.confidence >= min_confidence);
    if service.is_none() && priority.is_none() {
        return None;
    }
    Some(TriageSuggestion {
        service,
        priority,
        considered: neighbours.len(),
    })
}

/// The value with the largest summed similarity (ties: more votes, then
/// the first seen).
fn vote<T: PartialEq + Clone>(
    ballots: impl Iterator<Item = (T, f64)>,
    total: f64,
) -> Option<Pick<T>> {
    let mut tally: Vec<(T, usize, f64)> = Vec::new();
    for (value, weight) in ballots {
        let weight = weight.max(0.0);
        match tally.iter_mut().find(|(v, ..)| *v == value) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += weight;
            }
            None => tally.push((value, 1, weight)),
        }
    }
    let mut best: Option<(T, usize, f64)> = None;
    for entry in tally {
        let better = match &best {
            None => true,
            Some((_, votes, weight)) => {
                entry.2 > *weight || (entry.2 == *weight && entry.1 > *votes)
            }
        };
        if better {
            best = Some(entry);
        }
    }
    best.map(|(value, votes, weight)| Pick {
        value,
        votes,
        confidence: weight / total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(service: Option<&str>, priority: Priority, similarity: f64) -> Neighbour {
        Neighbour {
            service: service.map(str::to_string),
            priority,
            similarity,
        }
    }

    #[test]
    fn the_weighted_majority_wins_with_its_reason() {
        let neighbours = [
            n(Some("vpn"), Priority::P2, 0.9),
            n(Some("vpn"), Priority::P2, 0.8),
            n(Some("email"), Priority::P3, 0.5),
            n(None, Priority::P2, 0.1),
        ];
        let s = suggest(&neighbours, 0.5).unwrap();
        assert_eq!(s.service.as_ref().unwrap().value, "vpn");
        assert_eq!(s.priority.as_ref().unwrap().value, Priority::P2);
        assert_eq!(
            s.reason(),
            "service vpn — 2 of the 4 most similar past incidents; priority P2 — 3 of the 4"
        );
    }

    #[test]
    fn weak_evidence_suggests_nothing() {
        assert!(suggest(&[], 0.0).is_none());
        let split = [
            n(Some("vpn"), Priority::P1, 1.0),
            n(Some("email"), Priority::P2, 1.0),
            n(Some("wifi"), Priority::P3, 1.0),
        ];
        assert!(suggest(&split, 0.5).is_none());
        let s = suggest(&split, 0.3).unwrap();
        assert_eq!(s.service.unwrap().votes, 1);
    }
}
