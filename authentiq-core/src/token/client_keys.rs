//! The client's own decryption keys (`AUTHENTIQ_CLIENT_KEYS`): a JWKS of RSA (2048 bits or
//! more) and EC P-256 private keys, each with a `kid`, parsed once into aws-lc-rs key objects.
//! Their public halves are what the app publishes at `GET /auth/jwks` and registers with the
//! provider, which encrypts ID Tokens to them.

use std::sync::Arc;

use aws_lc_rs::agreement::{self, ECDH_P256};
use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPrivateKeyBin};
use aws_lc_rs::rsa::{
    KeyPair, KeyPairComponents, KeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey,
    PublicKeyComponents,
};
use serde_json::{Map, Value, json};

use crate::crypto::{b64url, b64url_decode, random_token};

/// The most keys a client key set may hold.
const MAX_KEYS: usize = 16;
/// RSA moduli accepted, in bits.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// The key management algorithms each key family accepts.
pub(crate) const RSA_ALGS: [&str; 2] = ["RSA-OAEP-256", "RSA-OAEP"];
pub(crate) const EC_ALGS: [&str; 3] = ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"];

/// The private half of one client key, ready to decrypt.
pub(crate) enum Material {
    /// RSA, for `RSA-OAEP` and `RSA-OAEP-256`.
    Rsa(OaepPrivateDecryptingKey),
    /// EC P-256, for `ECDH-ES` and its key-wrapping variants.
    P256(agreement::PrivateKey),
}

/// One client key: its `kid`, the algorithm it is pinned to (if any), the parsed private key
/// and the JWK it came from.
pub(crate) struct ClientKey {
    pub(crate) kid: String,
    pub(crate) alg: Option<String>,
    pub(crate) material: Material,
    /// The JWK as given, private members included; only [`ClientKeys::private_jwks`] shows it.
    jwk: Map<String, Value>,
}

impl ClientKey {
    /// Whether this key may unwrap a content key with key management algorithm `alg`.
    pub(crate) fn accepts(&self, alg: &str) -> bool {
        let family = match self.material {
            Material::Rsa(_) => RSA_ALGS.contains(&alg),
            Material::P256(_) => EC_ALGS.contains(&alg),
        };
        family && self.alg.as_deref().is_none_or(|a| a == alg)
    }

    /// The public half as a JWK: key type, curve or modulus, `kid`, `use: enc`, `alg` when
    /// pinned. Never a private member.
    fn public_jwk(&self) -> Value {
        let mut out = Map::new();
        let members: &[&str] = match self.material {
            Material::Rsa(_) => &["kty", "n", "e"],
            Material::P256(_) => &["kty", "crv", "x", "y"],
        };
        for m in members {
            if let Some(v) = self.jwk.get(*m) {
                out.insert((*m).to_owned(), v.clone());
            }
        }
        out.insert("kid".into(), Value::String(self.kid.clone()));
        out.insert("use".into(), Value::String("enc".into()));
        if let Some(a) = &self.alg {
            out.insert("alg".into(), Value::String(a.clone()));
        }
        Value::Object(out)
    }
}

