//! Helpers shared by the integration tests and the benchmarks: local servers on 127.0.0.1.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::net::SocketAddr;

/// Binds `127.0.0.1:port` (0 for any free port) on a current-thread runtime of its own thread,
/// hands the listener to `serve`, and returns the bound address once it is listening.
pub fn spawn_server<F, Fut>(port: u16, serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener).await;
        });
    });
    rx.recv().unwrap()
}

/// Serves an axum app on `127.0.0.1:port` (0 for any free port).
pub fn serve_app(port: u16, app: axum::Router) -> SocketAddr {
    spawn_server(port, move |l| async move {
        axum::serve(l, app).await.unwrap();
    })
}
