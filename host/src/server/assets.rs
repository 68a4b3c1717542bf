//! The chat page's files (`web/`), built, precompressed and embedded by
//! `host/build/web_build.rs`, and the responses that serve them: brotli or
//! gzip when the request accepts it, `304` when the browser has them.

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, REFERRER_POLICY, VARY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{Response, StatusCode};

/// One embedded file of the page.
#[derive(Debug)]
pub struct WebAsset {
    /// Its URL path, such as `/app.js`.
    pub path: &'static str,
    /// Its `content-type`.
    pub mime: &'static str,
    /// A strong validator: a quoted hash of `raw`.
    pub etag: &'static str,
    /// The file as is.
    pub raw: &'static [u8],
    /// Gzipped; empty when that would not be smaller.
    pub gzip: &'static [u8],
    /// Brotli-compressed; empty when that would not be smaller.
    pub brotli: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Browsers must ask again for these on every load (`no-cache`): the page
/// names the versions of the other files (`?v=BUILD`), and a new service
/// worker must be found.
const REVALIDATED: &[&str] = &["/index.html", "/sw.js", "/manifest.webmanifest"];
/// The other files may be kept for a day without asking.
const MAX_AGE: &str = "public, max-age=86400";

/// The asset at `path`; `/` is `index.html`. A query or fragment is ignored.
pub fn lookup(path: &str) -> Option<&'static WebAsset> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = match path {
        "" | "/" => "/index.html",
        p => p,
    };
    WEB_ASSETS.iter().find(|a| a.path == path)
}

/// A content coding the server can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The `content-encoding` value, none for identity.
    fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }
}

/// The q-value `accept_encoding` gives `coding` (an explicit entry, else
/// `*`, else not acceptable: 0).
fn quality(accept_encoding: &str, coding: &str) -> f32 {
    let mut star = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("q")).then(|| v.trim().parse::<f32>().ok())?
            })
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q;
        }
        if name == "*" {
            star = Some(q);
        }
    }
    star.unwrap_or(0.0)
}