/// The client's decryption keys for end-to-end encrypted ID Tokens. Parse one from JWKS text
/// ([`ClientKeys::from_jwks`]) or make a new set ([`ClientKeys::generate`]); publish
/// [`ClientKeys::public_jwks`] and keep [`ClientKeys::private_jwks`] secret.
///
/// ```
/// use authentiq_core::ClientKeys;
/// let keys = ClientKeys::generate().unwrap();
/// let again = ClientKeys::from_jwks(&keys.private_jwks()).unwrap();
/// assert_eq!(again.public_jwks(), keys.public_jwks());
/// assert!(!keys.public_jwks().to_string().contains("\"d\""));
/// ```
#[derive(Clone)]
pub struct ClientKeys {
    keys: Arc<Vec<ClientKey>>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeys")
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ClientKeys {
    /// Parses a JWKS (`{"keys": [...]}`) of private keys. Every key must be RSA of at least
    /// 2048 bits or EC P-256, hold its private members, carry a `kid` no other key has, and
    /// (when it says) be for `use: enc` with an accepted `alg`. The error says which key and why.
    pub fn from_jwks(text: &str) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("not a JSON document: {e}"))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the document has no `keys` array")?;
        if list.is_empty() {
            return Err("the `keys` array is empty".into());
        }
        if list.len() > MAX_KEYS {
            return Err(format!("more than {MAX_KEYS} keys"));
        }
        let mut keys: Vec<ClientKey> = Vec::with_capacity(list.len());
        for (i, jwk) in list.iter().enumerate() {
            let obj = jwk
                .as_object()
                .ok_or_else(|| format!("key {i} is not a JSON object"))?;
            let key = parse_key(obj).map_err(|e| match obj.get("kid").and_then(Value::as_str) {
                Some(kid) => format!("key `{}`: {e}", crate::error::safe_text(kid)),
                None => format!("key {i}: {e}"),
            })?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(format!(
                    "two keys share the kid `{}`",
                    crate::error::safe_text(&key.kid)
                ));
            }
            keys.push(key);
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// Makes a new key set: one EC P-256 key and one RSA 2048-bit key, each with a random
    /// `kid`. Keep [`private_jwks`](Self::private_jwks) secret (it is `AUTHENTIQ_CLIENT_KEYS`);
    /// register [`public_jwks`](Self::public_jwks) with the provider.
    pub fn generate() -> Result<Self, String> {
        let ec = agreement::PrivateKey::generate(&ECDH_P256)
            .map_err(|_| "EC P-256 key generation failed")?;
        let d: EcPrivateKeyBin<'_> = ec.as_be_bytes().map_err(|_| "EC P-256 key export failed")?;
        let public = ec
            .compute_public_key()
            .map_err(|_| "EC P-256 key export failed")?;
        let point = public.as_ref();
        let ec_jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "kid": format!("ec-{}", random_token(9)),
            "use": "enc",
            "x": b64url(&point[1..33]),
            "y": b64url(&point[33..65]),
            "d": b64url(d.as_ref()),
        });
        let rsa = PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .map_err(|_| "RSA key generation failed")?;
        let der = rsa.as_der().map_err(|_| "RSA key export failed")?;
        let parts = rsa_components_from_pkcs8(der.as_ref()).ok_or("RSA key export failed")?;
        let mut rsa_jwk = Map::new();
        rsa_jwk.insert("kty".into(), "RSA".into());
        rsa_jwk.insert("kid".into(), format!("rsa-{}", random_token(9)).into());
        rsa_jwk.insert("use".into(), "enc".into());
        for (name, value) in ["n", "e", "d", "p", "q", "dp", "dq", "qi"]
            .iter()
            .zip(parts)
        {
            rsa_jwk.insert((*name).into(), b64url(value).into());
        }
        let doc = json!({ "keys": [ec_jwk, Value::Object(rsa_jwk)] });
        Self::from_jwks(&doc.to_string())
    }

    /// The public halves as a JWKS (`use: enc`): what `GET /auth/jwks` serves and what the
    /// provider encrypts to. It never holds a private member.
    pub fn public_jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(ClientKey::public_jwk).collect::<Vec<_>>() })
    }

    /// The whole key set, private members included, as JWKS text: the value of
    /// `AUTHENTIQ_CLIENT_KEYS`. Keep it secret.
    pub fn private_jwks(&self) -> String {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| Value::Object(k.jwk.clone()))
            .collect();
        json!({ "keys": keys }).to_string()
    }

    /// The key ids, in the order of the set.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The keys that may open a JWE with key management `alg` and header `kid`: with a `kid`,
    /// only the key of that id; without one, every key of the algorithm's family.
    pub(crate) fn candidates<'k>(
        &'k self,
        alg: &'k str,
        kid: Option<&'k str>,
    ) -> impl Iterator<Item = &'k ClientKey> {
        self.keys
            .iter()
            .filter(move |k| kid.is_none_or(|kid| k.kid == kid))
            .filter(move |k| k.accepts(alg))
    }
}

/// The bit length of a big-endian unsigned integer.
fn bit_len(v: &[u8]) -> usize {
    match v.iter().position(|b| *b != 0) {
        Some(i) => (v.len() - i - 1) * 8 + (8 - v[i].leading_zeros() as usize),
        None => 0,
    }
}

