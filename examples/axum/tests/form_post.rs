//! The provider's `response_mode=form_post` in a real headless Chromium, across sites: the app
//! on `https://localhost` (a TLS front on loopback, as behind a proxy), the provider on
//! `http://127.0.0.1` (`localhost` and `127.0.0.1` are different sites). The provider's page
//! posts the response cross-site to the callback; only a `SameSite=None; Secure` flow cookie
//! travels with it, which is what the SDK sets on https. The same flow on plain http (a `Lax`
//! flow cookie) shows the POST really is cross-site: the flow cookie stays behind.

use std::net::SocketAddr;
use std::sync::Arc;

use authentiq_core::Authentiq;
use authentiq_dev::{ClientRegistration, DevProvider};
use authentiq_example_common::browser::Browser;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A self-signed certificate for `localhost`, made for this test only (Chromium runs with
/// `--ignore-certificate-errors`); its key protects nothing.
const CERT: &[u8] = include_bytes!("tls/localhost.crt");
const KEY: &[u8] = include_bytes!("tls/localhost.key");

/// Terminates TLS on `listener` and passes the bytes to `app` in plain HTTP.
fn tls_front(listener: TcpListener, app: SocketAddr) {
    let cert = CertificateDer::from_pem_slice(CERT).expect("test certificate");
    let key = PrivateKeyDer::from_pem_slice(KEY).expect("test key");
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("TLS configuration");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(app).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
}

/// The axum example with the provider's `form_post`, for an app whose public URL is
/// `public_url`; returns the address it serves plain HTTP on.
async fn form_post_app(provider: &DevProvider, public_url: &str) -> SocketAddr {
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec![format!("{public_url}/auth/callback")],
        post_logout_redirect_uris: vec![format!("{public_url}/")],
        ..Default::default()
    });
    let auth = Authentiq::builder(provider.issuer(), client.client_id)
        .client_secret(client.client_secret)
        .public_url(public_url)
        .extra_param("response_mode", "form_post")
        .build()
        .await
        .expect("the SDK configures");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
    let addr = listener.local_addr().expect("address");
    let app = authentiq_example_axum::app(auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Signs in at `app` by approving on the phone tab; returns once the provider's form_post page
/// has posted to the app and the browser shows the answer.
async fn sign_in_by_form_post(b: &Browser, app: &str) {
    let desktop = b.window().await;
    b.goto(&format!("{app}/auth/login?return_to=/")).await;
    b.wait_for_text("Waiting for your phone").await;
    let phone_url = b.attribute("a.phone-link", "href").await;
    let phone = b.new_tab().await;
    b.goto(&phone_url).await;
    b.click("button.approve").await;
    b.switch_to(&desktop).await;
    b.wait_for("the answer to the cross-site POST", |url, _| {
        url.starts_with(app)
    })
    .await;
    b.switch_to(&phone).await;
    b.close_window().await;
    b.switch_to(&desktop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_across_sites_reaches_the_callback_with_its_flow_cookie() {
    let provider = DevProvider::start().expect("the provider starts");
    assert!(provider.base_url().starts_with("http://127.0.0.1:"));
    let front = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
    let https = format!(
        "https://localhost:{}",
        front.local_addr().expect("address").port()
    );
    tls_front(front, form_post_app(&provider, &https).await);
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
    let plain_port = plain.local_addr().expect("address").port();
    drop(plain);
    let http = format!("http://localhost:{plain_port}");
    let http_app = form_post_app(&provider, &http).await;
    // The plain app listens where its public URL says.
    let front = TcpListener::bind(("127.0.0.1", plain_port))
        .await
        .expect("the plain port again");
    tokio::spawn(async move {
        while let Ok((mut outside, _)) = front.accept().await {
            tokio::spawn(async move {
                if let Ok(mut inside) = TcpStream::connect(http_app).await {
                    let _ = tokio::io::copy_bidirectional(&mut outside, &mut inside).await;
                }
            });
        }
    });

    let b = Browser::start_with(&["--ignore-certificate-errors"]).await;

    // https: the flow cookie is SameSite=None; Secure, so it rides the cross-site POST.
    sign_in_by_form_post(&b, &https).await;
    assert_eq!(b.url().await, format!("{https}/"));
    let page = b.text().await;
    assert!(page.contains("Signed in as Alice Example."), "{page}");
    let cookies = b.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "__Host-authentiq_session")
        .expect("a secure session cookie");
    assert_eq!(session["secure"], true);
    assert!(
        cookies.iter().all(|c| !c["name"]
            .as_str()
            .unwrap_or_default()
            .contains("authentiq_flow_")),
        "the flow cookie is gone: {cookies:?}"
    );

    // Plain http: the flow cookie is SameSite=Lax and stays behind on the cross-site POST,
    // so the callback cannot match the state and no session begins.
    sign_in_by_form_post(&b, &http).await;
    assert_eq!(b.url().await, format!("{http}/auth/callback"));
    let page = b.text().await;
    assert!(
        page.contains("no sign-in is in progress in this browser, or it expired"),
        "{page}"
    );
    assert!(
        b.cookies()
            .await
            .iter()
            .all(|c| c["name"] != "authentiq_session"),
        "no session without the flow cookie"
    );
}
