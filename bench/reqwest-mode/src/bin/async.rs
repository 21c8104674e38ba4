fn main() {
    let url = std::env::args().nth(1).expect("URL");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .tls_backend_preconfigured(reqwest_mode::tls())
            .build()
            .unwrap();
        let resp = client.get(url).send().await.unwrap();
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        println!("{status} {}", body.len());
    });
}
