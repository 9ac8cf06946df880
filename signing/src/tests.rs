use super::*;

const KEY: &str = "AKIDVERGETEST";

fn creds() -> Credentials {
    Credentials::new(KEY, "verge-test-secret", None)
}

fn scope() -> Scope {
    Scope { region: "us-east-1".into(), service: "execute-api".into() }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn signed(method: &str, uri: &str, body: &[u8], extra: &[(&str, &str)], now: SystemTime) -> Request<Vec<u8>> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let mut req = b.body(body.to_vec()).unwrap();
    sign(&mut req, &creds(), &scope(), Profile::Api, now).unwrap();
    req
}

fn check(req: &Request<Vec<u8>>, now: SystemTime) -> Result<Verified, VerifyError> {
    let host = req.uri().authority().unwrap().as_str();
    let c = creds();
    verify(
        req.method(),
        host,
        req.uri().path_and_query().unwrap().as_str(),
        req.headers(),
        req.body(),
        &|id| (id == KEY).then(|| c.clone()),
        &scope(),
        now,
    )
}

#[test]
fn a_signed_request_verifies() {
    let req = signed(
        "POST",
        "http://127.0.0.1:8081/api/numbers?x=1&a=2",
        b"{\"value\":3}",
        &[("x-verge-user", "u1"), ("content-type", "application/json")],
        at(1_800_000_000),
    );
    assert_eq!(check(&req, at(1_800_000_100)).unwrap().access_key_id, KEY);
    assert_eq!(req.headers()[CONTENT_SHA256], sha256_hex(b"{\"value\":3}"));
}

#[test]
fn each_tampering_is_refused_with_its_reason() {
    let now = at(1_800_000_000);
    let req = signed("POST", "http://o.test/api/numbers", b"{\"value\":3}", &[("x-verge-user", "u1")], now);

    let mut body = req.clone();
    *body.body_mut() = b"{\"value\":4}".to_vec();
    assert_eq!(check(&body, now), Err(VerifyError::BodyMismatch));

    let mut hdr = req.clone();
    hdr.headers_mut().insert("x-verge-user", "admin".parse().unwrap());
    assert_eq!(check(&hdr, now), Err(VerifyError::Mismatch));

    let mut added = req.clone();
    added.headers_mut().insert("x-verge-scopes", "admin".parse().unwrap());
    assert_eq!(check(&added, now), Err(VerifyError::UnsignedHeader("x-verge-scopes".into())));

    let mut path = req.clone();
    *path.uri_mut() = "http://o.test/api/numbers?admin=1".parse().unwrap();
    assert_eq!(check(&path, now), Err(VerifyError::Mismatch));

    let mut method = req.clone();
    *method.method_mut() = Method::PUT;
    assert_eq!(check(&method, now), Err(VerifyError::Mismatch));

    let mut unsigned = req.clone();
    unsigned.headers_mut().remove("authorization");
    assert_eq!(check(&unsigned, now), Err(VerifyError::Missing));
}

#[test]
fn stale_and_future_signatures_are_refused_at_five_minutes() {
    let t = at(1_800_000_000);
    let req = signed("GET", "http://o.test/api/stats/daily", b"", &[], t);
    assert!(check(&req, at(1_800_000_300)).is_ok());
    assert_eq!(check(&req, at(1_800_000_301)), Err(VerifyError::Stale));
    assert_eq!(check(&req, at(1_799_999_699)), Err(VerifyError::Stale));
}

#[test]
fn wrong_key_or_scope_is_refused() {
    let now = at(1_800_000_000);
    let mut req = Request::get("http://o.test/x").body(Vec::new()).unwrap();
    sign(&mut req, &Credentials::new("OTHER", "s", None), &scope(), Profile::Api, now).unwrap();
    assert_eq!(check(&req, now), Err(VerifyError::UnknownKey));

    let mut req = Request::get("http://o.test/x").body(Vec::new()).unwrap();
    sign(&mut req, &Credentials::new(KEY, "wrong-secret", None), &scope(), Profile::Api, now).unwrap();
    assert_eq!(check(&req, now), Err(VerifyError::Mismatch));

    let mut req = Request::get("http://o.test/x").body(Vec::new()).unwrap();
    let other = Scope { region: "eu-west-1".into(), service: "execute-api".into() };
    sign(&mut req, &creds(), &other, Profile::Api, now).unwrap();
    assert_eq!(check(&req, now), Err(VerifyError::WrongScope("region")));
}

