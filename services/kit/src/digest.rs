//! Hex and SHA-256 fingerprints, one way for every service: request
//! hashes and key fingerprints (`idempotency`), API key hashes, secrets.

use sha2::{Digest, Sha256};

/// `bytes` as lowercase hex (two characters a byte).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// SHA-256 (hex, 64 characters) of `parts`, each followed by the unit
/// separator 0x1F, so that `["ab", "c"]` and `["a", "bc"]` differ. Stored
/// hashes (partner API keys, requests) are this function's: its output
/// must not change.
pub fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0x1f]);
    }
    hex(&hasher.finalize())
}

/// HMAC-SHA256 of `message` under `key`, as lowercase hex (64
/// characters): webhook signatures (`t.body`, as Stripe's scheme signs).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

/// Whether two strings are equal, in time that depends only on their
/// lengths (signature checks).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The plain SHA-256 (hex, 64 characters) of `bytes`, as other systems
/// compute it (an APQ hash, a trusted document's id).
pub fn sha256_plain(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231, test case 2: key "Jefe".
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn parts_are_kept_apart_and_the_output_is_stable() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
        assert_ne!(sha256_hex(&["ab", "c"]), sha256_hex(&["a", "bc"]));
        // SHA-256 of "abc\x1f": stored hashes depend on it staying so.
        assert_eq!(sha256_hex(&["abc"]), hex(&Sha256::digest(b"abc\x1f")));
        assert_eq!(sha256_hex(&["abc"]).len(), 64);
        // FIPS 180-2's test vector.
        assert_eq!(
            sha256_plain(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
