// The playback edge: verifies videoctl's playback tokens and serves the ladder they open from
// the R2 bucket, through the edge cache, keyed by the object's path without the token, so every
// viewer of a lecture shares one cached copy.
//
//   GET|HEAD /t/{token}/videos/{id}/hls/{job}-{n}/{file}
//
// 403 for a bad or expired token (or a path outside its ladder), 404 for a missing object; a
// prefix is never listed. Bindings (wrangler.toml): BUCKET (R2), PLAYBACK_KEYS (a secret,
// KID:SECRET,… as VIDEOCTL_PLAYBACK_KEYS), PLAYBACK_ORIGINS, PLAYBACK_MAX_EXPIRY_SECONDS.

import {DEFAULT_MAX_LIFETIME_S, Refused, parseKeys, splitRequest, verify} from "./token.js";

const CONTENT_TYPES = {
  m3u8: "application/vnd.apple.mpegurl",
  mpd: "application/dash+xml",
  m4s: "video/iso.segment",
  mp4: "video/mp4",
  m4a: "audio/mp4",
  ts: "video/mp2t",
  aac: "audio/aac",
  vtt: "text/vtt; charset=utf-8",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
};
// Manifests are read once per playback and name everything else: kept short at the edge, so a
// deleted video stops playing within a minute. Segments, init segments, images, captions and the
// MP4 never change under their key (each encode writes a new prefix): cached for a year.
const MANIFESTS = new Set(["m3u8", "mpd"]);
const SHORT = "public, max-age=60";
const IMMUTABLE = "public, max-age=31536000, immutable";
const EXPOSED = "Content-Length, Content-Range, Accept-Ranges, ETag";

let keyring = null;
let keyringSource = null;

function keysOf(env) {
  if (keyring === null || keyringSource !== env.PLAYBACK_KEYS) {
    keyring = parseKeys(env.PLAYBACK_KEYS);
    keyringSource = env.PLAYBACK_KEYS;
  }
  return keyring;
}

export default {
  async fetch(request, env, ctx) {
    const origin = allowedOrigin(request, env);
    try {
      const response = await handle(request, env, ctx, origin);
      return withCors(response, origin);
    } catch (error) {
      // Never the keys or the stack: the reason, for the operator's logs.
      console.error(JSON.stringify({error: String(error && error.message || error).slice(0, 200)}));
      return withCors(plain(500, "the playback edge failed; see its logs"), origin);
    }
  },
};

async function handle(request, env, ctx, origin) {
  if (request.method === "OPTIONS") return preflight(request, origin);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return plain(405, "only GET and HEAD", {Allow: "GET, HEAD, OPTIONS"});
  }
  const url = new URL(request.url);
  let grant;
  try {
    const [token, rest] = splitRequest(url.pathname);
    const maxLifetime = Number(env.PLAYBACK_MAX_EXPIRY_SECONDS || DEFAULT_MAX_LIFETIME_S);
    grant = await verify(token, rest, keysOf(env), Math.floor(Date.now() / 1000), maxLifetime);
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    if (error.reason === "malformed" && !url.pathname.startsWith("/t/")) return plain(404, "not found");
    return json(403, {error: "forbidden", reason: error.reason});
  }
  if (/\.(m3u8|mpd)$/.test(grant.key) && grant.key.split("/").length === grant.prefix.split("/").length) {
    // The master or the MPD: once per playback, the line that traces a leaked link to its viewer.
    console.log(JSON.stringify({viewer: grant.viewer, kid: grant.kid, prefix: grant.prefix,
                                country: request.cf && request.cf.country}));
  }
  return serve(request, env, ctx, grant.key, url.origin);
}

function preflight(request, origin) {
  if (origin === null) return plain(403, "origin not allowed");
  const asked = (request.headers.get("Access-Control-Request-Headers") || "").toLowerCase();
  const allowed = asked.split(",").map((h) => h.trim()).filter((h) => ["range", "if-none-match", "if-range"].includes(h));
  return new Response(null, {status: 204, headers: {
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": allowed.join(", ") || "Range",
    "Access-Control-Max-Age": "86400",
  }});
}

async function serve(request, env, ctx, key, base) {
  const cache = caches.default;
  // The cache key is the object's path without the token: one copy for every viewer.
  const cacheKey = new Request(new URL("/" + key.split("/").map(encodeURIComponent).join("/"), base).toString());
  const head = request.method === "HEAD";
  const range = request.headers.get("Range");
  const cached = await cache.match(cacheKey);
  if (cached) {
    const size = Number(cached.headers.get("Content-Length"));
    const etag = cached.headers.get("ETag");
    const answer = conditional(request, etag, cached.headers, "hit");
    if (answer) {
      cached.body && cached.body.cancel();
      return answer;
    }
    const wanted = rangeOf(request, etag, size);
    if (wanted === "unsatisfiable") {
      cached.body && cached.body.cancel();
      return unsatisfiable(size, cached.headers, "hit");
    }
    if (wanted) {
      cached.body && cached.body.cancel();
      const part = await cache.match(new Request(cacheKey.url, {headers: {Range: `bytes=${wanted.start}-${wanted.end}`}}));
      if (part && part.status === 206) return partial(head ? null : part.body, wanted, size, cached.headers, "hit");
      return fromBucket(request, env, ctx, key, cacheKey, range);
    }
    return respond(head ? null : cached.body, 200, cached.headers, "hit");
  }
  return fromBucket(request, env, ctx, key, cacheKey, range);
}

