//! Static assets compiled into the binary and served under content-hashed names
//! (`/static/app.<hash>.css`), so they can be cached for a year: a changed file is a new name.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;

struct Asset {
    /// `app.<hash>.css`
    name: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

fn asset(stem: &str, ext: &str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    let hash = sha2::Sha256::digest(bytes);
    Asset {
        name: format!("{stem}.{}.{ext}", &hex(&hash)[..12]),
        content_type,
        bytes,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static CSS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("static/app.css"),
    )
});
static JS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/app.js"),
    )
});

static ICON: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "icon",
        "svg",
        "image/svg+xml",
        include_bytes!("static/icon.svg"),
    )
});

/// The site icon's URL.
pub fn icon_url() -> String {
    format!("/static/{}", ICON.name)
}

/// The stylesheet's URL.
pub fn css_url() -> String {
    format!("/static/{}", CSS.name)
}

/// The script's URL.
pub fn js_url() -> String {
    format!("/static/{}", JS.name)
}

/// `GET /static/{name}`: only the current hashed names exist.
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(a) = [&*CSS, &*JS, &*ICON].into_iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        a.bytes,
    )
        .into_response()
}