/// The coding to send `asset` with: the best-rated of brotli and gzip that
/// the request accepts and that exists for the asset (brotli on a tie),
/// else identity.
pub fn negotiate(asset: &WebAsset, accept_encoding: Option<&str>) -> Encoding {
    let Some(accept) = accept_encoding else {
        return Encoding::Identity;
    };
    let br = if asset.brotli.is_empty() {
        0.0
    } else {
        quality(accept, "br")
    };
    let gz = if asset.gzip.is_empty() {
        0.0
    } else {
        quality(accept, "gzip").max(quality(accept, "x-gzip"))
    };
    if br > 0.0 && br >= gz {
        Encoding::Brotli
    } else if gz > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// True when `if_none_match` lists `etag` (weak comparison, as RFC 9110
/// asks for `If-None-Match`) or is `*`.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// Whether `path` is one of the page's files.
pub fn is_asset(path: &str) -> bool {
    lookup(path).is_some()
}

/// The response for `path`, or `None` when no asset is there.
pub fn respond(
    path: &str,
    accept_encoding: Option<&str>,
    if_none_match: Option<&str>,
) -> Option<Response<Bytes>> {
    let asset = lookup(path)?;
    let cache = if REVALIDATED.contains(&asset.path) {
        "no-cache"
    } else {
        MAX_AGE
    };
    let builder = Response::builder()
        .header(ETAG, asset.etag)
        .header(CACHE_CONTROL, cache)
        .header(VARY, "accept-encoding");
    if if_none_match.is_some_and(|inm| matches(inm, asset.etag)) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Bytes::new())
            .ok();
    }
    let encoding = negotiate(asset, accept_encoding);
    let body = match encoding {
        Encoding::Brotli => asset.brotli,
        Encoding::Gzip => asset.gzip,
        Encoding::Identity => asset.raw,
    };
    let mut builder = builder
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, asset.mime)
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(coding) = encoding.header() {
        builder = builder.header(CONTENT_ENCODING, coding);
    }
    if asset.mime.starts_with("text/html") {
        // The page holds the token: nobody may frame it or learn its URL.
        builder = builder
            .header(X_FRAME_OPTIONS, "DENY")
            .header(REFERRER_POLICY, "no-referrer");
    }
    builder.body(Bytes::from_static(body)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    static SAMPLE: WebAsset = WebAsset {
        path: "/x.js",
        mime: "text/javascript; charset=utf-8",
        etag: "\"abc\"",
        raw: b"raw",
        gzip: b"gz",
        brotli: b"br",
    };

    #[test]
    fn encoding_negotiation() {
        let n = |ae| negotiate(&SAMPLE, ae);
        assert_eq!(n(None), Encoding::Identity);
        assert_eq!(n(Some("")), Encoding::Identity);
        assert_eq!(n(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(n(Some("gzip, deflate")), Encoding::Gzip);
        assert_eq!(n(Some("GZIP")), Encoding::Gzip);
        assert_eq!(n(Some("x-gzip")), Encoding::Gzip);
        assert_eq!(n(Some("br;q=0, gzip")), Encoding::Gzip);
        assert_eq!(n(Some("br;q=0.5, gzip;q=0.8")), Encoding::Gzip);
        assert_eq!(n(Some("br; q=0.8, gzip;q=0.8")), Encoding::Brotli);
        assert_eq!(n(Some("*")), Encoding::Brotli);
        assert_eq!(n(Some("*;q=0, identity")), Encoding::Identity);
        assert_eq!(n(Some("identity")), Encoding::Identity);
        assert_eq!(n(Some("deflate")), Encoding::Identity);
    }

    #[test]
    fn missing_encodings_are_not_offered() {
        static PNG: WebAsset = WebAsset {
            path: "/i.png",
            mime: "image/png",
            etag: "\"p\"",
            raw: b"png",
            gzip: b"",
            brotli: b"",
        };
        assert_eq!(negotiate(&PNG, Some("br, gzip")), Encoding::Identity);
        static GZ_ONLY: WebAsset = WebAsset { brotli: b"", ..PNG };
        assert_eq!(negotiate(&GZ_ONLY, Some("br, gzip")), Encoding::Identity);
        static WITH_GZ: WebAsset = WebAsset {
            gzip: b"g",
            brotli: b"",
            ..PNG
        };
        assert_eq!(negotiate(&WITH_GZ, Some("br, gzip")), Encoding::Gzip);
    }

    #[test]
    fn etag_matching() {
        assert!(matches("\"abc\"", "\"abc\""));
        assert!(matches("W/\"abc\"", "\"abc\""));
        assert!(matches("\"x\", \"abc\"", "\"abc\""));
        assert!(matches("*", "\"abc\""));
        assert!(!matches("\"abcd\"", "\"abc\""));
        assert!(!matches("abc", "\"abc\""));
    }

    #[test]
    fn the_page_is_embedded() {
        for path in [
            "/index.html",
            "/app.js",
            "/app_bg.wasm",
            "/app.css",
            "/manifest.webmanifest",
            "/sw.js",
            "/icon.svg",
        ] {
            let asset = lookup(path).unwrap_or_else(|| panic!("{path} is not embedded"));
            assert!(!asset.raw.is_empty(), "{path} is empty");
            assert!(asset.etag.starts_with('"') && asset.etag.ends_with('"'));
        }
        assert_eq!(lookup("/").unwrap().path, "/index.html");
        assert_eq!(lookup("/?x=1").unwrap().path, "/index.html");
        assert_eq!(lookup("/app.js?v=123").unwrap().path, "/app.js");
        assert!(lookup("/nope").is_none());
        assert!(lookup("/../Cargo.toml").is_none());
        assert_eq!(lookup("/app_bg.wasm").unwrap().mime, "application/wasm");
        let index = std::str::from_utf8(lookup("/").unwrap().raw).unwrap();
        assert!(
            !index.contains("__BUILD_ID__"),
            "the build id was not stamped"
        );
    }

    #[test]
    fn responds_compressed_with_validators() {
        let r = respond("/", Some("gzip, br"), None).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert_eq!(h[CONTENT_ENCODING], "br");
        assert_eq!(h[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[VARY], "accept-encoding");
        assert_eq!(h[CACHE_CONTROL], "no-cache");
        assert_eq!(h[X_FRAME_OPTIONS], "DENY");
        let index = lookup("/index.html").unwrap();
        assert_eq!(h[ETAG], index.etag);
        assert_eq!(r.body().as_ref(), index.brotli);

        let r = respond("/app_bg.wasm", Some("gzip"), None).unwrap();
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[CACHE_CONTROL], MAX_AGE);
        assert_eq!(r.body().as_ref(), lookup("/app_bg.wasm").unwrap().gzip);

        let r = respond("/app.css", None, None).unwrap();
        assert!(r.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(r.body().as_ref(), lookup("/app.css").unwrap().raw);
        assert!(respond("/missing.js", None, None).is_none());
    }

    #[test]
    fn not_modified_when_the_etag_matches() {
        let etag = lookup("/app.js").unwrap().etag;
        let r = respond("/app.js", Some("br"), Some(etag)).unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(r.body().is_empty());
        assert_eq!(r.headers()[ETAG], etag);
        assert_eq!(r.headers()[VARY], "accept-encoding");
        assert!(r.headers().get(CONTENT_ENCODING).is_none());
        let r = respond("/app.js", Some("br"), Some("\"stale\"")).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn compressed_forms_are_smaller_and_well_formed() {
        for asset in WEB_ASSETS {
            if !asset.gzip.is_empty() {
                assert!(asset.gzip.len() < asset.raw.len(), "{}", asset.path);
                // The gzip magic, and the trailer's size of the input.
                assert_eq!(&asset.gzip[..2], &[0x1f, 0x8b], "{}", asset.path);
                let size: [u8; 4] = asset.gzip[asset.gzip.len() - 4..].try_into().unwrap();
                assert_eq!(
                    u32::from_le_bytes(size) as usize,
                    asset.raw.len(),
                    "{}",
                    asset.path
                );
            }
            if !asset.brotli.is_empty() {
                assert!(asset.brotli.len() < asset.raw.len(), "{}", asset.path);
            }
        }
        let wasm = lookup("/app_bg.wasm").unwrap();
        assert!(!wasm.brotli.is_empty() && !wasm.gzip.is_empty());
    }
}
