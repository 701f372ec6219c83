//! Catalogue facts every service reads the same way. A category is a path
//! (`coffee/beans`): a rule naming `coffee` counts everything under it.

/// Whether `category` is `target` or under it: `coffee/beans` is under
/// `coffee`; `coffee-gear` is not.
pub fn in_category(category: &str, target: &str) -> bool {
    category
        .strip_prefix(target)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_holds_what_is_under_it_and_nothing_beside_it() {
        assert!(in_category("coffee", "coffee"));
        assert!(in_category("coffee/beans", "coffee"));
        assert!(in_category("coffee/beans/yunnan", "coffee/beans"));
        assert!(!in_category("coffee-gear", "coffee"));
        assert!(!in_category("coffee", "coffee/beans"));
        assert!(!in_category("tea/coffee", "coffee"));
    }
}
