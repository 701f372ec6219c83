//! Guides and their QR codes.

use base64::Engine as _;
use rand::RngCore;

/// A fresh QR code: 15 random bytes, URL-safe (20 characters). Not derived
/// from the guide's id, so it cannot be guessed, and rotating it makes the
/// old one worthless.
pub fn new_code() -> String {
    let mut bytes = [0u8; 15];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum GuideStatus {
        Active,
        Departed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_status_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (GuideStatus::Active, "ACTIVE"),
            (GuideStatus::Departed, "DEPARTED"),
        ]);
    }

    #[test]
    fn codes_are_unguessable_tokens() {
        let a = new_code();
        let b = new_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 20);
        assert!(
            kit::input::is_token(&a, 4..=64),
            "a member's registration accepts it"
        );
    }
}
