//! The axum example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::{Settings, smoke};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_me_sign_out() {
    let app = authentiq_example_axum::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    smoke::sign_in_me_sign_out(&app.public_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_me_sign_out_with_sessions_in_redis() {
    let redis = authentiq_dev::redis::RedisServer::start().expect("redis-server on loopback");
    let settings = Settings {
        store: Some(authentiq_example_common::SessionStoreSetting::Redis(
            redis.url(),
        )),
        ..smoke::loopback()
    };
    let app = authentiq_example_axum::spawn(settings)
        .await
        .expect("the example starts");
    assert_eq!(
        redis_keys(&redis.url(), "authentiq:*"),
        0,
        "Redis starts empty"
    );
    smoke::sign_in_me_sign_out(&app.public_url).await;
    // Signed out: the session itself is gone from Redis.
    assert_eq!(redis_keys(&redis.url(), "authentiq:s:*"), 0);
    // The app really kept its state in Redis (a store setting that were ignored would leave it
    // empty): the user's session index, and the logout's mark for the ID Token's sid.
    assert!(redis_keys(&redis.url(), "authentiq:sub:*") >= 1);
    assert!(redis_keys(&redis.url(), "authentiq:mark-sid:*") >= 1);
}

/// How many keys match `pattern`, asked over Redis's own protocol.
fn redis_keys(url: &str, pattern: &str) -> usize {
    use std::io::{BufRead, BufReader, Write};
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let mut conn = std::net::TcpStream::connect(addr).expect("redis answers");
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    write!(
        conn,
        "*2\r\n$4\r\nKEYS\r\n${}\r\n{pattern}\r\n",
        pattern.len()
    )
    .expect("send KEYS");
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).expect("reply");
    line.trim()
        .strip_prefix('*')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an array reply: {line}"))
}
