//! Tags: interests and lifecycle labels attached to members.

use crate::error::{Error, Result};

/// A tag: 1 to 40 letters (any script), digits, or `-_:./`; e.g.
/// `coffee-lover`, `lifecycle:new`, `咖啡爱好者`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 40;

    pub fn parse(raw: &str) -> Result<Self> {
        let value = raw.trim();
        let ok = !value.is_empty()
            && value.chars().count() <= Self::MAX_LEN
            && value
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:./".contains(c));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::invalid(
                "tags",
                format!(
                    "tag {value:?} must be 1-{} letters, digits or -_:./",
                    Self::MAX_LEN
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most this many tags in one call.
pub const MAX_TAGS_PER_CALL: usize = 20;

/// Parses a list of tags, dropping repeats.
pub fn parse_tags(raw: &[String]) -> Result<Vec<Tag>> {
    if raw.is_empty() {
        return Err(Error::invalid("tags", "give at least one tag"));
    }
    if raw.len() > MAX_TAGS_PER_CALL {
        return Err(Error::invalid(
            "tags",
            format!("at most {MAX_TAGS_PER_CALL} tags at a time"),
        ));
    }
    let mut tags = raw
        .iter()
        .map(|t| Tag::parse(t))
        .collect::<Result<Vec<_>>>()?;
    tags.sort();
    tags.dedup();
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_accept_words_in_any_script() {
        assert!(Tag::parse("coffee-lover").is_ok());
        assert!(Tag::parse("lifecycle:new").is_ok());
        assert!(Tag::parse("咖啡爱好者").is_ok());
        assert!(Tag::parse("two words").is_err());
        assert!(Tag::parse("").is_err());
        assert!(Tag::parse(&"t".repeat(41)).is_err());
    }

    #[test]
    fn lists_are_deduplicated_and_bounded() {
        let tags = parse_tags(&["b".into(), "a".into(), "b".into()]).unwrap();
        assert_eq!(tags.iter().map(Tag::as_str).collect::<Vec<_>>(), ["a", "b"]);
        assert!(parse_tags(&[]).is_err());
        assert!(parse_tags(&vec!["x".to_string(); 21]).is_err());
    }
}