#[test]
fn malformed_authorization_headers_never_panic() {
    let now = at(1_800_000_000);
    for bad in [
        "Bearer abc",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDVERGETEST/20270115/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=AKIDVERGETEST/20270115/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date;x-amz-content-sha256;\u{1}, Signature=0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let mut req = signed("GET", "http://o.test/x", b"", &[], now);
        match http::HeaderValue::from_str(bad) {
            Ok(v) => {
                req.headers_mut().insert("authorization", v);
                assert!(check(&req, now).is_err(), "{bad}");
            }
            Err(_) => continue,
        }
    }
}

#[test]
fn amz_dates_parse_exactly() {
    assert_eq!(parse_amz_date("20150830T123600Z"), Some(at(1_440_938_160)));
    assert_eq!(parse_amz_date("20150830T123600"), None);
    assert_eq!(parse_amz_date("2015083xT123600Z"), None);
    assert_eq!(parse_amz_date("20151330T123600Z"), None);
}

/// The `get-vanilla` case of the AWS SigV4 test suite (service "service", region "us-east-1").
#[test]
fn aws_suite_get_vanilla_signature() {
    let mut req = Request::get("https://example.amazonaws.com/").body(Vec::new()).unwrap();
    let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
    let scope = Scope { region: "us-east-1".into(), service: "service".into() };
    sign(&mut req, &creds, &scope, Profile::DynamoDb, parse_amz_date("20150830T123600Z").unwrap()).unwrap();
    assert_eq!(
        req.headers()["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn the_exact_path_is_verified_not_a_normalised_one() {
    // The origin routes the raw path, so a signature for one path must not verify another that
    // only normalises to it (RFC 3986 dot segments, empty segments).
    let now = at(1_800_000_000);
    let req = signed("DELETE", "http://o.test/api/admin/keys/k1", b"", &[], now);
    assert!(check(&req, now).is_ok());
    for other in [
        "http://o.test/api/admin/keys/x/../k1",
        "http://o.test/api/admin/keys/./k1",
        "http://o.test/api//admin/keys/k1",
        "http://o.test//api/admin/keys/k1",
    ] {
        let mut moved = req.clone();
        *moved.uri_mut() = other.parse().unwrap();
        assert_eq!(check(&moved, now), Err(VerifyError::Mismatch), "{other}");
    }
}

#[test]
fn the_credential_date_is_exactly_the_date_of_x_amz_date() {
    let now = at(1_800_000_000); // 2027-01-15T08:00:00Z
    let req = signed("GET", "http://o.test/api/stats/daily", b"", &[], now);
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    assert!(auth.contains("/20270115/"), "{auth}");
    for date in ["2027", "202701", "", "2027011", "20270115T", "20270116"] {
        let mut edited = req.clone();
        let value = auth.replace("/20270115/", &format!("/{date}/"));
        edited.headers_mut().insert("authorization", value.parse().unwrap());
        assert!(matches!(check(&edited, now), Err(VerifyError::Malformed(_))), "credential date {date:?}: {:?}", check(&edited, now));
    }
}

/// The signer before `v4` replaced it: `aws-sigv4` with the settings each profile had.
fn reference_sign(req: &mut Request<Vec<u8>>, creds: &Credentials, scope: &Scope, profile: Profile, now: SystemTime) {
    use aws_sigv4::http_request::{
        sign as sigv4_sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode,
    };
    let mut settings = SigningSettings::default();
    match profile {
        Profile::S3 => {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        Profile::Api => settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
        Profile::DynamoDb => {}
    }
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new(&creds.access_key_id, &creds.secret_access_key, creds.session_token.clone(), None, "test")
            .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&scope.region)
        .name(&scope.service)
        .time(now)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers: Vec<(&str, &str)> = req.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        req.uri().to_string(),
        headers.into_iter(),
        SignableBody::Precomputed(sha256_hex(req.body())),
    )
    .unwrap();
    let (instructions, _) = sigv4_sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(req);
}

/// A small deterministic generator (xorshift64*), so a failure names a reproducible case.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

/// 4,000 generated requests, each signed by both: every header signing sets must be identical.
/// Paths with dot and empty segments, reserved and percent-encoded characters, queries with
/// repeated, unsorted, empty and `+` parameters, repeated and space-padded header fields, the
/// headers SigV4 leaves unsigned, stale signing headers, session tokens, every profile.
#[test]
fn signatures_match_aws_sigv4_on_generated_requests() {
    const SEGMENTS: &[&str] = &[
        "a",
        "b",
        "..",
        ".",
        "",
        "x%20y",
        "%2F",
        "caf%C3%A9",
        "a:b",
        "a@b",
        "~t",
        "a+b",
        "(x)",
        "*",
        "!",
        "$",
        "'",
        "=",
        ";",
        ",",
        "A-Z_0.9",
        "%25",
    ];
    const QUERY: &[&str] = &[
        "a=1",
        "b=2",
        "a=0",
        "A=1",
        "utm_source=x",
        "x%20y=z",
        "k+v=a+b",
        "%2B=%2b",
        "flag",
        "e=",
        "=v",
        "a=b=c",
        "",
        "~=%7E",
        "s=%E2%9C%93",
        "p=a/b",
    ];
    const HEADERS: &[(&str, &str)] = &[
        ("x-verge-user", "u1"),
        ("content-type", "application/json"),
        ("accept", "  */*  "),
        ("x-multi", "a"),
        ("x-multi", " b  c "),
        ("user-agent", "wrk"),
        ("x-amzn-trace-id", "Root=1-abc"),
        ("host", "h.test:8080"),
        ("x-amz-date", "20000101T000000Z"),
        ("x-custom", "a   b  c"),
        ("transfer-encoding", "chunked"),
        ("x-amz-content-sha256", "stale"),
        ("x-amz-security-token", "stale"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("x-tab", "a\tb"),
        ("authorization", "Bearer old"),
    ];
    const HOSTS: &[&str] =
        &["http://o.test", "http://127.0.0.1:8081", "http://example.com:80", "https://s3.example:443", "https://bucket.s3.amazonaws.com"];
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut verified_cases = 0;
    for case in 0..4000 {
        let mut path = String::new();
        for _ in 0..(g.next() % 5) {
            path.push('/');
            path.push_str(g.pick(SEGMENTS));
        }
        if path.is_empty() || g.chance(4) {
            path.push('/');
        }
        let mut uri = format!("{}{path}", g.pick(HOSTS));
        if !g.chance(3) {
            uri.push('?');
            let n = g.next() % 4;
            let parts: Vec<&str> = (0..n).map(|_| g.pick(QUERY)).collect();
            uri.push_str(&parts.join("&"));
        }
        let method = g.pick(&["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]);
        let mut b = Request::builder().method(method).uri(&uri);
        for _ in 0..(g.next() % 6) {
            let (k, v) = g.pick(HEADERS);
            b = b.header(k, v);
        }
        let body = if g.chance(2) { Vec::new() } else { format!("{{\"case\":{case}}}").into_bytes() };
        let mut ours = b.body(body).unwrap();
        // The origin checks Host and the session token against its own values, not the request's.
        let verifiable = !ours.headers().contains_key("host") && !ours.headers().contains_key("x-amz-security-token");
        let mut theirs = ours.clone();
        let token = g.chance(3).then(|| "session/token+=".to_owned());
        let creds = Credentials::new("AKIDGEN", "generated/secret+key", token);
        let scope =
            Scope { region: g.pick(&["us-east-1", "eu-west-3"]).into(), service: g.pick(&["execute-api", "s3", "dynamodb"]).into() };
        let profile = g.pick(&[Profile::S3, Profile::Api, Profile::DynamoDb]);
        let now = at(946_684_800 + g.next() % 3_155_760_000);
        sign(&mut ours, &creds, &scope, profile, now).unwrap();
        reference_sign(&mut theirs, &creds, &scope, profile, now);
        assert_eq!(ours.headers(), theirs.headers(), "case {case}: {method} {uri} {profile:?}");

        // What the origin verifies: the path exactly as sent, so only already-normal paths.
        let normal = !path.split('/').skip(1).any(|s| matches!(s, "" | "." | "..")) || path == "/";
        if profile == Profile::Api && normal && verifiable && ours.uri().scheme_str() == Some("http") && ours.uri().port_u16() != Some(80) {
            let host = ours.uri().authority().unwrap().as_str().to_owned();
            let pq = ours.uri().path_and_query().unwrap().as_str().to_owned();
            let verified = verify(ours.method(), &host, &pq, ours.headers(), ours.body(), &|_| Some(creds.clone()), &scope, now);
            assert!(verified.is_ok(), "case {case}: {method} {uri}: {verified:?}");
            verified_cases += 1;
        }
    }
    assert!(verified_cases > 150, "only {verified_cases} cases reached the verifier");
}

#[test]
fn the_derived_key_follows_the_day_region_and_service() {
    // One Credentials signs across midnight and for two scopes: each signature must be the one a
    // fresh derivation gives, never a key kept from another day or scope.
    let creds = creds();
    let other = Scope { region: "eu-west-1".into(), service: "s3".into() };
    for (t, s) in
        [(at(1_800_000_000), scope()), (at(1_800_086_400), scope()), (at(1_800_086_401), other.clone()), (at(1_800_000_000), scope())]
    {
        let mut a = Request::get("http://o.test/x").body(Vec::new()).unwrap();
        let mut b = a.clone();
        sign(&mut a, &creds, &s, Profile::Api, t).unwrap();
        reference_sign(&mut b, &creds, &s, Profile::Api, t);
        assert_eq!(a.headers()["authorization"], b.headers()["authorization"]);
    }
}
