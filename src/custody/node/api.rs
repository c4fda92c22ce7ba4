//! The HTTP API custody products call (axum). Every route but
//! `/v1/health` and `/openapi.json` needs `Authorization: Bearer TOKEN`
//! with a token whose SHA-256 the configuration lists; the comparison runs
//! in constant time over every configured token. `GET /openapi.json`
//! describes the API (OpenAPI 3.1).

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::coordinate::Who;
use super::*;

/// The authenticated API client's name.
#[derive(Clone, Debug)]
struct Client(String);

type Shared = Arc<Node>;

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// The routes.
pub(super) fn router(node: Shared) -> Router {
    let authed = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/keys", get(list_keys).post(create_key))
        .route("/v1/keys/{id}", get(get_key))
        .route("/v1/keys/{id}/sign", post(sign))
        .route("/v1/keys/{id}/refresh", post(refresh))
        .route("/v1/requests/{id}", get(get_request))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(node.clone(), auth));
    Router::new()
        .route("/v1/health", get(health))
        .route("/openapi.json", get(openapi))
        .merge(authed)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route (see /openapi.json)") })
        .with_state(node)
}

impl Node {
    /// The client whose token this is, comparing with every configured
    /// token in constant time.
    fn client_for(&self, token: &str) -> Option<String> {
        let h = token_hash(token);
        let mut found = None;
        for t in &self.cfg.tokens {
            if bool::from(h.ct_eq(&t.sha256)) {
                found = Some(t.name.clone());
            }
        }
        found
    }
}

async fn auth(State(node): State<Shared>, mut req: Request, next: Next) -> Response {
    let client = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| node.client_for(t.trim()));
    match client {
        Some(name) => {
            req.extensions_mut().insert(Client(name));
            next.run(req).await
        }
        None => {
            node.metrics.unauthorized();
            warn!(path = %req.uri().path(), "API call without a valid token refused");
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required (Authorization: Bearer TOKEN)",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        }
    }
}

