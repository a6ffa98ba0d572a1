//! `keygen`: a new client key set for end-to-end encrypted ID Tokens.

use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPrivateKeyBin};
use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
use serde_json::{Map, Value, json};

use crate::keys::{b64url, random_token};

/// A new client key set: one EC P-256 key and, with `rsa`, one RSA 2048-bit key, each with a
/// random `kid` and `use: enc`. Returns `(private, public)` JWKS documents: keep the first
/// secret (it is `AUTHENTIQ_CLIENT_KEYS`), register the second with the provider.
///
/// # Panics
/// If the crypto library fails to generate or export a key.
pub fn client_keys(rsa: bool) -> (Value, Value) {
    let ec = PrivateKey::generate(&ECDH_P256).expect("P-256 key generation failed");
    let d: EcPrivateKeyBin<'_> = ec.as_be_bytes().expect("P-256 key export failed");
    let public = ec
        .compute_public_key()
        .expect("P-256 public key computation failed");
    let point = public.as_ref();
    let mut private_keys = vec![json!({
        "kty": "EC", "crv": "P-256", "kid": format!("ec-{}", random_token(9)), "use": "enc",
        "x": b64url(&point[1..33]), "y": b64url(&point[33..65]), "d": b64url(d.as_ref()),
    })];
    if rsa {
        let key =
            PrivateDecryptingKey::generate(KeySize::Rsa2048).expect("RSA key generation failed");
        let der = key.as_der().expect("RSA key export failed");
        let parts = rsa_integers(der.as_ref()).expect("RSA key export failed");
        let mut jwk = Map::new();
        jwk.insert("kty".into(), "RSA".into());
        jwk.insert("kid".into(), format!("rsa-{}", random_token(9)).into());
        jwk.insert("use".into(), "enc".into());
        for (name, value) in ["n", "e", "d", "p", "q", "dp", "dq", "qi"]
            .into_iter()
            .zip(parts)
        {
            jwk.insert(name.into(), b64url(value).into());
        }
        private_keys.push(Value::Object(jwk));
    }
    let public_keys: Vec<Value> = private_keys
        .iter()
        .map(|k| {
            let mut k = k.clone();
            if let Some(obj) = k.as_object_mut() {
                for m in ["d", "p", "q", "dp", "dq", "qi"] {
                    obj.remove(m);
                }
            }
            k
        })
        .collect();
    (
        json!({ "keys": private_keys }),
        json!({ "keys": public_keys }),
    )
}

/// One DER element: tag, content, rest.
fn next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
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
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// n, e, d, p, q, dp, dq, qi of a PKCS#8 RSA key, without leading zero bytes.
fn rsa_integers(der: &[u8]) -> Option<Vec<&[u8]>> {
    let (_, info, _) = next(der)?;
    let (_, _, rest) = next(info)?; // version
    let (_, _, rest) = next(rest)?; // algorithm
    let (_, octets, _) = next(rest)?;
    let (_, mut fields, _) = next(octets)?;
    let mut out = Vec::new();
    for i in 0..9 {
        let (tag, value, rest) = next(fields)?;
        if tag != 0x02 {
            return None;
        }
        fields = rest;
        if i > 0 {
            let start = value
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(value.len() - 1);
            out.push(&value[start..]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aws_lc_rs::rsa::{KeyPair, KeyPairComponents, PublicKeyComponents};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn bytes(k: &Value, m: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(k[m].as_str().unwrap()).unwrap()
    }

    #[test]
    fn keygen_makes_consistent_private_keys_and_publishes_no_private_member() {
        let (private, public) = client_keys(true);
        let (private, public) = (&private["keys"], &public["keys"]);
        assert_eq!(private.as_array().unwrap().len(), 2);
        for k in public.as_array().unwrap() {
            for m in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(k.get(m).is_none(), "{m} published");
            }
            assert_eq!(k["use"], "enc");
        }
        // The EC point is the public key of `d`.
        let ec = &private[0];
        let key = PrivateKey::from_private_key(&ECDH_P256, &bytes(ec, "d")).unwrap();
        let point = key.compute_public_key().unwrap();
        assert_eq!(point.as_ref()[1..33], bytes(ec, "x")[..]);
        assert_eq!(point.as_ref()[33..], bytes(ec, "y")[..]);
        // The RSA members form one consistent 2048-bit key.
        let rsa = &private[1];
        assert_eq!(bytes(rsa, "n").len(), 256);
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n: bytes(rsa, "n"),
                e: bytes(rsa, "e"),
            },
            d: bytes(rsa, "d"),
            p: bytes(rsa, "p"),
            q: bytes(rsa, "q"),
            dP: bytes(rsa, "dp"),
            dQ: bytes(rsa, "dq"),
            qInv: bytes(rsa, "qi"),
        };
        assert!(KeyPair::from_components(&components).is_ok());
        // Without `--rsa`, one EC key.
        assert_eq!(client_keys(false).0["keys"].as_array().unwrap().len(), 1);
    }
}
