//! What the conformance suite does not reach: the reply conversion.

use authentiq_actix::into_response;
use authentiq_core::adapter::Reply;

#[actix_web::test]
async fn reply_conversion_keeps_every_header() {
    let reply = Reply::redirect(303, "/x")
        .header(authentiq_core::adapter::header::SET_COOKIE, "a=1")
        .header(authentiq_core::adapter::header::SET_COOKIE, "b=2")
        .with_body(b"body".to_vec());
    let res = into_response(reply);
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers().get_all("set-cookie").count(), 2);
    assert_eq!(
        res.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/x")
    );
    assert!(res.headers().get("content-type").is_none());
}
