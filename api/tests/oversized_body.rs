//! A request body over the limit, as a plain TCP client sees it: the server
//! reads what the client sends and then answers 413, so the client gets the
//! answer instead of a reset connection in the middle of its upload; a
//! client that declares a body far too large to read gets its 413 at once.

mod support;

use std::time::Duration;

use support::{Backend, TestApp};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The body limit the tests run with.
const LIMIT: u64 = 1024 * 1024;

async fn app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |args| args.max_body_bytes = LIMIT)
        .await
        .expect("the embedded store needs no service")
}

/// Opens a connection to `app` and sends a POST head declaring `length`
/// bytes, asking for the connection to be closed after the answer.
async fn post_head(app: &TestApp, path: &str, length: u64) -> TcpStream {
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
}

/// Reads the answer until the server closes the connection.
async fn answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_limit_is_read_to_its_end_and_then_refused_with_413() {
    let app = app().await;
    let length = 8 * LIMIT;
    let mut stream = post_head(&app, "/api/v1/workflows", length).await;
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..length / chunk.len() as u64 {
        stream
            .write_all(&chunk)
            .await
            .expect("the server keeps reading until the body has been sent");
    }
    let answer = answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_far_too_large_to_read_is_refused_before_it_is_sent() {
    let app = app().await;
    let mut stream = post_head(&app, "/api/v1/workflows", 1 << 40).await;
    let answer = answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(&format!("\"limit_bytes\":{LIMIT}")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_within_the_limit_reaches_the_handler_and_gets_its_own_answer() {
    let app = app().await;
    let body = b"{\"email\": ";
    let mut stream = post_head(&app, "/api/v1/auth/login", body.len() as u64).await;
    stream.write_all(body).await.expect("body");
    let answer = answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("malformed_json"), "{answer}");
}
