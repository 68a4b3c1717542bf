// openpista's service worker: keeps the app shell so the page starts
// without a network (it then shows "offline" and retries). It never touches
// the WebSocket (/ws), its probe, or /health.
//
// The BUILD_ID placeholders are replaced by host/build/web_build.rs with a hash of the
// build, so a new build installs a new cache and drops the old one.
const CACHE = "openpista-__BUILD_ID__";
const SHELL = [
  "./",
  "index.html",
  "app.js?v=__BUILD_ID__",
  "app_bg.wasm?v=__BUILD_ID__",
  "app.css?v=__BUILD_ID__",
  "manifest.webmanifest",
  "icon.svg",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("openpista-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.endsWith("/ws") || url.pathname.endsWith("/health")) return;
  if (url.searchParams.has("v")) {
    // Versioned files never change: the cache first.
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  // Everything else, the page above all: the network first, so an update
  // shows at once; the cache when offline.
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && SHELL.includes(url.pathname.slice(1) || "./")) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(async () => {
        const hit = (await caches.match(request)) || (request.mode === "navigate" && (await caches.match("index.html")));
        return hit || Response.error();
      }),
  );
});
