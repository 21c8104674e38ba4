fn main() {
    let url = std::env::args().nth(1).expect("URL");
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .http1_only()
        .tls_backend_preconfigured(reqwest_mode::tls())
        .build()
        .unwrap();
    let resp = client.get(url).send().unwrap();
    let status = resp.status();
    let body = resp.bytes().unwrap();
    println!("{status} {}", body.len());
}
