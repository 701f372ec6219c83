//! "Did you mean …?" for a misspelt field, argument, type or enum value,
//! as graphql-js suggests: the names within a small edit distance of what
//! was written (a third of its length or so; a difference of case alone is
//! the closest), nearest first, at most five.

use crate::supergraph::ApiSchema;

/// ` Did you mean "a", "b" or "c"?`, or empty when nothing is close.
pub fn did_you_mean<'o>(input: &str, options: impl IntoIterator<Item = &'o str>) -> String {
    let names = suggestions(input, options);
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(" Did you mean \"{one}\"?"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|n| format!("\"{n}\"")).collect();
            format!(" Did you mean {} or \"{last}\"?", init.join(", "))
        }
    }
}

/// The options close to `input`, nearest first.
pub fn suggestions<'o>(input: &str, options: impl IntoIterator<Item = &'o str>) -> Vec<&'o str> {
    let threshold = input.chars().count() * 2 / 5 + 1;
    let lower = input.to_lowercase();
    let mut close: Vec<(usize, &str)> = options
        .into_iter()
        .filter(|o| *o != input)
        .filter_map(|o| {
            let d = if o.to_lowercase() == lower {
                1
            } else {
                distance(&lower, &o.to_lowercase())
            };
            (d <= threshold).then_some((d, o))
        })
        .collect();
    close.sort();
    close.dedup();
    close.into_iter().take(5).map(|(_, o)| o).collect()
}

/// Optimal string alignment distance (edits, adjacent swaps counted as one).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The quoted names in a validation message, in order.
fn quoted(message: &str) -> Vec<&str> {
    message.split('"').skip(1).step_by(2).collect()
}

/// A validation message with a suggestion added where graphql-js would
/// give one (`rule` is graphql-tools' rule name).
pub fn improve(api: &ApiSchema, rule: &str, message: &str) -> String {
    let q = quoted(message);
    let hint = match (rule, q.as_slice()) {
        ("FieldsOnCorrectType", [field, parent, ..]) => {
            did_you_mean(field, api.field_names(parent))
        }
        ("KnownArgumentNames", [arg, coordinate, ..]) => match coordinate.split_once('.') {
            Some((parent, field)) => did_you_mean(
                arg,
                api.field_def(parent, field)
                    .into_iter()
                    .flat_map(|d| d.args.iter().map(|a| a.name.as_str())),
            ),
            None => String::new(),
        },
        ("KnownTypeNames", [name, ..]) => did_you_mean(name, api.type_names()),
        _ => String::new(),
    };
    format!("{message}{hint}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::supergraph::Supergraph;

    #[test]
    fn close_names_are_suggested_nearest_first() {
        assert_eq!(
            did_you_mean("nme", ["name", "id", "phone"]),
            " Did you mean \"name\"?"
        );
        assert_eq!(
            did_you_mean("nam", ["name", "names", "id"]),
            " Did you mean \"name\" or \"names\"?"
        );
        assert_eq!(did_you_mean("NAME", ["name"]), " Did you mean \"name\"?");
        assert_eq!(did_you_mean("zzzz", ["name", "id"]), "");
    }

    #[test]
    fn validation_messages_gain_the_suggestion() {
        let sg = Supergraph::load(
            include_str!("../../schema/supergraph.graphql"),
            &BTreeMap::new(),
        )
        .unwrap();
        let api = &sg.api;
        assert_eq!(
            improve(
                api,
                "FieldsOnCorrectType",
                "Cannot query field \"nme\" on type \"Member\"."
            ),
            "Cannot query field \"nme\" on type \"Member\". Did you mean \"name\"?"
        );
        assert!(
            improve(
                api,
                "KnownArgumentNames",
                "Unknown argument \"frist\" on field \"Query.members\"."
            )
            .ends_with("Did you mean \"first\"?")
        );
        assert!(improve(api, "KnownTypeNames", "Unknown type \"Membr\".").contains("\"Member\""));
    }
}