async fn health(State(node): State<Shared>) -> Response {
    Json(json!({"status": "ok", "node": node.cfg.name})).into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn status(State(node): State<Shared>) -> Response {
    let mut v = node.status_base();
    let peers: Vec<Value> = node
        .ping_all()
        .await
        .into_iter()
        .map(|(name, r)| match r {
            Ok(keys) => json!({"node": name, "reachable": true, "keys": keys.len()}),
            Err(e) => json!({"node": name, "reachable": false, "error": e}),
        })
        .collect();
    v["peers"] = json!(peers);
    v["pending_requests"] = json!(node.pending());
    Json(v).into_response()
}

async fn list_keys(State(node): State<Shared>) -> Response {
    let keys: Vec<Value> = node.keys.all().iter().map(|k| k.summary()).collect();
    Json(json!({ "keys": keys })).into_response()
}

async fn get_key(State(node): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match node.keys.get(&id) {
        Some(k) => Json(k.summary()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no key `{id}`")),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("request body: {e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeygenBody {
    threshold: u16,
    #[serde(default)]
    wait: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignBody {
    scheme: Scheme,
    digest: String,
    #[serde(default = "root_path")]
    path: String,
    asset: String,
    amount: String,
    destination: String,
    signers: Option<Vec<String>>,
    #[serde(default)]
    wait: bool,
}

fn root_path() -> String {
    "m".into()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    #[serde(default)]
    wait: bool,
}

/// Logs the request (blocking: the log syncs), opens its record, starts
/// it, and answers with the record: at once (202), or once it ended with
/// `wait` (200).
async fn begin(
    node: Shared,
    client: &str,
    key: Option<String>,
    body: Value,
    job: Job,
    who: Who,
    wait: bool,
) -> Response {
    let kind = job.kind();
    let id = match node.open_record(kind, client, key.clone(), body.clone()) {
        Ok(id) => id,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let entry = json!({"request": id, "kind": kind, "client": client, "key": key, "body": body});
    let n2 = node.clone();
    let logged = tokio::task::spawn_blocking(move || n2.audit("request", entry)).await;
    if let Err(e) = logged.map_err(|e| e.to_string()).and_then(|r| r) {
        node.update_failed(&id, &e);
        return error(StatusCode::SERVICE_UNAVAILABLE, e);
    }
    info!(request = %id, %kind, %client, "request accepted");
    node.start(id.clone(), job, who);
    let record = if wait {
        let limit = node.cfg.timeout * (6 * node.cfg.attempts) + Duration::from_secs(10);
        node.wait_record(&id, limit).await
    } else {
        node.record_of(&id)
    };
    match record {
        Some(r) if r.is_final() => (StatusCode::OK, Json(r)).into_response(),
        Some(r) => (StatusCode::ACCEPTED, Json(r)).into_response(),
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request record is gone",
        ),
    }
}

async fn create_key(
    State(node): State<Shared>,
    Extension(Client(client)): Extension<Client>,
    body: Bytes,
) -> Response {
    let b: KeygenBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let n = node.cfg.parties.list().len();
    if b.threshold < 2 || usize::from(b.threshold) > n {
        return error(
            StatusCode::BAD_REQUEST,
            format!("threshold must be from 2 to {n} (the number of nodes)"),
        );
    }
    let facts = json!({"threshold": b.threshold});
    begin(
        node,
        &client,
        None,
        facts,
        Job::Keygen {
            threshold: b.threshold,
        },
        Who::All,
        b.wait,
    )
    .await
}

async fn sign(
    State(node): State<Shared>,
    Extension(Client(client)): Extension<Client>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let b: SignBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Some(key) = node.keys.get(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no key `{id}`"));
    };
    if [&b.path, &b.asset, &b.amount, &b.destination]
        .iter()
        .any(|f| f.len() > super::ceremony::MAX_FIELD)
        || b.signers
            .as_ref()
            .is_some_and(|v| v.len() > node.cfg.parties.list().len())
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "path, asset, amount and destination are at most {} bytes; signers at most the \
                 nodes",
                super::ceremony::MAX_FIELD
            ),
        );
    }
    if unhex(&b.digest).is_none_or(|d| d.len() != 32) {
        return error(StatusCode::BAD_REQUEST, "digest must be 32 bytes, hex");
    }
    if let Err(e) = b.path.parse::<DerivationPath>() {
        return error(StatusCode::BAD_REQUEST, format!("path: {e}"));
    }
    if let Err(e) = b.amount.parse::<Amount>() {
        return error(StatusCode::BAD_REQUEST, format!("amount: {e}"));
    }
    let who = match &b.signers {
        None => Who::Policy,
        Some(names) => {
            let mut idx = Vec::new();
            for n in names {
                match node.index_of(n) {
                    Some(i) if !idx.contains(&i) => idx.push(i),
                    Some(_) => {
                        return error(StatusCode::BAD_REQUEST, format!("signer `{n}` named twice"));
                    }
                    None => return error(StatusCode::BAD_REQUEST, format!("no node `{n}`")),
                }
            }
            if idx.len() < usize::from(key.threshold()) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{} signers named for a key that needs {}",
                        idx.len(),
                        key.threshold()
                    ),
                );
            }
            idx.sort_unstable();
            Who::Named(idx)
        }
    };
    let job = SignJob {
        key: id.clone(),
        epoch: key.epoch(),
        scheme: b.scheme,
        digest: b.digest.to_ascii_lowercase(),
        path: b.path,
        asset: b.asset,
        amount: b.amount,
        destination: b.destination,
        client: client.clone(),
    };
    let facts = serde_json::to_value(&job).unwrap_or(Value::Null);
    begin(node, &client, Some(id), facts, Job::Sign(job), who, b.wait).await
}

async fn refresh(
    State(node): State<Shared>,
    Extension(Client(client)): Extension<Client>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let b: RefreshBody = if body.is_empty() {
        RefreshBody::default()
    } else {
        match parse(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        }
    };
    let Some(key) = node.keys.get(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no key `{id}`"));
    };
    let job = Job::Refresh {
        key: id.clone(),
        epoch: key.epoch(),
    };
    let facts = json!({"key": id, "epoch": key.epoch()});
    begin(node, &client, Some(id), facts, job, Who::All, b.wait).await
}

async fn get_request(State(node): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match node.record_of(&id) {
        Some(r) => Json(r).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!(
                "no request `{id}` on this node (requests are kept by the node that received them)"
            ),
        ),
    }
}

async fn metrics(State(node): State<Shared>) -> Response {
    let text = node.metrics.render(&[
        (
            "quorate_keys",
            "Keys this node holds a share of.",
            node.keys.all().len() as f64,
        ),
        (
            "quorate_ceremonies_in_flight",
            "Ceremonies running on this node.",
            node.in_flight.load(Ordering::Relaxed) as f64,
        ),
        (
            "quorate_requests_pending",
            "Requests this node coordinates that have not ended.",
            node.pending() as f64,
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
