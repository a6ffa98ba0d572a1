//! The few cryptographic primitives the core needs, all from one backend (aws-lc-rs).
//!
//! Cookie encryption is written here on top of aws-lc-rs's AES-256-GCM-SIV rather than taken from
//! the `cookie` crate's `private` feature, because that feature pulls in a second crypto stack
//! (RustCrypto's aes-gcm, hmac, sha2). One backend keeps builds lean and audits simple.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{digest, hkdf, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding, as JOSE and PKCE use it.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; tolerates trailing `=` some encoders add.
/// The number of `.` separators in a compact token, counted up to 5 (a JWE has 4, a JWS 2):
/// the scan uses `memchr` and stops early on junk with many dots.
pub(crate) fn count_dots(token: &str) -> usize {
    let mut n = 0;
    let mut rest = token;
    while n < 5 {
        match rest.find('.') {
            Some(i) => {
                n += 1;
                rest = &rest[i + 1..];
            }
            None => break,
        }
    }
    n
}

pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// `n` random bytes from the system generator, base64url encoded.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // The system RNG failing is not recoverable and not caused by input.
    rand::fill(&mut buf).expect("system random number generator failed");
    b64url(&buf)
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> digest::Digest {
    digest::digest(&digest::SHA256, data)
}

/// Constant-time equality for secrets of public length (state, nonce, hashes).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The HMAC-SHA256 key of the client secret (Authentiq's default ID Token signature), made
/// once: its inner and outer pads are hashed when it is made, not on every token.
pub(crate) struct HmacKey(hmac::Key);

impl HmacKey {
    /// The key of `secret`; `None` for an empty secret, which signs nothing.
    pub(crate) fn new(secret: &[u8]) -> Option<Self> {
        (!secret.is_empty()).then(|| Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// Whether `tag` is the HMAC of `message` (compared in constant time).
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, message, tag).is_ok()
    }
}

/// The HKDF salt of cookie keys. It names the cipher, so that a master key never yields the
/// same AES key for two ciphers (v1 keys were AES-256-GCM's).
const COOKIE_KEY_SALT: &[u8] = b"authentiq-rs cookie keys v2 AES-256-GCM-SIV";

/// Derives a 32-byte purpose-specific key from the application's master key (HKDF-SHA256), so
/// the session, flow and device cookies never share a key and one can't be replayed as another.
fn derive_key(master: &[u8], purpose: &str) -> [u8; 32] {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, COOKIE_KEY_SALT);
    let prk = salt.extract(master);
    let info = [purpose.as_bytes()];
    let okm = prk
        .expand(&info, Len32)
        .expect("HKDF output of 32 bytes is always valid");
    let mut out = [0u8; 32];
    okm.fill(&mut out)
        .expect("HKDF output of 32 bytes is always valid");
    out
}

/// Authenticated encryption of cookie values: AES-256-GCM-SIV with a random 96-bit nonce, the
/// cookie's name as associated data, and base64url output: `nonce || ciphertext || tag`.
///
/// GCM-SIV resists nonce misuse: a session cookie is resealed at every idle slide under one
/// long-lived key, and with plain AES-GCM a repeated random nonce (likely after about 2^32
/// seals) would reveal the authentication key and let cookies be forged. Under GCM-SIV a
/// repeated nonce only shows that two cookies hold the same plaintext.
pub(crate) struct CookieCipher {
    keys: Vec<RandomizedNonceKey>,
}

impl CookieCipher {
    /// One cipher for `purpose`, from the current master key followed by older keys that are
    /// still accepted for decryption (key rotation).
    pub(crate) fn new(masters: &[Vec<u8>], purpose: &str) -> Self {
        let keys = masters
            .iter()
            .map(|m| {
                let k = derive_key(m, purpose);
                RandomizedNonceKey::new(&AES_256_GCM_SIV, &k).expect("32-byte AES-256 key")
            })
            .collect();
        Self { keys }
    }