async function fromBucket(request, env, ctx, key, cacheKey, range) {
  const head = request.method === "HEAD";
  // A whole GET is one read of R2 (its body fills the cache); HEAD and ranges look first.
  const object = head || range ? await env.BUCKET.head(key) : await env.BUCKET.get(key);
  if (object === null) return plain(404, "not found");
  const headers = objectHeaders(key, object);
  const fillFromBody = () => {
    const [forViewer, forCache] = object.body.tee();
    ctx.waitUntil(cachePut(cacheKey, new Response(forCache, {headers})).catch(() => {}));
    return forViewer;
  };
  const answer = conditional(request, object.httpEtag, headers, "miss");
  if (answer) {
    if (object.body) ctx.waitUntil(cachePut(cacheKey, new Response(object.body, {headers})).catch(() => {}));
    return answer;
  }
  if (head) return respond(null, 200, headers, "miss");
  const wanted = range ? rangeOf(request, object.httpEtag, object.size) : null;
  if (wanted === "unsatisfiable") return unsatisfiable(object.size, headers, "miss");
  if (wanted) {
    const part = await env.BUCKET.get(key, {range: {offset: wanted.start, length: wanted.end - wanted.start + 1}});
    if (part === null) return plain(404, "not found");
    // A part cannot be cached; the whole object is, once, for the viewers after this one.
    ctx.waitUntil(fill(env, key, cacheKey).catch(() => {}));
    return partial(part.body, wanted, object.size, headers, "miss");
  }
  if (range) {  // a Range we do not serve as such (several ranges, another version): the whole object
    const whole = await env.BUCKET.get(key);
    if (whole === null) return plain(404, "not found");
    const [forViewer, forCache] = whole.body.tee();
    ctx.waitUntil(cachePut(cacheKey, new Response(forCache, {headers})).catch(() => {}));
    return respond(forViewer, 200, headers, "miss");
  }
  return respond(fillFromBody(), 200, headers, "miss");
}

async function fill(env, key, cacheKey) {
  const object = await env.BUCKET.get(key);
  if (object !== null) await cachePut(cacheKey, new Response(object.body, {headers: objectHeaders(key, object)}));
}

function cachePut(cacheKey, response) {
  return caches.default.put(cacheKey, response);
}

function objectHeaders(key, object) {
  const extension = key.slice(key.lastIndexOf(".") + 1).toLowerCase();
  return new Headers({
    "Content-Type": CONTENT_TYPES[extension] || "application/octet-stream",
    "Content-Length": String(object.size),
    "ETag": object.httpEtag,
    "Cache-Control": MANIFESTS.has(extension) ? SHORT : IMMUTABLE,
    "Accept-Ranges": "bytes",
  });
}

/** 304 when If-None-Match names the object's ETag (weak comparison), else null. */
function conditional(request, etag, headers, cacheState) {
  const ifNoneMatch = request.headers.get("If-None-Match");
  if (!ifNoneMatch || !etag) return null;
  const bare = (tag) => tag.trim().replace(/^W\//, "");
  const matches = ifNoneMatch.trim() === "*" || ifNoneMatch.split(",").some((tag) => bare(tag) === bare(etag));
  if (!matches) return null;
  const kept = new Headers({"ETag": etag, "Cache-Control": headers.get("Cache-Control")});
  return respond(null, 304, kept, cacheState);
}

/** The one byte range asked for, "unsatisfiable", or null to send the whole object (no Range, an
 *  If-Range for another version, several ranges, or a header we cannot read: RFC 9110 lets a
 *  server ignore those). */
function rangeOf(request, etag, size) {
  const header = request.headers.get("Range");
  if (!header) return null;
  const ifRange = request.headers.get("If-Range");
  if (ifRange && ifRange.trim() !== etag) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null || (match[1] === "" && match[2] === "")) return null;
  let start, end;
  if (match[1] === "") {  // the last N bytes
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== "" && Number(match[2]) < start) return null;
  }
  if (start >= size || size === 0) return "unsatisfiable";
  return {start, end};
}

function partial(body, wanted, size, headers, cacheState) {
  const out = new Headers(headers);
  out.set("Content-Range", `bytes ${wanted.start}-${wanted.end}/${size}`);
  out.set("Content-Length", String(wanted.end - wanted.start + 1));
  return respond(body, 206, out, cacheState);
}

function unsatisfiable(size, headers, cacheState) {
  const out = new Headers({"Content-Range": `bytes */${size}`, "Content-Type": "text/plain; charset=utf-8",
                           "Cache-Control": "no-store"});
  return respond("requested range not satisfiable\n", 416, out, cacheState);
}

function respond(body, status, headers, cacheState) {
  const out = new Headers(headers);
  out.set("x-videoctl-cache", cacheState);
  return new Response(body, {status, headers: out});
}

function plain(status, text, extra = {}) {
  return new Response(text + "\n", {status, headers: {
    "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...extra}});
}

function json(status, document) {
  return new Response(JSON.stringify(document) + "\n", {status, headers: {
    "Content-Type": "application/json", "Cache-Control": "no-store"}});
}

/** The request's Origin if PLAYBACK_ORIGINS lets it play ("*": every origin), else null. */
function allowedOrigin(request, env) {
  const origin = request.headers.get("Origin");
  if (!origin) return null;
  const allowed = String(env.PLAYBACK_ORIGINS || "").split(",").map((o) => o.trim()).filter(Boolean);
  return allowed.includes("*") || allowed.includes(origin) ? origin : null;
}

function withCors(response, origin) {
  const out = new Response(response.body, response);
  // What a browser keeps of a response depends on the Origin it sent: said on every answer.
  out.headers.append("Vary", "Origin");
  if (origin !== null) {
    out.headers.set("Access-Control-Allow-Origin", origin);
    out.headers.set("Access-Control-Expose-Headers", EXPOSED);
  }
  return out;
}