fn parse_key(jwk: &Map<String, Value>) -> Result<ClientKey, String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    let kid = match jwk.get("kid") {
        Some(Value::String(k)) if !k.is_empty() && k.len() <= 256 => k.clone(),
        Some(Value::String(_)) => return Err("the `kid` must hold 1 to 256 characters".into()),
        Some(_) => return Err("the `kid` is not a string".into()),
        None => return Err("the key has no `kid`".into()),
    };
    if let Some(u) = jwk.get("use")
        && u.as_str() != Some("enc")
    {
        return Err("`use` must be `enc` for a decryption key".into());
    }
    if jwk.contains_key("key_ops") {
        return Err("`key_ops` is not supported; use `use: enc`".into());
    }
    let bytes = |k: &str| -> Result<Vec<u8>, String> {
        s(k).and_then(b64url_decode)
            .ok_or_else(|| format!("`{k}` is missing or not base64url"))
    };
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(a.clone()),
        Some(_) => return Err("`alg` is not a string".into()),
    };
    let material = match s("kty") {
        Some("RSA") => {
            if !jwk.contains_key("d") {
                return Err("a public key only: the private member `d` is missing".into());
            }
            if jwk.contains_key("oth") {
                return Err("multi-prime RSA keys (`oth`) are not supported".into());
            }
            let n = bytes("n")?;
            let bits = bit_len(&n);
            if bits < RSA_MIN_BITS {
                return Err(format!(
                    "a weak key: the RSA modulus has {bits} bits, at least {RSA_MIN_BITS} are needed"
                ));
            }
            if bits > RSA_MAX_BITS {
                return Err(format!(
                    "the RSA modulus has {bits} bits, at most {RSA_MAX_BITS} are supported"
                ));
            }
            let components = KeyPairComponents {
                public_key: PublicKeyComponents { n, e: bytes("e")? },
                d: bytes("d")?,
                p: bytes("p")?,
                q: bytes("q")?,
                dP: bytes("dp")?,
                dQ: bytes("dq")?,
                qInv: bytes("qi")?,
            };
            let pair = KeyPair::from_components(&components)
                .map_err(|e| format!("not a consistent RSA private key: {e}"))?;
            let der = pair
                .as_der()
                .map_err(|_| "the RSA key cannot be exported".to_owned())?;
            let key = PrivateDecryptingKey::from_pkcs8(der.as_ref())
                .map_err(|e| format!("not a usable RSA decryption key: {e}"))?;
            Material::Rsa(
                OaepPrivateDecryptingKey::new(key)
                    .map_err(|_| "not a usable RSA-OAEP key".to_owned())?,
            )
        }
        Some("EC") => {
            match s("crv") {
                Some("P-256") => {}
                Some(c) => {
                    return Err(format!(
                        "curve `{}` is not supported; use P-256",
                        crate::error::safe_text(c)
                    ));
                }
                None => return Err("the EC key has no `crv`".into()),
            }
            if !jwk.contains_key("d") {
                return Err("a public key only: the private member `d` is missing".into());
            }
            let (x, y, d) = (bytes("x")?, bytes("y")?, bytes("d")?);
            if x.len() != 32 || y.len() != 32 || d.len() != 32 {
                return Err("P-256 members `x`, `y` and `d` must be 32 bytes each".into());
            }
            let key = agreement::PrivateKey::from_private_key(&ECDH_P256, &d)
                .map_err(|e| format!("not a P-256 private key: {e}"))?;
            let public = key
                .compute_public_key()
                .map_err(|_| "not a P-256 private key".to_owned())?;
            let point = public.as_ref();
            if point.len() != 65 || point[1..33] != x[..] || point[33..] != y[..] {
                return Err("`x` and `y` are not the public key of `d`".into());
            }
            Material::P256(key)
        }
        Some(other) => {
            return Err(format!(
                "key type `{}` is not supported; use RSA or EC P-256",
                crate::error::safe_text(other)
            ));
        }
        None => return Err("the key has no `kty`".into()),
    };
    if let Some(a) = &alg {
        let ok = match material {
            Material::Rsa(_) => RSA_ALGS.contains(&a.as_str()),
            Material::P256(_) => EC_ALGS.contains(&a.as_str()),
        };
        if !ok {
            return Err(format!(
                "`alg` `{}` is not an accepted key management algorithm for this key",
                crate::error::safe_text(a)
            ));
        }
    }
    Ok(ClientKey {
        kid,
        alg,
        material,
        jwk: jwk.clone(),
    })
}