    /// Encrypts `plain` bound to `name`.
    pub(crate) fn seal(&self, name: &str, plain: &[u8]) -> String {
        let mut buf = plain.to_vec();
        let nonce = self.keys[0]
            .seal_in_place_append_tag(Aad::from(name.as_bytes()), &mut buf)
            .expect("AES-GCM-SIV sealing of a cookie-sized value cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        b64url(&out)
    }

    /// Decrypts a value sealed for `name`; `None` for anything tampered, truncated, sealed for
    /// another cookie, or sealed with a key no longer configured.
    pub(crate) fn open(&self, name: &str, sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > 8192 {
            return None;
        }
        let raw = b64url_decode(sealed)?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        for key in &self.keys {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut buf = ct.to_vec();
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(name.as_bytes()), &mut buf) {
                let n = plain.len();
                buf.truncate(n);
                return Some(buf);
            }
        }
        None
    }
}

#[cfg(test)]
mod dot_tests {
    use super::count_dots;

    #[test]
    fn dots_are_counted_up_to_five() {
        assert_eq!(count_dots(""), 0);
        assert_eq!(count_dots("abc"), 0);
        assert_eq!(count_dots("a.b.c"), 2);
        assert_eq!(count_dots(".."), 2);
        assert_eq!(count_dots("a.b.c.d.e"), 4);
        assert_eq!(count_dots("a.b.c.d.e.f"), 5);
        assert_eq!(count_dots(&".".repeat(10_000)), 5);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cookie_cipher_round_trip_and_binding() {
        let c = CookieCipher::new(&[vec![7u8; 64]], "session");
        let sealed = c.seal("a", b"hello");
        assert_eq!(c.open("a", &sealed).unwrap(), b"hello");
        // Bound to the cookie name.
        assert!(c.open("b", &sealed).is_none());
        // Bound to the purpose.
        let other = CookieCipher::new(&[vec![7u8; 64]], "flow");
        assert!(other.open("a", &sealed).is_none());
        // Any flipped character fails.
        let mut bytes = sealed.clone().into_bytes();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        assert!(c.open("a", &String::from_utf8(bytes).unwrap()).is_none());
        assert!(c.open("a", "").is_none());
        assert!(c.open("a", "!!!not base64!!!").is_none());
    }

    #[test]
    fn rotated_key_still_opens() {
        let old = CookieCipher::new(&[vec![1u8; 64]], "session");
        let sealed = old.seal("s", b"v");
        let rotated = CookieCipher::new(&[vec![2u8; 64], vec![1u8; 64]], "session");
        assert_eq!(rotated.open("s", &sealed).unwrap(), b"v");
        let dropped = CookieCipher::new(&[vec![2u8; 64]], "session");
        assert!(dropped.open("s", &sealed).is_none());
    }

    /// The sealed form is AES-256-GCM-SIV under the derived key, checked with an independent
    /// key object; the same bytes do not open as AES-256-GCM, so cookies sealed by 0.1's earlier
    /// AES-256-GCM cipher (whose key came from the v1 salt) are refused, not misread.
    #[test]
    fn cookies_are_sealed_with_aes_256_gcm_siv() {
        use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
        let master = vec![9u8; 64];
        let sealed = CookieCipher::new(std::slice::from_ref(&master), "session").seal("n", b"hi");
        let raw = b64url_decode(&sealed).unwrap();
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let key = derive_key(&master, "session");
        let open = |alg| {
            let k = LessSafeKey::new(UnboundKey::new(alg, &key).unwrap());
            let mut buf = ct.to_vec();
            let nonce = Nonce::try_assume_unique_for_key(nonce).unwrap();
            k.open_in_place(nonce, Aad::from(&b"n"[..]), &mut buf)
                .map(|p| p.to_vec())
                .ok()
        };
        assert_eq!(open(&AES_256_GCM_SIV).unwrap(), b"hi");
        assert!(open(&AES_256_GCM).is_none());

        // A cookie sealed the v1 way (AES-256-GCM, key from the v1 salt) no longer opens.
        struct Len32;
        impl hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, b"authentiq-rs cookie keys v1").extract(&master);
        let mut v1 = [0u8; 32];
        prk.expand(&[b"session".as_slice()], Len32)
            .unwrap()
            .fill(&mut v1)
            .unwrap();
        let old = RandomizedNonceKey::new(&AES_256_GCM, &v1).unwrap();
        let mut buf = b"hi".to_vec();
        let n = old
            .seal_in_place_append_tag(Aad::from(&b"n"[..]), &mut buf)
            .unwrap();
        let old_cookie = b64url(&[n.as_ref(), &buf[..]].concat());
        let c = CookieCipher::new(&[master], "session");
        assert!(c.open("n", &old_cookie).is_none());
    }

