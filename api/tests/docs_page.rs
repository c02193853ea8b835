//! The API page at `/api/docs`: served by the binary with everything it
//! loads, under a content security policy that allows this server only, so
//! it works without a network and cannot be made to load anything else.

mod support;

use support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_page_and_its_files_come_from_the_server_alone() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("the embedded store needs no service");
    let anonymous = reqwest::Client::new();
    let page = anonymous
        .get(app.url("/api/docs"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .expect("text")
        .starts_with("text/html"));
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    assert!(!html.contains("://"), "nothing is loaded from elsewhere");
    for (file, kind) in [("app.js", "text/javascript"), ("style.css", "text/css")] {
        let asset = anonymous
            .get(app.url(&format!("/api/docs/{file}")))
            .send()
            .await
            .expect("asset");
        assert_eq!(asset.status().as_u16(), 200, "{file}");
        assert!(asset.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with(kind));
        let text = asset.text().await.expect("text");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{file}"
        );
        assert!(!text.contains("innerHTML"), "{file} sets text, never HTML");
    }
    let missing = anonymous
        .get(app.url("/api/docs/other.js"))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status().as_u16(), 404);
}