/// One DER element: its tag, its content and what follows it.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The eight RSA integers (n, e, d, p, q, dp, dq, qi) of a PKCS#8 RSA private key, without
/// leading zero bytes.
fn rsa_components_from_pkcs8(der: &[u8]) -> Option<Vec<&[u8]>> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    let (tag, info, _) = der_next(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, _version, rest) = der_next(info)?;
    let (_, _algorithm, rest) = der_next(rest)?;
    let (tag, private, _) = der_next(rest)?;
    if tag != OCTET_STRING {
        return None;
    }
    let (tag, mut fields, _) = der_next(private)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut out = Vec::with_capacity(8);
    // The first integer is the RSAPrivateKey version.
    for i in 0..9 {
        let (tag, value, rest) = der_next(fields)?;
        if tag != INTEGER {
            return None;
        }
        fields = rest;
        if i > 0 {
            let start = value
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(value.len().saturating_sub(1));
            out.push(&value[start..]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn set(keys: Value) -> Result<ClientKeys, String> {
        ClientKeys::from_jwks(&json!({ "keys": keys }).to_string())
    }

    fn generated() -> (Value, Value) {
        let keys = ClientKeys::generate().unwrap();
        let doc: Value = serde_json::from_str(&keys.private_jwks()).unwrap();
        (doc["keys"][0].clone(), doc["keys"][1].clone())
    }

    #[test]
    fn generated_keys_round_trip_and_publish_no_private_member() {
        let keys = ClientKeys::generate().unwrap();
        assert_eq!(keys.kids().count(), 2);
        let public = keys.public_jwks();
        for k in public["keys"].as_array().unwrap() {
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(k.get(private).is_none(), "{private} published: {k}");
            }
            assert_eq!(k["use"], "enc");
        }
        assert_eq!(public["keys"][0]["kty"], "EC");
        assert_eq!(public["keys"][1]["kty"], "RSA");
        let again = ClientKeys::from_jwks(&keys.private_jwks()).unwrap();
        assert_eq!(again.public_jwks(), public);
        // The RSA key is 2048 bits.
        let n = b64url_decode(public["keys"][1]["n"].as_str().unwrap()).unwrap();
        assert_eq!(bit_len(&n), 2048);
    }

    #[test]
    fn start_up_errors_name_the_problem() {
        let (ec, rsa) = generated();
        let err = |v: Value| set(v).unwrap_err();
        assert!(
            ClientKeys::from_jwks("{not json")
                .unwrap_err()
                .contains("JSON")
        );
        assert!(ClientKeys::from_jwks("{}").unwrap_err().contains("`keys`"));
        assert!(err(json!([])).contains("empty"));

        let mut public_only = rsa.clone();
        for m in ["d", "p", "q", "dp", "dq", "qi"] {
            public_only.as_object_mut().unwrap().remove(m);
        }
        assert!(err(json!([public_only])).contains("public key only"));
        let mut ec_public = ec.clone();
        ec_public.as_object_mut().unwrap().remove("d");
        assert!(err(json!([ec_public])).contains("public key only"));

        let mut no_kid = ec.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        assert!(err(json!([no_kid])).contains("no `kid`"));

        let mut twin = rsa.clone();
        twin["kid"] = ec["kid"].clone();
        assert!(err(json!([ec.clone(), twin])).contains("share the kid"));

        let mut sig = ec.clone();
        sig["use"] = "sig".into();
        assert!(err(json!([sig])).contains("`use`"));

        let mut wrong_alg = ec.clone();
        wrong_alg["alg"] = "RSA-OAEP-256".into();
        assert!(err(json!([wrong_alg])).contains("`alg`"));

        let mut p384 = ec.clone();
        p384["crv"] = "P-384".into();
        assert!(err(json!([p384])).contains("P-256"));

        let mut oct = ec.clone();
        oct["kty"] = "oct".into();
        assert!(err(json!([oct])).contains("not supported"));

        // A private scalar that does not match the public point.
        let mut mismatched = ec.clone();
        let (other, _) = generated();
        mismatched["d"] = other["d"].clone();
        assert!(err(json!([mismatched])).contains("not the public key"));

        // An RSA key whose CRT members belong to another key.
        let mut broken = rsa.clone();
        let (_, other) = generated();
        broken["p"] = other["p"].clone();
        assert!(err(json!([broken])).contains("RSA"));
    }

    #[test]
    fn weak_rsa_keys_are_refused() {
        // A 1024-bit modulus (the members need not be consistent: the size is checked first).
        let (_, rsa) = generated();
        let mut short = rsa.clone();
        short["n"] = b64url(&[0xc5u8; 128]).into();
        let e = set(json!([short])).unwrap_err();
        assert!(e.contains("weak key") && e.contains("1024 bits"), "{e}");
        // Leading zero bytes do not make a modulus longer.
        let mut padded = rsa;
        let mut n = vec![0u8; 200];
        n.extend_from_slice(&[0xc5u8; 128]);
        padded["n"] = b64url(&n).into();
        assert!(set(json!([padded])).unwrap_err().contains("1024 bits"));
    }

    #[test]
    fn candidates_follow_kid_family_and_pinned_alg() {
        let (ec, mut rsa) = generated();
        rsa["alg"] = "RSA-OAEP-256".into();
        let keys = set(json!([ec.clone(), rsa.clone()])).unwrap();
        let ec_kid = ec["kid"].as_str().unwrap();
        let rsa_kid = rsa["kid"].as_str().unwrap();
        assert_eq!(keys.candidates("ECDH-ES", None).count(), 1);
        assert_eq!(keys.candidates("ECDH-ES", Some(ec_kid)).count(), 1);
        assert_eq!(keys.candidates("ECDH-ES", Some(rsa_kid)).count(), 0);
        assert_eq!(keys.candidates("RSA-OAEP-256", Some(rsa_kid)).count(), 1);
        // Pinned to RSA-OAEP-256: plain RSA-OAEP is not this key's.
        assert_eq!(keys.candidates("RSA-OAEP", Some(rsa_kid)).count(), 0);
        assert_eq!(keys.candidates("RSA-OAEP-256", Some("other")).count(), 0);
        assert!(keys.public_jwks()["keys"][1]["alg"] == "RSA-OAEP-256");
        assert!(!format!("{keys:?}").contains(ec["d"].as_str().unwrap()));
    }
}