    /// Sealing the same value twice gives two different cookies (a fresh random nonce each time).
    #[test]
    fn each_seal_is_fresh() {
        let c = CookieCipher::new(&[vec![4u8; 64]], "session");
        assert_ne!(c.seal("s", b"same"), c.seal("s", b"same"));
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        // Two differing positions whose differences are equal must not cancel out.
        assert!(!ct_eq(&[1, 1], &[0, 0]));
        assert!(!ct_eq(&[0xff, 0x0f, 0xf0], &[0x00, 0x00, 0x00]));
        assert!(ct_eq(b"", b""));
    }

    /// A sealed value of up to 8192 characters opens; a longer one is refused unread, however
    /// authentic.
    #[test]
    fn open_takes_at_most_8192_characters() {
        let c = CookieCipher::new(&[vec![5u8; 64]], "session");
        // nonce (12) + plaintext + tag (16) = 6144 bytes = 8192 base64url characters.
        let plain = vec![b'p'; 6144 - NONCE_LEN - 16];
        let sealed = c.seal("s", &plain);
        assert_eq!(sealed.len(), 8192);
        assert_eq!(c.open("s", &sealed).unwrap(), plain);
        let longer = c.seal("s", &[plain.as_slice(), b"q"].concat());
        assert_eq!(longer.len(), 8194);
        assert!(c.open("s", &longer).is_none());
    }

    /// The shortest sealed value, nonce and tag around nothing, opens to nothing; anything
    /// shorter is refused.
    #[test]
    fn an_empty_value_seals_and_opens() {
        let c = CookieCipher::new(&[vec![6u8; 64]], "flow");
        let sealed = c.seal("f", b"");
        assert_eq!(b64url_decode(&sealed).unwrap().len(), NONCE_LEN + 16);
        assert_eq!(c.open("f", &sealed).unwrap(), b"");
        let raw = b64url_decode(&sealed).unwrap();
        assert!(c.open("f", &b64url(&raw[..raw.len() - 1])).is_none());
        assert!(c.open("f", &b64url(&raw[..NONCE_LEN])).is_none());
    }

    #[test]
    fn random_tokens_are_fresh_base64url() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_eq!(b64url_decode(&a).unwrap().len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, random_token(32));
        assert_eq!(random_token(16).len(), 22);
    }

    #[test]
    fn base64url_without_padding_and_tolerant_of_it() {
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(b64url_decode("-_8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(b64url_decode("").unwrap(), b"");
        assert!(b64url_decode("+/8").is_none());
        assert_eq!(
            b64url(sha256(b"abc").as_ref()),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn hmac_verification() {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"secret"), b"message");
        let key = |secret: &[u8]| HmacKey::new(secret).expect("a secret");
        assert!(key(b"secret").verify(b"message", tag.as_ref()));
        assert!(!key(b"secret").verify(b"massage", tag.as_ref()));
        assert!(!key(b"secreT").verify(b"message", tag.as_ref()));
        assert!(HmacKey::new(b"").is_none());
    }
}
