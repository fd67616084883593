//! Secrets: API tokens, password hashes, constant-time comparison.
//!
//! Why these choices: tokens are 256 random bits from the OS, shown once
//! and stored only as their SHA-256 (a token is already high-entropy, so a
//! fast hash is enough and a stolen database reveals no usable token).
//! Passwords are low-entropy, so they are stored as argon2id hashes with a
//! random salt (the PHC string carries the parameters). Comparisons of
//! secrets go through `subtle` so their time does not depend on how many
//! leading bytes matched.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Every token starts with this, so leaked tokens are easy to grep for.
pub const TOKEN_PREFIX: &str = "augur_";

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;

/// A fresh random token: `augur_` and 43 URL-safe base64 characters.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a token, hex-encoded: what is stored and looked up.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A short public id for a stored token (its hash's first 8 bytes, hex):
/// what lists show and what `DELETE /v1/tokens/{id}` takes.
pub fn token_id(hash: &str) -> String {
    hash.chars().take(16).collect()
}

/// Whether two secrets (or hashes) are equal, in time independent of their content.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// An argon2id hash of `password` in PHC form.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC hash `stored` (false for a malformed hash).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// SHA-256 of arbitrary bytes, hex-encoded.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43, "{a}");
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(token_id(&token_hash("abc")), "ba7816bf8f01cfea");
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let stored = hash_password("correct horse").expect("hashes");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("correct horsE", &stored));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(hash_password("correct horse").expect("hashes"), stored, "salted");
    }

    #[test]
    fn same_compares_whole_values() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
